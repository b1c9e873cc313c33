package heroku

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// An app's promotion record lives in its own registry: a small image, no
// layers, pushed to registry.heroku.com/APP/ferry-record:latest, whose
// config carries the record in the label dev.ferry.record. Writing it
// makes no release (config vars would: every change to them is a
// release, which would move "the newest release" under a promotion and
// restart the dynos); only a formation PATCH with that process type
// would run it, and ferry never sends one. The API key that promotes can
// push there already: no other credential, no add-on, nothing outside
// the app.
//
// The registry has no compare-and-swap, so the lock is advisory: a run
// reads the record, waits while another live run holds it (renewed
// within its TTL), then writes its own and reads it back to see that it
// won. Two runs arriving within the same instant can both go on; the
// formation PATCH is then guarded by re-reading the newest release
// first, and a run whose release was replaced by a newer, healthy one is
// reported superseded.

// RecordProcess is the process type whose repository holds an app's
// promotion record. ferry never releases it.
const RecordProcess = "ferry-record"

const recordLabel = "dev.ferry.record"

// DefaultLockTTL is how long an app's lock outlives its holder's last
// renewal.
const DefaultLockTTL = 30 * time.Second

// heldRecord is what the record image holds: the lock and the record.
type heldRecord struct {
	Holder  string          `json:"holder,omitempty"`
	Renewed time.Time       `json:"renewed,omitzero"`
	TTL     seconds         `json:"ttl_seconds,omitempty"`
	Record  *promote.Record `json:"record,omitempty"`
}

// seconds is a duration in whole seconds, as the record holds it.
type seconds int64

func (h heldRecord) heldBy(now time.Time) string {
	if h.Holder == "" || h.Renewed.IsZero() || !now.Before(h.Renewed.Add(time.Duration(h.TTL)*time.Second)) {
		return ""
	}
	return h.Holder
}

func (t *Target) recordTag() (name.Tag, error) {
	return name.NewTag(t.c.repo(t.addr.App, RecordProcess)+":latest", name.WeakValidation)
}

// readRecord reads the record image; a zero heldRecord when there is none.
func (t *Target) readRecord(ctx context.Context) (heldRecord, error) {
	var h heldRecord
	tag, err := t.recordTag()
	if err != nil {
		return h, err
	}
	d, err := t.c.readTag(ctx, tag)
	if err != nil || d == nil {
		return h, err
	}
	img, err := d.Image()
	if err != nil {
		return h, t.c.scrub(fmt.Errorf("reading %s: %w", tag, err))
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return h, t.c.scrub(fmt.Errorf("reading %s: %w", tag, err))
	}
	raw := cfg.Config.Labels[recordLabel]
	if raw == "" {
		return h, nil
	}
	if err := json.Unmarshal([]byte(raw), &h); err != nil {
		return h, fmt.Errorf("reading the record in %s: %w", tag, err)
	}
	return h, nil
}

// writeRecord pushes h as the record image: a Docker v2 schema 2
// manifest without layers, as registry.heroku.com takes.
func (t *Target) writeRecord(ctx context.Context, h heldRecord) error {
	tag, err := t.recordTag()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(h)
	if err != nil {
		return err
	}
	img, err := mutate.ConfigFile(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.DockerManifestSchema2), types.DockerConfigJSON),
		&v1.ConfigFile{Architecture: "amd64", OS: "linux", Config: v1.Config{Labels: map[string]string{recordLabel: string(raw)}}})
	if err != nil {
		return err
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuth(t.c.registryAuth()), remote.WithUserAgent(t.c.opts.UserAgent)},
		image.RemoteOptions(t.c.base, t.c.opts.Retry, func(f string, a ...any) { t.c.logf("", f, a...) })...)
	if err := remote.Write(tag, img, opts...); err != nil {
		return t.c.scrub(fmt.Errorf("writing the promotion record to %s: %w", tag, err))
	}
	return nil
}

func (t *Target) lockTTL() time.Duration {
	if t.c.opts.LockTTL > 0 {
		return t.c.opts.LockTTL
	}
	return DefaultLockTTL
}

// Lock takes the app's advisory lock for run (see promote.Journal) and
// returns the unfinished record a previous run left.
func (t *Target) Lock(ctx context.Context, run promote.RunInfo, wait time.Duration) (promote.Lock, *promote.Record, error) {
	// An unknown app, a refused key or another stack is bad input, found
	// before anything is written (the record included).
	if _, err := t.c.containerApp(ctx, t.addr.App); err != nil {
		return nil, nil, err
	}
	ttl := t.lockTTL()
	w := &promote.LockWaiter{Wait: wait, Poll: promote.LockPoll(ttl), Log: func(h promote.RunInfo) {
		t.logf("lock: %s holds the promotion record of %s; waiting up to %s (FERRY_LOCK_WAIT)", h, t.addr.App, wait)
	}}
	for {
		h, err := t.readRecord(ctx)
		if err != nil {
			return nil, nil, err
		}
		if holder := h.heldBy(time.Now()); holder != "" && holder != run.ID {
			if err := w.Held(ctx, promote.Holder(holder, h.Record)); err != nil {
				return nil, nil, err
			}
			continue
		}
		if h.Holder != "" && h.Holder != run.ID {
			t.logf("lock: %s stopped renewing its lock on %s; taking it over", h.Holder, t.addr.App)
		}
		mine := heldRecord{Holder: run.ID, Renewed: time.Now().UTC(), TTL: seconds(ttl / time.Second), Record: h.Record}
		won, err := t.claim(ctx, mine)
		if err != nil {
			return nil, nil, err
		}
		if !won {
			continue
		}
		left := h.Record
		if left != nil && !left.Step.Unfinished() {
			left = nil
		}
		k := &recordLock{t: t, run: run, ttl: ttl, h: mine, stop: make(chan struct{}), done: make(chan struct{})}
		go k.renew()
		return k, left, nil
	}
}

// claim writes mine and reads it back: the registry has no
// compare-and-swap, so a run that wrote after this one wins.
func (t *Target) claim(ctx context.Context, mine heldRecord) (bool, error) {
	if err := t.writeRecord(ctx, mine); err != nil {
		return false, err
	}
	back, err := t.readRecord(ctx)
	if err != nil {
		return false, err
	}
	return back.Holder == mine.Holder, nil
}

// recordLock is a held record: renewed until Unlock.
type recordLock struct {
	t   *Target
	run promote.RunInfo
	ttl time.Duration

	mu sync.Mutex
	h  heldRecord

	stop, done chan struct{}
}

func (k *recordLock) renew() {
	promote.Heartbeat(k.ttl, k.stop, k.done,
		func(ctx context.Context) error { return k.write(ctx, func(*heldRecord) {}) },
		func(err error) { k.t.logf("WARNING: lock: renewing the promotion record: %v", err) })
}

func (k *recordLock) write(ctx context.Context, edit func(*heldRecord)) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	h := k.h
	edit(&h)
	if h.Holder != "" {
		h.Renewed = time.Now().UTC()
	}
	if err := k.t.writeRecord(ctx, h); err != nil {
		return err
	}
	k.h = h
	return nil
}

// Save writes r as the app's record.
func (k *recordLock) Save(ctx context.Context, r promote.Record) error {
	return k.write(ctx, func(h *heldRecord) { h.Record = &r })
}

// Unlock stops renewing and gives the lock up, keeping the record.
func (k *recordLock) Unlock(ctx context.Context) error {
	close(k.stop)
	<-k.done
	return k.write(ctx, func(h *heldRecord) { h.Holder, h.Renewed = "", time.Time{} })
}

// Adopt places what the app runs now against a promotion another
// process left (see promote.Recoverer). A release the dead run asked for
// but never recorded is found by its images, among the releases made
// since the snapshot; a release still in its release phase is followed
// to its end first.
func (t *Target) Adopt(ctx context.Context, s promote.Snapshot, c promote.Change) (promote.Found, promote.Change, string, error) {
	st, err := promote.DecodeState[State](s.State)
	if err != nil {
		return "", c, "", err
	}
	ch, err := promote.DecodeState[change](c.State)
	if err != nil {
		return "", c, "", err
	}
	if ch.Release == nil && st.ImageID != "" {
		r, err := t.findRelease(ctx, st, t.formation(st.ImageID), 1)
		if err != nil {
			return "", c, "", err
		}
		if r != nil {
			ch.Sent, ch.Release = true, refOf(r)
		}
	}
	cur, _, pending, err := t.c.current(ctx, t.addr.App)
	if err != nil {
		return "", c, "", err
	}
	if pending != nil && pending.Version > cur.Version {
		t.logf("recover: release v%d is in its release phase; following it to its end", pending.Version)
		if _, err := t.c.follow(ctx, t.addr.App, pending.ID, t.logf); err != nil {
			return "", c, "", err
		}
		if cur, _, _, err = t.c.current(ctx, t.addr.App); err != nil {
			return "", c, "", err
		}
	}
	now := fmt.Sprintf("release v%d (%s)", cur.Version, cur.Description)
	found := adoptFound(st, ch, cur.ID, cur.Version, cur.Description)
	if found == promote.FoundChange {
		ch.Release.Status = cur.Status
	}
	adopted, err := encodeChange(c.Image, ch)
	return found, adopted, now, err
}

// adoptFound is Adopt's decision. It only reads its arguments.
func adoptFound(st State, ch change, curID string, curVersion int, curDesc string) promote.Found {
	if curID == st.ReleaseID {
		return promote.FoundSnapshot
	}
	if v, ok := rolledBackTo(curDesc); ok && v == st.Version {
		return promote.FoundSnapshot // a restore already put it back
	}
	if ch.Release != nil && (curID == ch.Release.ID || curVersion == ch.Release.Version) {
		return promote.FoundChange
	}
	return promote.FoundOther
}

// Peek reads the app's record, nil when there is none (see
// promote.RecordReader).
func (t *Target) Peek(ctx context.Context) (*promote.Record, error) {
	h, err := t.readRecord(ctx)
	return h.Record, err
}

var (
	_ promote.RecordReader = (*Target)(nil)
	_ promote.Journal      = (*Target)(nil)
	_ promote.Recoverer    = (*Target)(nil)
)
