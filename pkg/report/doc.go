// Package report turns a promote.Report and the pipeline's progress lines
// into what people and CI systems read: log lines and a summary table for
// terminals and CircleCI, a JSON document, and GitHub Actions outputs, step
// summary and masks. Every string that leaves through this package passes a
// [redact.Secrets] first, so a secret that slipped into an error from a library
// still never reaches a log.
package report
