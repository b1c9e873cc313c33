package promote

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/image"
)

// WithHealth adds an HTTP check to t's verification, for any kind of
// target: t's own verification first (a rollout, dynos up), then
// check.URL must answer healthy. A relative URL ("/healthz") is resolved
// against the Snapshot's URL (a Heroku app's web URL); one that cannot be
// is an input error at the snapshot, before anything changed.
func WithHealth(t Target, check health.Check, log Logger) Target {
	if log == nil {
		log = Discard
	}
	return &healthTarget{Target: t, check: check, log: log}
}

type healthTarget struct {
	Target
	check health.Check
	log   Logger
}

// Snapshot snapshots t and checks that the health URL resolves.
func (h *healthTarget) Snapshot(ctx context.Context, want image.Image) (Snapshot, error) {
	return h.resolves(h.Target.Snapshot(ctx, want))
}

// Mapping is t's container mapping (see Mapper).
func (h *healthTarget) Mapping() []ContainerMap { return mappingOf(h.Target) }

// SnapshotMapped snapshots a t that maps containers, and checks that the
// health URL resolves, as Snapshot does.
func (h *healthTarget) SnapshotMapped(ctx context.Context, imgs map[string]image.Image) (Snapshot, error) {
	m, ok := As[Mapper](h.Target)
	if !ok {
		return Snapshot{}, fmt.Errorf("%s maps no containers", h.Target)
	}
	return h.resolves(m.SnapshotMapped(ctx, imgs))
}

// resolves passes a snapshot on when the health URL resolves against it;
// one that does not is an input error, found before anything changed.
func (h *healthTarget) resolves(s Snapshot, err error) (Snapshot, error) {
	if err != nil {
		return s, err
	}
	if _, err := h.url(s); err != nil {
		return Snapshot{}, Input(err)
	}
	return s, nil
}

// Verify runs t's verification, then the HTTP check.
func (h *healthTarget) Verify(ctx context.Context, s Snapshot, c Change) error {
	if err := h.Target.Verify(ctx, s, c); err != nil {
		return err
	}
	url, err := h.url(s)
	if err != nil {
		return err
	}
	chk := h.check
	chk.URL = url
	if v := chk.Version; v != nil {
		// The answer must show what this release promoted.
		vv := *v
		vv.Accept = nil
		for _, digest := range changeDigests(c.Image) {
			vv.Accept = append(vv.Accept, health.Accepted(digest, "")...)
		}
		vv.Accept = append(vv.Accept, health.Accepted("", v.Commit)...)
		chk.Version = &vv
	}
	// health.Wait starts its lines with "health: " itself.
	if err := chk.Wait(ctx, func(format string, args ...any) { h.log.Logf(h.String(), format, args...) }); err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	return nil
}

// changeDigests are the digests a Change.Image names: one for an image
// ("repo@sha256:..."), one per container for a container mapping
// ("app=repo@sha256:..., proxy=repo@sha256:..."): the health URL may be
// served by any of them.
func changeDigests(image string) []string {
	var out []string
	for part := range strings.SplitSeq(image, mappedSep) {
		if _, digest, ok := strings.Cut(part, "@"); ok {
			out = append(out, digest)
		}
	}
	if len(out) == 0 {
		out = append(out, "")
	}
	return out
}

func (h *healthTarget) url(s Snapshot) (string, error) {
	return health.Resolve(s.URL, h.check.URL)
}

// Unwrap returns the decorated target.
func (h *healthTarget) Unwrap() Target { return h.Target }

var (
	_ Target  = (*healthTarget)(nil)
	_ Wrapper = (*healthTarget)(nil)
	_ Mapper  = (*healthTarget)(nil)
)
