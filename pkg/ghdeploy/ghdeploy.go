package ghdeploy

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/go-github/v75/github"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Options say where and what to record.
type Options struct {
	// APIURL is the REST API's root (GITHUB_API_URL)
	// [https://api.github.com].
	APIURL string
	// Token may write deployments (permissions: deployments: write).
	Token string
	// Repo is "owner/name" (GITHUB_REPOSITORY), Ref the commit
	// (GITHUB_SHA), Environment the deployment's environment.
	Repo, Ref, Environment string
	// LogURL is the run's page, the statuses' log URL.
	LogURL string
}

// maxAnswer bounds what is read of one of GitHub's answers: a deployment
// or a status is a few KiB.
const maxAnswer = 1 << 20

// requestTimeout bounds each request: a GitHub that does not answer
// delays the promotion by at most this, and never holds it up.
const requestTimeout = 15 * time.Second

// httpClient carries the requests, with ferry's cap on answers
// (package httpx). It has no retry layer: every request is a POST, and
// sending one twice could record a second Deployment or status.
func httpClient() *http.Client {
	return &http.Client{
		Transport: httpx.NewCap(nil, maxAnswer, httpx.Naming("GitHub's answer")),
		Timeout:   requestTimeout,
	}
}

// Deployment is a GitHub Deployment this run created.
type Deployment struct {
	gh          *github.Client
	owner, repo string
	id          int64
	o           Options
}

// Start creates the Deployment of o.Ref to o.Environment, its payload
// naming the image and digest, and gives it the status in_progress.
func Start(ctx context.Context, o Options, payload map[string]string, description string) (*Deployment, error) {
	owner, repo, ok := strings.Cut(o.Repo, "/")
	if !ok {
		return nil, fmt.Errorf("repository %q is not owner/name", o.Repo)
	}
	gh := github.NewClient(httpClient()).WithAuthToken(o.Token)
	if o.APIURL != "" {
		u, err := url.Parse(strings.TrimSuffix(o.APIURL, "/") + "/")
		if err != nil {
			return nil, fmt.Errorf("GITHUB_API_URL: %w", err)
		}
		gh.BaseURL = u
	}
	d, _, err := gh.Repositories.CreateDeployment(ctx, owner, repo, &github.DeploymentRequest{
		Ref:         github.Ptr(o.Ref),
		Task:        github.Ptr("deploy"),
		Environment: github.Ptr(o.Environment),
		Description: github.Ptr(clip(description)),
		Payload:     payload,
		// ferry promotes a commit that was built and tested; it must not
		// merge the default branch into it, nor wait for other checks.
		AutoMerge:        github.Ptr(false),
		RequiredContexts: &[]string{},
	})
	if err != nil {
		return nil, fmt.Errorf("creating a deployment of %s to %s in %s: %w", o.Ref, o.Environment, o.Repo, err)
	}
	dep := &Deployment{gh: gh, owner: owner, repo: repo, id: d.GetID(), o: o}
	return dep, dep.Set(ctx, "in_progress", "ferry is promoting")
}

// ID is the Deployment's id.
func (d *Deployment) ID() int64 { return d.id }

// Set adds a status.
func (d *Deployment) Set(ctx context.Context, state, description string) error {
	req := &github.DeploymentStatusRequest{State: github.Ptr(state), Description: github.Ptr(clip(description)), Environment: github.Ptr(d.o.Environment)}
	if d.o.LogURL != "" {
		req.LogURL = github.Ptr(d.o.LogURL)
	}
	if _, _, err := d.gh.Repositories.CreateDeploymentStatus(ctx, d.owner, d.repo, d.id, req); err != nil {
		return fmt.Errorf("setting deployment %d to %s: %w", d.id, state, err)
	}
	return nil
}

// State is the status a run with outcome ends its Deployment with:
// success when production runs the image (or already did), failure when
// the run failed and production was put back,
// error when a target needs a human, inactive when a newer release
// superseded this one.
func State(o promote.Outcome) string {
	switch o {
	case promote.OutcomePromoted, promote.OutcomeUnchanged:
		return "success"
	case promote.OutcomeSuperseded:
		return "inactive"
	case promote.OutcomeRestoreFailed:
		return "error"
	}
	return "failure"
}

// clip keeps a description within GitHub's 140 characters.
func clip(s string) string {
	r := []rune(s)
	if len(r) <= 140 {
		return s
	}
	return string(r[:139]) + "…"
}
