package promote

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/image"
)

// Source is where the promoted image comes from.
type Source interface {
	String() string
	// Resolve returns the image the source runs, pinned to a digest.
	Resolve(ctx context.Context) (image.Image, error)
}

// ContainerSource is a Source whose containers have names (a Kubernetes
// workload): it resolves the images its containers run, for targets with
// a container mapping (see [Mapper]).
type ContainerSource interface {
	Source
	// ResolveContainers returns the images containers names run, in that
	// order, each pinned to a digest, from one reading of the source (so
	// that all come from the same state of it). A container the source
	// does not have is an input error.
	ResolveContainers(ctx context.Context, names []string) ([]image.Image, error)
}

// ContainerMap is one pair of a target's container mapping, as the
// address spells it (see [address.SplitMapping]).
type ContainerMap = address.ContainerMap

// Mapper is a Target that can take the images of several containers of
// the source (a container mapping) rather than the run's one image.
type Mapper interface {
	// Mapping is the target's container mapping, empty when it takes the
	// run's one image. It only reads the target's configuration.
	Mapping() []ContainerMap
	// SnapshotMapped is Snapshot for a target with a mapping: imgs are
	// the source's images by container name, each pinned, and hold every
	// name Mapping names. The Snapshot's State records the image each
	// container gets: Release and Rehearser.Rehearse read them from there
	// (their img is then the run's image, maybe zero, and is ignored).
	SnapshotMapped(ctx context.Context, imgs map[string]image.Image) (Snapshot, error)
}

// mappingOf is t's container mapping, nil when it has none.
func mappingOf(t Target) []ContainerMap {
	if m, ok := As[Mapper](t); ok {
		return m.Mapping()
	}
	return nil
}

// Target is a place the image is promoted to.
//
// A Target holds configuration and clients only. Every step takes what it
// needs and returns what the next one needs, as values: Snapshot returns
// the rollback point, Release takes it and returns a Change, Verify and
// Restore take both. A Target value may serve any number of runs at once,
// and a Snapshot and Change written down by one process can be read back
// and restored by another.
//
// Errors never name the target: the pipeline does, once.
type Target interface {
	String() string
	// Snapshot records what the target runs now and how to put it back.
	// It changes nothing. want is the image about to be promoted: the
	// target sets Snapshot.UpToDate when it already runs it. With a zero
	// want (status, rollback) it records what it finds and refuses no
	// state; with an image it refuses states a promotion must not start
	// from (a rollout in progress, a release in its release phase) with
	// an input error.
	Snapshot(ctx context.Context, want image.Image) (Snapshot, error)
	// Release makes the target run img, starting from s. It is called only
	// when s was not UpToDate. The Change it returns says what was done as
	// far as it got; it is returned with the error too, because a release
	// that failed may still have changed the target. An input error
	// promises that nothing changed (the image cannot run there, say).
	Release(ctx context.Context, s Snapshot, img image.Image) (Change, error)
	// Verify waits until the release c made on top of s is healthy, or
	// has failed.
	Verify(ctx context.Context, s Snapshot, c Change) error
	// Restore puts the target back to s, undoing c, then waits until that
	// has taken effect. It leaves alone what someone else changed since.
	Restore(ctx context.Context, s Snapshot, c Change) error
}

// Seen is what a target ran at one moment, as reports show it.
type Seen struct {
	// Image is the reference the target runs ("repo@sha256:..." or a tag);
	// several images are joined by ", " (one per container or process).
	Image string `json:"image"`
	// Revision is the platform's revision: a Deployment revision ("3") or a
	// Heroku release version ("v42").
	Revision string `json:"revision,omitempty"`
}

// Snapshot is what a target ran at one moment, and the rollback point. It
// is a plain value: it survives a JSON round trip.
type Snapshot struct {
	Seen
	// UpToDate is true when the target already runs the image to promote.
	UpToDate bool `json:"up_to_date,omitempty"`
	// URL is the target's public URL when it has one (a Heroku app's web
	// URL): relative health check paths resolve against it.
	URL string `json:"url,omitempty"`
	// State is the target's own rollback data (a pod template, a release
	// id), encoded by the target. The pipeline never looks inside.
	State json.RawMessage `json:"state,omitempty"`
}

// MappedImage is Change.Image of a release with a container mapping: each
// container's image, in order, "app=repo@sha256:..., proxy=...". The
// health check reads the digests back out of it (changeDigests).
func MappedImage(cs []ContainerImage) string {
	parts := make([]string, 0, len(cs))
	for _, c := range cs {
		parts = append(parts, c.Container+"="+c.Image)
	}
	return strings.Join(parts, mappedSep)
}

// mappedSep separates the containers of a MappedImage.
const mappedSep = ", "

// Change is what a release (or a rollback) did to a target: with the
// Snapshot it was made on, enough to verify it and to undo it. It is a
// plain value: it survives a JSON round trip.
type Change struct {
	// Image is what the release asked the target to run.
	Image string `json:"image,omitempty"`
	// State is the target's own record of the change, encoded by the
	// target. The pipeline never looks inside.
	State json.RawMessage `json:"state,omitempty"`
}

// EncodeState encodes a target's state for a Snapshot or Change.
func EncodeState(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("recording %T: %w", v, err)
	}
	return b, nil
}

// DecodeState decodes a state EncodeState made. An empty state decodes to
// the zero value.
func DecodeState[T any](raw json.RawMessage) (T, error) {
	var v T
	if len(raw) == 0 {
		return v, nil
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		return v, fmt.Errorf("reading the recorded %T: %w", v, err)
	}
	return v, nil
}

// Capabilities a Target may have besides the steps. The pipeline finds them
// through decorators with [As].

// AccessChecker is a Target that can ask its platform, before anything
// is written, whether every call a release, its verification and its
// restore make is allowed. A refusal is an input error. Plan and Run ask
// for every target before the first write.
type AccessChecker interface {
	CheckAccess(ctx context.Context) error
}

// Rehearser is a Target that can check, before anything changes, that a
// release of img from snapshot s would be accepted: its change passes a
// dry run. A refusal the user must act on is an input error. Plan and Run
// rehearse every target that would change before the first release.
type Rehearser interface {
	Rehearse(ctx context.Context, s Snapshot, img image.Image) error
}

// Describer is a Target that can say what it runs now, whatever state it
// is in. The pipeline asks it about a target it could not restore, for the
// human who has to step in.
type Describer interface {
	Describe(ctx context.Context) (string, error)
}

// RollBacker is a Target that can go back to an earlier revision of its
// own history: the one before the revision running now (to == ""), or the
// revision named by to. A revision that was rolled away from (by a restore
// or an earlier rollback) is never taken as "the one before". The Change it
// returns is verified and, should that fail, undone like a release's.
type RollBacker interface {
	Rollback(ctx context.Context, s Snapshot, to string) (Change, error)
}

// Wrapper is a Target that decorates another one (see [WithHealth]).
type Wrapper interface {
	Unwrap() Target
}

// As finds the first target in t's chain of decorators that has
// capability C.
func As[C any](t Target) (C, bool) {
	for t != nil {
		if c, ok := t.(C); ok {
			return c, true
		}
		w, ok := t.(Wrapper)
		if !ok {
			break
		}
		t = w.Unwrap()
	}
	var zero C
	return zero, false
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
