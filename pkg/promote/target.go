package promote

import (
	"context"

	"github.com/ferry-dev/ferry/pkg/image"
)

// Source is where the promoted image comes from.
type Source interface {
	String() string
	// Resolve returns the image the source runs, pinned to a digest.
	Resolve(ctx context.Context) (image.Image, error)
}

// Target is a place the image is promoted to.
type Target interface {
	String() string
	// Snapshot records what the target runs now and how to put it back. It
	// must not change anything. want is the image about to be promoted: the
	// target sets Snapshot.UpToDate when it already runs it.
	Snapshot(ctx context.Context, want image.Image) (Snapshot, error)
	// Release makes the target run img. It is called only when the
	// snapshot was not UpToDate.
	Release(ctx context.Context, img image.Image) error
	// Verify waits until the release is healthy or has failed.
	Verify(ctx context.Context) error
	// Restore puts the target back to s, then waits until that has taken
	// effect.
	Restore(ctx context.Context, s Snapshot) error
}

// Snapshot is what a target ran at one moment, and the rollback point.
type Snapshot struct {
	// Image is the reference the target runs ("repo@sha256:..." or a tag);
	// several images are joined by ", " (one per container or process).
	Image string `json:"image"`
	// Revision is the platform's revision: a Deployment revision ("3") or a
	// Heroku release version ("v42").
	Revision string `json:"revision,omitempty"`
	// UpToDate is true when the target already runs the image to promote.
	UpToDate bool `json:"-"`
	// State is the target's own rollback data (a pod template, a release
	// id). The pipeline never looks inside.
	State any `json:"-"`
}

// Logger receives progress lines. target is the target's String, or "" for
// lines about the whole run. Implementations must be safe for concurrent use.
type Logger interface {
	Logf(target, format string, args ...any)
}

// LoggerFunc adapts a function to Logger.
type LoggerFunc func(target, format string, args ...any)

// Logf calls f.
func (f LoggerFunc) Logf(target, format string, args ...any) { f(target, format, args...) }

// Discard is a Logger that drops everything.
var Discard Logger = LoggerFunc(func(string, string, ...any) {})
