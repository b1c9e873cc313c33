package ghdeploy

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Announcer records a promotion as a GitHub Deployment: created
// in_progress when the run starts changing targets, its status set by
// State when the run ends. A Deployment that cannot be written is a
// warning in the log, never a failed promotion.
type Announcer struct {
	Options Options
	// Source and Targets go in the payload, with the image and digest.
	Source  string
	Targets string
	Logger  promote.Logger

	d *Deployment
}

var _ promote.Announcer = (*Announcer)(nil)

// Start creates the Deployment, in_progress. Its payload names the image
// and digest promoted and, with container mappings, each source
// container's image ("images": "app=repo@sha256:... sidecar=...").
func (a *Announcer) Start(ctx context.Context, r *promote.Report) {
	payload := map[string]string{"source": a.Source, "targets": a.Targets}
	var what []string
	if r.Image != "" {
		payload["image"], payload["digest"] = r.Image, r.Digest
		what = append(what, r.Image)
	}
	if pairs := r.ImagePairs(); len(pairs) > 0 {
		payload["images"] = strings.Join(pairs, " ")
		what = append(what, pairs...)
	}
	d, err := Start(ctx, a.Options, payload, "ferry promotes "+strings.Join(what, " "))
	if err != nil {
		a.Logger.Logf("", "WARNING: the GitHub Deployment was not recorded: %v", err)
		return
	}
	a.d = d
	a.Logger.Logf("", "GitHub Deployment %d of %s to %s: in_progress", d.ID(), short(a.Options.Ref), a.Options.Environment)
}

// End sets the Deployment's status from the run's outcome.
func (a *Announcer) End(ctx context.Context, r *promote.Report) {
	if a.d == nil || r == nil {
		return
	}
	state := State(r.Outcome)
	if err := a.d.Set(ctx, state, fmt.Sprintf("ferry: %s", r.Outcome)); err != nil {
		a.Logger.Logf("", "WARNING: the GitHub Deployment's status was not recorded: %v", err)
		return
	}
	a.Logger.Logf("", "GitHub Deployment %d: %s", a.d.ID(), state)
}

func short(sha string) string {
	if len(sha) > 12 {
		return sha[:12]
	}
	return sha
}
