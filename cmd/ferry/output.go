package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
	"github.com/ferry-dev/ferry/pkg/report"
)

// output is where a run's lines and report go, and what keeps secrets out
// of them: the scrubber every printed string passes and, in GitHub
// Actions, the runner's masks.
type output struct {
	format string // text or json
	stdout io.Writer
	stderr io.Writer
	scrub  *redact.Set
	log    *report.LineLogger
	gh     *report.GitHub // nil outside GitHub Actions
	maskMu sync.Mutex     // credentials are minted side by side
}

// newOutput reads the secrets of s — the configured ones, and the
// credentials inside the kubeconfig (read from memory or disk, no API
// call) — and, in GitHub Actions, masks them before anything is printed.
// Credentials the run resolves or mints later are added with secret.
func newOutput(s config.Settings, stdout, stderr io.Writer) *output {
	o := &output{stdout: stdout, stderr: stderr}
	o.setFormat(s.Output)
	kc := kube.NewClients(kube.Kubeconfig{Paths: s.KubeconfigPaths(), Data: s.KubeconfigData, Home: s.Env.Get("HOME"), InCluster: s.Env.InCluster()})
	secrets, creds := s.Secrets(), append(kc.Secrets(), herokuRegistrySecrets(s)...)
	o.scrub = redact.NewSet(append(secrets, creds...)...)
	if s.Mode == config.ModeGitHub {
		o.gh = report.NewGitHub(s.Env.Get, stdout, o.scrub)
		// The runner masks line by line, so a multi-line secret (a
		// kubeconfig in YAML) is masked through the credentials inside
		// it, not its every ordinary line.
		o.gh.Mask(append(singleLine(secrets), creds...))
	}
	o.log = report.NewLineLogger(stderr, o.scrub)
	if s.Mode == config.ModeLocal && isTerminal(stderr) {
		o.log.TTY, o.log.Timestamps = true, true
	}
	return o
}

// secret hides a credential the run resolved or minted from everything
// printed from now on, and in GitHub Actions masks it in the job's log
// before it is used.
func (o *output) secret(v string) {
	added := o.scrub.Add(v)
	if o.gh != nil && len(added) > 0 {
		o.maskMu.Lock()
		defer o.maskMu.Unlock()
		o.gh.Mask(singleLine(added))
	}
}

// setFormat sets the report format; anything but json is text (a bad
// FERRY_OUTPUT is reported as such, in text).
func (o *output) setFormat(f string) {
	o.format = "text"
	if f == "json" {
		o.format = "json"
	}
}

// finish reports how cmd ended — with r, or only err when it ended before
// a report existed — everywhere reports go, and returns the exit code.
func (o *output) finish(cmd string, r *promote.Report, err error) int {
	if r == nil {
		r = promote.NewReport(cmd, nil)
	}
	if err != nil && r.Error == "" {
		_ = r.Fail(err)
	}
	if r.Outcome == "" {
		// A run that ended without saying how is not a success.
		r.Outcome = promote.OutcomeFailed
	}
	var werr error
	switch o.format {
	case "json":
		werr = report.JSON(o.stdout, r, o.scrub)
	default:
		werr = report.Text(o.stdout, r, o.scrub)
	}
	if o.gh != nil {
		werr = errors.Join(werr, o.gh.Write(r))
	}
	if werr != nil {
		fmt.Fprintf(o.stderr, "ferry: writing the report: %s\n", o.scrub.String(werr.Error()))
	}
	if err != nil {
		o.log.Logf("", "%s %s: %v", cmd, r.Outcome, err)
	}
	return exitCode(r.Outcome)
}

func exitCode(o promote.Outcome) int {
	switch o {
	case promote.OutcomePromoted, promote.OutcomeUnchanged, promote.OutcomePlanned, promote.OutcomeRolledBack, promote.OutcomeRecovered, promote.OutcomeSuperseded:
		return exitOK
	case promote.OutcomeBadInput:
		return exitBadInput
	case promote.OutcomeRestoreFailed:
		return exitRestoreFailed
	}
	return exitFailed
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// singleLine keeps the values that fit on one line.
func singleLine(values []string) []string {
	var out []string
	for _, v := range values {
		if !strings.ContainsAny(strings.TrimSpace(v), "\r\n") {
			out = append(out, v)
		}
	}
	return out
}
