// Package ghdeploy records a promotion where teams look on GitHub, as a
// promote.Announcer: a Deployment of the commit to an environment, with
// the run's log as its log URL and the promoted image and digest in its
// payload, and statuses in_progress, then success, failure, error or
// inactive as the run ends (see State). It speaks the REST API through
// go-github, at GITHUB_API_URL (GitHub Enterprise Server included); each
// request may take 15 s and each answer 1 MiB, and none is sent twice.
package ghdeploy
