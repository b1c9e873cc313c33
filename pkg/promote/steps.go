package promote

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/pkg/image"
)

// run is one invocation of the pipeline: the report it fills in and, per
// target, the values the steps hand each other. Slices are indexed like
// targets; a step's goroutine writes only its own target's elements.
type run struct {
	o       Options
	report  *Report
	started time.Time
	targets []Target
	snaps   []Snapshot
	changes []*Change // nil until the target was released (or rolled back)
	// step is the change step 4 makes, once it started.
	step changer
	// locks are the targets' locks (nil for a target that keeps no
	// record, and before step 0); saved the step each record was last
	// saved at.
	locks []Lock
	saved []Step
	// records is true when the run writes records at each step (a
	// promotion); a rollback only holds the locks.
	records bool
	// restored marks the targets recovery put back to an interrupted
	// promotion's snapshot: a rollback has nothing left to do there.
	restored []bool
	// mapped are the images of the source's containers that targets'
	// container mappings take (see Mapper), by container name.
	mapped map[string]image.Image
}

func start(command string, targets []Target, o Options) *run {
	names := make([]string, len(targets))
	for i, t := range targets {
		names[i] = t.String()
	}
	return &run{
		o:       o.withDefaults(),
		report:  NewReport(command, names),
		started: time.Now(),
		targets: targets,
		snaps:   make([]Snapshot, len(targets)),
		changes: make([]*Change, len(targets)),
	}
}

func (r *run) stop() { r.report.Duration = Duration(time.Since(r.started)) }

// prepare is steps 1 to 3, with which Run and Plan begin; with lock,
// the targets' locks are taken and what an earlier run left unfinished
// is recovered before the snapshots.
func (r *run) prepare(ctx context.Context, src Source, lock bool) (image.Image, error) {
	img, err := r.resolve(ctx, src)
	if err == nil {
		err = r.checkSource(ctx, img)
	}
	if err == nil {
		err = r.checkAccessAll(ctx)
	}
	if err == nil && lock {
		err = r.lockAll(ctx)
	}
	if err == nil {
		err = r.snapshotAll(ctx, img)
	}
	if err == nil {
		err = r.rehearseAll(ctx, img)
	}
	return img, err
}

// resolve is step 1: the source, pinned to a digest, and the source's
// containers that targets' container mappings name, each pinned. The
// source's one image is resolved only when a target takes it: it is zero
// when every target has a mapping.
func (r *run) resolve(ctx context.Context, src Source) (image.Image, error) {
	r.report.Source = src.String()
	names, whole := sourceContainers(r.targets)
	var img image.Image
	if whole {
		var err error
		if img, err = src.Resolve(ctx); err != nil {
			return image.Image{}, fmt.Errorf("%s: %w", src, err)
		}
		r.report.Image, r.report.Digest = img.Ref(), img.Digest.String()
		r.o.Logger.Logf("", "source %s runs %s", src, img)
	}
	if len(names) == 0 {
		return img, nil
	}
	cs, ok := src.(ContainerSource)
	if !ok {
		return image.Image{}, Input(fmt.Errorf("%s: a target maps containers (?container=TARGET=SOURCE), and this source has no containers to take images from: use a k8s: source, or name the target's containers without sources to give them all the source's image", src))
	}
	imgs, err := cs.ResolveContainers(ctx, names)
	if err != nil {
		return image.Image{}, fmt.Errorf("%s: %w", src, err)
	}
	r.mapped = map[string]image.Image{}
	for i, name := range names {
		ci := imgs[i]
		r.mapped[name] = ci
		r.report.Images = append(r.report.Images, SourceImage{Container: name, Image: ci.Ref(), Digest: ci.Digest.String()})
		r.o.Logger.Logf("", "source %s container %s runs %s", src, name, ci)
	}
	return img, nil
}

// sourceContainers are the source's containers the targets' mappings
// name, each once, in the order first named; whole is true when a target
// has no mapping (it takes the source's one image). It only reads the
// targets' configuration.
func sourceContainers(targets []Target) (names []string, whole bool) {
	seen := map[string]bool{}
	for _, t := range targets {
		m := mappingOf(t)
		if len(m) == 0 {
			whole = true
		}
		for _, p := range m {
			if !seen[p.From] {
				seen[p.From] = true
				names = append(names, p.From)
			}
		}
	}
	return names, whole
}

// checkSource is step 2: every check must accept every image promoted,
// the source's one image and each mapped container's.
func (r *run) checkSource(ctx context.Context, img image.Image) error {
	var imgs []image.Image
	if !img.IsZero() {
		imgs = append(imgs, img)
	}
	for _, si := range r.report.Images {
		imgs = append(imgs, r.mapped[si.Container])
	}
	checked := map[string]bool{}
	for _, i := range imgs {
		if checked[i.Ref()] {
			continue
		}
		checked[i.Ref()] = true
		for _, c := range r.o.Checks {
			if err := r.verify(ctx, c, i); err != nil {
				return fmt.Errorf("checking %s: %w", i.Ref(), err)
			}
		}
	}
	return nil
}

// wantOf says what target i is to run: the run's image, or for a target
// with a container mapping each of its containers' images, as its
// snapshot put them in its report's Containers.
func (r *run) wantOf(i int, img image.Image) string {
	if cs := r.report.Targets[i].Containers; len(cs) > 0 {
		return MappedImage(cs)
	}
	return img.Ref()
}

// snapshotAll is step 3: every target's rollback point. Any failure ends
// the run before anything changed; the targets not snapshotted are
// skipped.
func (r *run) snapshotAll(ctx context.Context, want image.Image) error {
	errs := make([]error, len(r.targets))
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		t, tr := r.targets[i], &r.report.Targets[i]
		err := timed(&tr.Durations.Snapshot, func() (err error) {
			r.snaps[i], err = r.snapshot(ctx, i, want)
			return err
		})
		if err != nil {
			tr.Status, tr.Error = StatusFailed, err.Error()
			errs[i] = fmt.Errorf("%s: %w", t, err)
			return
		}
		seen := r.snaps[i].Seen
		tr.Before = &seen
		r.o.Logger.Logf(t.String(), "snapshot: runs %s", describeSeen(seen))
	})
	return errors.Join(errs...)
}

// snapshot is target i's snapshot: with the mapped images when the run
// resolved them and the target maps containers.
func (r *run) snapshot(ctx context.Context, i int, want image.Image) (Snapshot, error) {
	t, tr := r.targets[i], &r.report.Targets[i]
	m, ok := As[Mapper](t)
	if !ok || r.mapped == nil || len(m.Mapping()) == 0 {
		return t.Snapshot(ctx, want)
	}
	for _, p := range m.Mapping() {
		tr.Containers = append(tr.Containers, ContainerImage{Container: p.Container, From: p.From, Image: r.mapped[p.From].Ref()})
	}
	return m.SnapshotMapped(ctx, r.mapped)
}

// changer is what step 4 does to one target: a release of an image, or a
// rollback to an earlier revision.
type changer struct {
	// name is the step's name in logs: "release", "rollback"; noun
	// names the whole run: "promotion", "rollback".
	name, noun string
	// needed reports whether the target must be changed at all.
	needed func(s Snapshot) bool
	// describe says what the change to target i is, for the log.
	describe func(i int, s Snapshot) string
	// apply changes the target.
	apply func(ctx context.Context, t Target, s Snapshot) (Change, error)
	// done is the status of a target changed and verified.
	done Status
}

func (r *run) releaseStep(img image.Image) changer {
	return changer{
		name:     "release",
		noun:     "promotion",
		needed:   func(s Snapshot) bool { return !s.UpToDate },
		describe: func(i int, s Snapshot) string { return fmt.Sprintf("%s → %s", s.Image, r.wantOf(i, img)) },
		apply: func(ctx context.Context, t Target, s Snapshot) (Change, error) {
			return t.Release(ctx, s, img)
		},
		done: StatusPromoted,
	}
}

func rollbackStep(to string) changer {
	return changer{
		name:   "rollback",
		noun:   "rollback",
		needed: func(Snapshot) bool { return true },
		describe: func(_ int, s Snapshot) string {
			if to == "" {
				return "from " + describeSeen(s.Seen) + " to the revision before"
			}
			return "from " + describeSeen(s.Seen) + " to revision " + to
		},
		apply: func(ctx context.Context, t Target, s Snapshot) (Change, error) {
			rb, _ := As[RollBacker](t) // canRollBack checked every target
			return rb.Rollback(ctx, s, to)
		},
		done: StatusRolledBack,
	}
}

// canRollBack refuses, before anything is read, targets that cannot roll
// back.
func (r *run) canRollBack() error {
	var errs []error
	for i, t := range r.targets {
		if _, ok := As[RollBacker](t); !ok {
			r.report.Targets[i].Status = StatusFailed
			errs = append(errs, Input(fmt.Errorf("%s: cannot be rolled back", t)))
		}
	}
	return errors.Join(errs...)
}

// changeAll is step 4: change and verify every target that needs it, in
// parallel. The first failure cancels the others (they are restored
// anyway) and is returned, naming its target.
func (r *run) changeAll(ctx context.Context, step changer) error {
	all := make([]int, len(r.targets))
	for i := range all {
		all[i] = i
	}
	return r.changeSome(ctx, step, all)
}

// changeSome is changeAll over the targets indexed by which (one wave).
func (r *run) changeSome(ctx context.Context, step changer, which []int) error {
	r.step = step
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var mu sync.Mutex
	var first error
	forEach(len(which), r.o.Parallelism, func(k int) {
		i := which[k]
		err := r.changeOne(ctx, work, i, step)
		if err == nil {
			return
		}
		t := r.targets[i]
		mu.Lock()
		if first == nil {
			first = fmt.Errorf("%s: %w", t, err)
		}
		mu.Unlock()
		cancel(fmt.Errorf("%s failed", t))
	})
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return first
}

// changeOne changes and verifies target i. ctx is the run's, work the
// one the first failure cancels.
func (r *run) changeOne(ctx, work context.Context, i int, step changer) error {
	t, tr, s := r.targets[i], &r.report.Targets[i], r.snaps[i]
	if !step.needed(s) {
		tr.Status = StatusUnchanged
		r.o.Logger.Logf(t.String(), "unchanged: already runs %s", s.Image)
		return nil
	}
	if step.done == StatusRolledBack && r.restored != nil && r.restored[i] {
		tr.Status = StatusRolledBack
		r.o.Logger.Logf(t.String(), "rolled back: recovery put back %s, what ran before the interrupted promotion", describeSeen(s.Seen))
		return nil
	}
	if work.Err() != nil {
		tr.Status = StatusSkipped
		return nil
	}
	if err := r.note(ctx, i, StepReleasing); err != nil {
		tr.Status, tr.Error = StatusFailed, err.Error()
		r.o.Logger.Logf(t.String(), "failed: %v; nothing was changed", err)
		return err
	}
	var c Change
	err := timed(&tr.Durations.Release, func() (err error) {
		r.o.Logger.Logf(t.String(), "%s: %s", step.name, step.describe(i, s))
		c, err = step.apply(work, t, s)
		return err
	})
	if !IsInput(err) {
		// A failed release may still have changed something; an input
		// error promises it did not (see Target).
		r.changes[i] = &c
	}
	if err == nil {
		r.noteOrWarn(ctx, i, StepReleased)
		err = timed(&tr.Durations.Verify, func() error {
			r.o.Logger.Logf(t.String(), "verify: waiting until it is healthy")
			return t.Verify(work, s, c)
		})
	}
	if err == nil && !r.gated() {
		// With gates or a soak, a release is proven only when its
		// wave has passed them (changeWaves).
		r.noteOrWarn(ctx, i, StepVerified)
	}
	if err != nil {
		switch {
		case ctx.Err() != nil:
			err = fmt.Errorf("interrupted (%v): %w", context.Cause(ctx), err)
		case errors.Is(err, context.Canceled) && context.Cause(work) != nil:
			err = fmt.Errorf("stopped because %v: %w", context.Cause(work), err)
		}
		tr.Status, tr.Error = StatusFailed, err.Error()
		if IsSuperseded(err) {
			tr.Status = StatusSuperseded
		}
		r.o.Logger.Logf(t.String(), "failed: %v", err)
		return err
	}
	tr.Status = step.done
	r.o.Logger.Logf(t.String(), "%s in %s", step.done, time.Duration(tr.Durations.Release+tr.Durations.Verify).Round(time.Millisecond))
	return nil
}

// restoreAll is step 5: put every changed target back to its snapshot,
// on a context that the caller's cancellation does not reach, newest
// first and up to Parallelism at once, so that the first targets changed
// do not stay broken while the others are put back one after another (a
// restore waits for its rollout). It records the outcome and returns the
// run's error: cause, or a *RestoreError when a target could not be
// restored.
func (r *run) restoreAll(ctx context.Context, cause error) error {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.RestoreTimeout)
	defer cancel()
	var order []int // newest first
	for i := len(r.targets) - 1; i >= 0; i-- {
		if r.changes[i] != nil {
			order = append(order, i)
		}
	}
	if len(order) > 0 {
		r.o.Logger.Logf("", "restoring every changed target (timeout %s)", r.o.RestoreTimeout)
	}
	errs := make([]error, len(order))
	forEach(len(order), r.o.Parallelism, func(k int) {
		errs[k] = r.restoreOne(ctx, rctx, order[k], cause)
	})
	var failed []error
	for _, err := range errs {
		if err != nil {
			failed = append(failed, err)
		}
	}
	if len(failed) > 0 {
		return r.report.Fail(&RestoreError{Cause: cause, Failed: failed})
	}
	if len(order) == 0 {
		return r.report.Fail(cause) // nothing was changed
	}
	for _, k := range order {
		if tr := r.report.Targets[k]; tr.Status == StatusSuperseded && !IsSuperseded(cause) {
			cause = Superseded(fmt.Errorf("%s: %s", r.targets[k], tr.Error))
			break
		}
	}
	return r.report.Fail(&RestoredError{Cause: cause})
}

// restoreOne restores target i on rctx; ctx is the run's.
func (r *run) restoreOne(ctx, rctx context.Context, i int, cause error) error {
	t, tr, s, c := r.targets[i], &r.report.Targets[i], r.snaps[i], *r.changes[i]
	if tr.Error == "" {
		tr.Error = "restored because another target failed: " + cause.Error()
	}
	r.noteOrWarn(ctx, i, StepRestoring)
	err := timed(&tr.Durations.Restore, func() error { return t.Restore(rctx, s, c) })
	if IsSuperseded(err) {
		tr.Status, tr.Restore = StatusSuperseded, ""
		tr.Error = err.Error()
		r.noteOrWarn(ctx, i, StepDone)
		r.o.Logger.Logf(t.String(), "superseded: %v", err)
		return nil
	}
	if err != nil {
		now := whatItRuns(ctx, t, r.step, s, c)
		tr.Status, tr.Restore = StatusRestoreFailed, err.Error()+"; "+now
		r.o.Logger.Logf(t.String(), "RESTORE FAILED: %v; %s", err, now)
		return fmt.Errorf("%s: %w; %s", t, err, now)
	}
	if tr.Status != StatusSuperseded {
		tr.Status = StatusRestored
	}
	r.noteOrWarn(ctx, i, StepDone)
	r.o.Logger.Logf(t.String(), "restored to %s", describeSeen(s.Seen))
	if after, err := t.Snapshot(rctx, image.Image{}); err == nil {
		tr.After = &after.Seen
	}
	return nil
}

// afterAll is step 6: what each changed target runs now, all at once.
func (r *run) afterAll(ctx context.Context) {
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		tr := &r.report.Targets[i]
		if tr.Status != StatusPromoted && tr.Status != StatusRolledBack {
			return
		}
		if s, err := r.targets[i].Snapshot(ctx, image.Image{}); err == nil {
			tr.After = &s.Seen
		}
	})
}

func (r *run) allUnchanged() bool {
	for _, t := range r.report.Targets {
		if t.Status != StatusUnchanged {
			return false
		}
	}
	return true
}

// whatItRuns says what a target that could not be restored runs now, as
// far as ferry can tell, and what it ran before, so that the human who
// has to step in knows where to start.
func whatItRuns(ctx context.Context, t Target, step changer, before Snapshot, c Change) string {
	was := "before the " + step.noun + " it ran " + describeSeen(before.Seen)
	asked := ""
	if c.Image != "" {
		asked = "the last ferry knew, its " + step.name + " asked for " + c.Image + "; "
	}
	d, ok := As[Describer](t)
	if !ok {
		return asked + was
	}
	// The restore deadline may be spent: this read gets its own.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	now, err := d.Describe(dctx)
	if err != nil {
		return fmt.Sprintf("what it runs now could not be read (%v): %s%s", err, asked, was)
	}
	return "it now runs " + now + "; " + was
}

func describeSeen(s Seen) string {
	if s.Revision == "" {
		return s.Image
	}
	return s.Image + " (revision " + s.Revision + ")"
}

func timed(d *Duration, f func() error) error {
	start := time.Now()
	err := f()
	*d = Duration(time.Since(start))
	return err
}

// forEach runs f(0..n-1) with at most limit at once and waits for all.
func forEach(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(i)
		}()
	}
	wg.Wait()
}
