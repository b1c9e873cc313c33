package heroku

import (
	"context"
	"errors"
	"fmt"

	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// restoreStep is what a restore does to an app.
type restoreStep int

const (
	// restoreNothing: the app runs the snapshot's release, or a release
	// that already puts it back.
	restoreNothing restoreStep = iota
	// restoreRefuse: the app runs a release that is not ferry's to undo,
	// or there is nothing to roll back to.
	restoreRefuse
	// restoreRollBack: roll back to the snapshot's release.
	restoreRollBack
	// restoreSuperseded: someone else released after ferry did; theirs
	// is not ferry's to undo, and the run is superseded when the app is
	// healthy on it.
	restoreSuperseded
)

// restorePlan is a restoreStep and why.
type restorePlan struct {
	step restoreStep
	why  string
}

// planRestore decides how to put the app back to st, undoing ch, when cur
// is its current release (no release in progress). It only reads its
// arguments.
func planRestore(st State, ch change, cur hk.Release) restorePlan {
	ours := ch.Release
	switch {
	case !ch.Sent:
		return restorePlan{restoreNothing, fmt.Sprintf("ferry never updated the formation, so it made no release: nothing to roll back (v%d was current at the snapshot)", st.Version)}
	case st.ReleaseID == "":
		return restorePlan{restoreRefuse, fmt.Sprintf("%s had no release before; there is nothing to roll back to", st.App)}
	case cur.ID == st.ReleaseID && ours != nil && ours.Status == statusFailed:
		return restorePlan{restoreNothing, fmt.Sprintf("release v%d failed in its release phase and never ran; v%d is still current: nothing to restore", ours.Version, st.Version)}
	case cur.ID == st.ReleaseID:
		return restorePlan{restoreNothing, fmt.Sprintf("v%d is still current: nothing to restore", st.Version)}
	case ours != nil && cur.ID != ours.ID && cur.Version > ours.Version:
		if v, ok := rolledBackTo(cur.Description); ok && v == st.Version {
			return restorePlan{restoreNothing, fmt.Sprintf("v%d (%s) already puts v%d back: nothing to restore", cur.Version, cur.Description, st.Version)}
		}
		// Someone else released after ferry did: theirs is not ferry's
		// to undo (a second ferry run may be verifying it right now).
		return restorePlan{restoreSuperseded, fmt.Sprintf("release v%d (%s) was made after ferry's release v%d, by someone else: not rolling back a release that is not ferry's", cur.Version, cur.Description, ours.Version)}
	}
	return restorePlan{restoreRollBack, fmt.Sprintf("rolling back from v%d to v%d (release %s)", cur.Version, st.Version, st.ReleaseID)}
}

// Restore puts the app back on the snapshot's release with a rollback
// release (POST /apps/APP/releases {"release": ID}), never "the previous
// release", then follows it and waits for its dynos; and it points the
// :latest tags ferry moved back where they were. When the recorded release
// is still current — the new release failed in its release phase and never
// ran — nothing is sent.
func (t *Target) Restore(ctx context.Context, s promote.Snapshot, c promote.Change) error {
	st, err := promote.DecodeState[State](s.State)
	if err != nil {
		return err
	}
	ch, err := promote.DecodeState[change](c.State)
	if err != nil {
		return err
	}
	err = t.restore(ctx, st, ch)
	// The app's own state is what a restore is judged by, so a tag that
	// cannot be put back is a warning, not a failed restore.
	if terr := t.restoreTags(ctx, ch.Moved); terr != nil {
		t.logf("WARNING: not every registry tag could be put back: %v", terr)
	}
	if err != nil {
		return fmt.Errorf("restoring: %w", err)
	}
	return nil
}

func (t *Target) restore(ctx context.Context, st State, ch change) error {
	var cur hk.Release
	if ch.Sent {
		// Without a request sent, nothing of the app changed: no need to
		// reach the API, which may be what failed.
		var err error
		if cur, err = t.settle(ctx); err != nil {
			return err
		}
	}
	plan := planRestore(st, ch, cur)
	switch plan.step {
	case restoreNothing:
		t.logf("restore: %s", plan.why)
		if ch.Sent && cur.ID != "" && cur.ID != st.ReleaseID {
			// A rollback release (an interrupted run's restore) is
			// current: wait for its dynos like a restore of ours.
			if err := t.waitDynos(ctx, *refOf(&cur)); err != nil {
				return fmt.Errorf("after the rollback to v%d (release v%d): %w", st.Version, cur.Version, err)
			}
		}
		return nil
	case restoreRefuse:
		return errors.New(plan.why)
	case restoreSuperseded:
		t.logf("restore: %s; waiting for its dynos", plan.why)
		if err := t.waitDynos(ctx, *refOf(&cur)); err != nil {
			return fmt.Errorf("%s, and it is not healthy: %w", plan.why, err)
		}
		return promote.Superseded(fmt.Errorf("superseded: %s; the app is healthy on v%d", plan.why, cur.Version))
	}
	t.logf("%s", plan.why)
	final, err := t.rollBack(ctx, releaseRef{ID: st.ReleaseID, Version: st.Version})
	if err != nil {
		return err
	}
	if err := t.waitDynos(ctx, *refOf(final)); err != nil {
		return fmt.Errorf("after rolling back to v%d: %w", st.Version, err)
	}
	t.logf("rolled back: v%d runs the images of v%d", final.Version, st.Version)
	return nil
}

// rollBack makes a rollback release to release to and follows it until it
// succeeded.
func (t *Target) rollBack(ctx context.Context, to releaseRef) (*hk.Release, error) {
	top, err := t.c.recentReleases(ctx, t.addr.App, 1)
	if err != nil {
		return nil, err
	}
	before := 0
	if len(top) > 0 {
		before = top[0].Version
	}
	rb, err := t.postRollback(ctx, to, before)
	if err != nil {
		return nil, err
	}
	t.logf("release v%d created (%s); following it", rb.Version, rb.Description)
	final, err := t.c.follow(ctx, t.addr.App, rb.ID, t.logf)
	if err != nil {
		return nil, err
	}
	if final.Status != statusSucceeded {
		return final, fmt.Errorf("rollback release v%d %s", final.Version, final.Status)
	}
	return final, nil
}

// settle waits for releases in progress to end and returns the current
// release.
func (t *Target) settle(ctx context.Context) (hk.Release, error) {
	for i := 0; i < 5; i++ {
		cur, _, pending, err := t.c.current(ctx, t.addr.App)
		if err != nil {
			return hk.Release{}, err
		}
		if pending == nil || pending.Version < cur.Version {
			return cur, nil
		}
		t.logf("release v%d is in progress; waiting for it", pending.Version)
		if _, err := t.c.follow(ctx, t.addr.App, pending.ID, t.logf); err != nil {
			return hk.Release{}, err
		}
	}
	return hk.Release{}, errors.New("releases keep starting; cannot restore safely")
}

// postRollback sends the rollback POST, looking before sending it again
// when the outcome is unknown. before is the newest release version
// before it.
func (t *Target) postRollback(ctx context.Context, to releaseRef, before int) (*hk.Release, error) {
	want := fmt.Sprintf("Rollback to v%d", to.Version)
	for attempt := 1; ; attempt++ {
		rb, err := t.c.rollback(ctx, t.addr.App, to.ID)
		if err == nil {
			return rb, nil
		}
		if !unknownOutcome(err) || attempt >= 2 {
			return nil, fmt.Errorf("rolling back to v%d: %w", to.Version, err)
		}
		t.logf("rollback: %v; checking whether it took effect", err)
		found, lerr := t.findRollback(ctx, want, before)
		if lerr != nil {
			return nil, errors.Join(fmt.Errorf("rolling back to v%d: %w", to.Version, err), lerr)
		}
		if found != nil {
			return found, nil
		}
		t.logf("no rollback release appeared; sending it once more")
	}
}

// findRollback looks a few times for a release after before described as
// want.
func (t *Target) findRollback(ctx context.Context, want string, before int) (*hk.Release, error) {
	for try := 0; try < 3; try++ {
		rs, err := t.c.releasesAfter(ctx, t.addr.App, before)
		if err != nil {
			return nil, err
		}
		for i := range rs {
			if rs[i].Description == want {
				return &rs[i], nil
			}
		}
		if err := httpx.Sleep(ctx, t.c.opts.PollInterval); err != nil {
			return nil, err
		}
	}
	return nil, nil
}
