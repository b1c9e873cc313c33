package main

import (
	"context"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/pkg/ghdeploy"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// deployment records a promotion as a GitHub Deployment
// (FERRY_GITHUB_ENVIRONMENT). It is a promote.SourceCheck that accepts
// every image: the pipeline calls it once the source is resolved (and
// after the other checks) and before any target is read, which is when
// the Deployment can name the digest. Recording is secondary to the
// promotion: a Deployment that cannot be written is a warning.
type deployment struct {
	a *app
	d *ghdeploy.Deployment
}

// Check creates the Deployment, in_progress.
func (h *deployment) Check(ctx context.Context, img image.Image) error {
	c := h.a.cfg.Deployments
	targets := make([]string, 0, len(h.a.cfg.Targets))
	for _, t := range h.a.cfg.Targets {
		targets = append(targets, t.String())
	}
	payload := map[string]string{"image": img.Ref(), "digest": img.Digest.String(), "source": h.a.cfg.Source.String(), "targets": strings.Join(targets, " ")}
	d, err := ghdeploy.Start(ctx, ghdeploy.Options{APIURL: c.APIURL, Token: c.Token, Repo: c.Repo, Ref: c.Ref, Environment: c.Environment, LogURL: h.a.cfg.CI.RunURL},
		payload, "ferry promotes "+img.Ref())
	if err != nil {
		h.a.log.Logf("", "WARNING: the GitHub Deployment was not recorded: %v", err)
		return nil
	}
	h.d = d
	h.a.log.Logf("", "GitHub Deployment %d of %s to %s: in_progress", d.ID(), short(c.Ref), c.Environment)
	return nil
}

// finish ends the Deployment as the run ended.
func (h *deployment) finish(ctx context.Context, r *promote.Report) {
	if h.d == nil || r == nil {
		return
	}
	state := ghdeploy.State(r.Outcome)
	// The run may be being cancelled: the status still goes out.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
	defer cancel()
	if err := h.d.Set(fctx, state, "ferry: "+string(r.Outcome)); err != nil {
		h.a.log.Logf("", "WARNING: the GitHub Deployment's status was not recorded: %v", err)
		return
	}
	h.a.log.Logf("", "GitHub Deployment %d: %s", h.d.ID(), state)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
