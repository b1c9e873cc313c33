package promote

import (
	"context"
	"time"

	"github.com/ferry-dev/ferry/pkg/image"
)

// Options tune a run.
type Options struct {
	// Parallelism bounds how many targets are worked on at once, in every
	// step, restores included.
	Parallelism int
	// RestoreTimeout bounds the restore of all targets. The restore runs
	// on a context that survives the caller's cancellation (SIGTERM), so
	// that a cancelled CI job still leaves production as it was.
	RestoreTimeout time.Duration
	// Checks run on each resolved source image (the source's one image,
	// and each container's that a container mapping takes) before any
	// target is looked at; the first one that fails ends the run.
	Checks []SourceCheck
	// Logger receives progress lines.
	Logger Logger
	// Waves are the number of targets in each wave, in order (see
	// [Gate]); empty: all targets are one wave. Run only.
	Waves []int
	// Gates run after each wave of Run, beside the soak.
	Gates []Gate
	// Soak is how long each wave of Run must stay healthy after it was
	// verified, its targets watched (see [Watcher]).
	Soak time.Duration
	// Records tune the records and locks of targets that keep them.
	Records RecordOptions
	// Announcers publish Run where teams look (see [Announcer]).
	Announcers []Announcer
}

// SourceCheck decides whether an image may be promoted at all (a
// signature policy, say). A refusal the user must act on is an input
// error.
type SourceCheck interface {
	Check(ctx context.Context, img image.Image) error
}

func (o Options) withDefaults() Options {
	if o.Parallelism <= 0 {
		o.Parallelism = 64
	}
	if o.RestoreTimeout <= 0 {
		o.RestoreTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = Discard
	}
	return o
}

// Run promotes, in these steps:
//
//  1. resolve the source to one image digest, and each source container
//     that a target's container mapping names (see [Mapper]) to its own;
//  2. check every source image (Options.Checks) and ask whether ferry may
//     make each call it will make (see [AccessChecker]); then take every
//     target's lock (see [Journal]) and recover what an earlier run left
//     unfinished there (see [Recover]);
//  3. snapshot every target and rehearse its change (see [Rehearser]) —
//     any failure ends the run before anything changed — and announce
//     the run (Options.Announcers);
//  4. release the image to every target that does not run it yet, and
//     verify each (in parallel, bounded); the first failure stops the
//     others. With Options.Waves, wave after wave, each followed by the
//     gates and the soak (see [Gate]);
//  5. on any failure, restore every target that was changed, newest
//     first and in parallel, on a context the caller's cancellation does
//     not reach;
//  6. read what each promoted target runs now, for the report.
//
// The returned error is nil when every target runs the image and is
// healthy; the Report says what happened in every case.
func Run(ctx context.Context, src Source, targets []Target, o Options) (*Report, error) {
	r := start("promote", targets, o)
	defer r.stop()
	defer r.unlockAll(ctx)
	r.records = true
	img, err := r.prepare(ctx, src, true)
	if err != nil {
		return r.report, r.report.Fail(err)
	}
	defer r.announce(ctx)()
	if err := r.changeWaves(ctx, r.releaseStep(img)); err != nil {
		return r.report, r.restoreAll(ctx, err)
	}
	r.afterAll(ctx)
	r.report.Outcome = OutcomePromoted
	if r.allUnchanged() {
		r.report.Outcome = OutcomeUnchanged
	}
	return r.report, nil
}

// Plan resolves and checks the source and snapshots every target, then
// says what Run would change. It changes nothing.
func Plan(ctx context.Context, src Source, targets []Target, o Options) (*Report, error) {
	r := start("plan", targets, o)
	defer r.stop()
	img, err := r.prepare(ctx, src, false)
	if err != nil {
		return r.report, r.report.Fail(err)
	}
	r.report.Outcome = OutcomeUnchanged
	for i, t := range targets {
		tr := &r.report.Targets[i]
		if r.snaps[i].UpToDate {
			tr.Status = StatusUnchanged
			r.o.Logger.Logf(t.String(), "unchanged: already runs %s", r.wantOf(i, img))
			continue
		}
		tr.Status, r.report.Outcome = StatusPlanned, OutcomePlanned
		r.o.Logger.Logf(t.String(), "would change %s → %s", tr.Before.Image, r.wantOf(i, img))
	}
	return r.report, nil
}

// Inspect snapshots every target (the status command). It changes
// nothing.
func Inspect(ctx context.Context, targets []Target, o Options) (*Report, error) {
	r := start("status", targets, o)
	defer r.stop()
	if err := r.snapshotAll(ctx, image.Image{}); err != nil {
		return r.report, r.report.Fail(err)
	}
	for i, t := range targets {
		tr := &r.report.Targets[i]
		tr.Status = StatusUnchanged
		r.o.Logger.Logf(t.String(), "runs %s", describeSeen(*tr.Before))
		r.peek(ctx, i)
	}
	r.report.Outcome = OutcomeUnchanged
	return r.report, nil
}

// Rollback puts every target back on an earlier revision of its own
// history (see [RollBacker]): the one before the revision it runs, or the
// revision to names. It goes like Run: snapshot all, roll back and verify
// each (in parallel, bounded), and when any fails, restore every target it
// changed to its snapshot. Every target must be a RollBacker. Like a
// promotion it takes the targets' locks first (and settles what an
// interrupted promotion left), so it never races one; it writes no
// record of its own.
func Rollback(ctx context.Context, targets []Target, to string, o Options) (*Report, error) {
	r := start("rollback", targets, o)
	defer r.stop()
	defer r.unlockAll(ctx)
	err := r.canRollBack()
	if err == nil {
		err = r.lockAll(ctx)
	}
	if err == nil {
		err = r.snapshotAll(ctx, image.Image{})
	}
	if err != nil {
		return r.report, r.report.Fail(err)
	}
	if err := r.changeAll(ctx, rollbackStep(to)); err != nil {
		return r.report, r.restoreAll(ctx, err)
	}
	r.afterAll(ctx)
	r.report.Outcome = OutcomeRolledBack
	return r.report, nil
}
