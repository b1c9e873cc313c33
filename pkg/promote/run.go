package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/pkg/image"
)

// Status is what happened to one target.
type Status string

// Target statuses in a Report.
const (
	StatusPlanned       Status = "would-promote" // plan: would change
	StatusUnchanged     Status = "unchanged"     // already ran the image
	StatusPromoted      Status = "promoted"
	StatusFailed        Status = "failed"         // failed before changing anything
	StatusRestored      Status = "restored"       // changed, then put back
	StatusRestoreFailed Status = "restore-failed" // changed, and could not be put back
	StatusSkipped       Status = "skipped"        // not attempted because another target failed first
)

// Outcome is the result of a whole run; it maps onto ferry's exit codes.
type Outcome string

// Outcomes of a run.
const (
	OutcomePromoted      Outcome = "promoted"       // exit 0
	OutcomeUnchanged     Outcome = "unchanged"      // exit 0: every target already ran the image
	OutcomePlanned       Outcome = "planned"        // exit 0
	OutcomeFailed        Outcome = "failed"         // exit 1: failed, every changed target restored
	OutcomeBadInput      Outcome = "bad-input"      // exit 2: nothing changed
	OutcomeRestoreFailed Outcome = "restore-failed" // exit 3: a human is needed
)

// TargetReport is one target's part of a Report.
type TargetReport struct {
	Target    string        `json:"target"`
	Status    Status        `json:"status"`
	Before    *Snapshot     `json:"before,omitempty"`
	After     *Snapshot     `json:"after,omitempty"`
	Error     string        `json:"error,omitempty"`
	Restore   string        `json:"restore_error,omitempty"`
	Durations StepDurations `json:"durations"`
}

// StepDurations are how long each step took for a target.
type StepDurations struct {
	Snapshot Duration `json:"snapshot"`
	Release  Duration `json:"release,omitzero"`
	Verify   Duration `json:"verify,omitzero"`
	Restore  Duration `json:"restore,omitzero"`
}

// Duration marshals as fractional seconds, and reads them back.
type Duration time.Duration

// MarshalJSON writes seconds with millisecond precision.
func (d Duration) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, "%.3f", time.Duration(d).Seconds()), nil
}

// UnmarshalJSON reads seconds.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s float64
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: %w", err)
	}
	*d = Duration(s * float64(time.Second))
	return nil
}

// Report is the result of a run.
type Report struct {
	Command  string         `json:"command"`
	Source   string         `json:"source,omitempty"`
	Image    string         `json:"image,omitempty"`
	Digest   string         `json:"digest,omitempty"`
	Outcome  Outcome        `json:"result"`
	Error    string         `json:"error,omitempty"`
	Targets  []TargetReport `json:"targets"`
	Duration Duration       `json:"duration"`
}

// RolledBack lists the targets that were restored.
func (r *Report) RolledBack() []string {
	var out []string
	for _, t := range r.Targets {
		if t.Status == StatusRestored {
			out = append(out, t.Target)
		}
	}
	return out
}

// Options tune a run.
type Options struct {
	// Parallelism bounds how many targets are worked on at once.
	Parallelism int
	// RestoreTimeout bounds the restore of all targets. The restore runs
	// on a context that survives the caller's cancellation (SIGTERM), so
	// that a cancelled CI job still leaves production as it was.
	RestoreTimeout time.Duration
	// Logger receives progress lines.
	Logger Logger
}

func (o *Options) defaults() {
	if o.Parallelism <= 0 {
		o.Parallelism = 64
	}
	if o.RestoreTimeout <= 0 {
		o.RestoreTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = Discard
	}
}

// Plan resolves the source and snapshots every target; it changes nothing.
func Plan(ctx context.Context, src Source, targets []Target, o Options) (*Report, error) {
	o.defaults()
	r := &Report{Command: "plan", Source: src.String(), Targets: newTargetReports(targets)}
	start := time.Now()
	defer func() { r.Duration = Duration(time.Since(start)) }()
	img, err := prepare(ctx, src, targets, r, o)
	if err != nil {
		return r, err
	}
	r.Outcome = OutcomeUnchanged
	for i := range r.Targets {
		if !r.Targets[i].Before.UpToDate {
			r.Targets[i].Status = StatusPlanned
			r.Outcome = OutcomePlanned
			o.Logger.Logf(targets[i].String(), "would change %s → %s", r.Targets[i].Before.Image, img.Ref())
		} else {
			r.Targets[i].Status = StatusUnchanged
			o.Logger.Logf(targets[i].String(), "unchanged: already runs %s", img.Ref())
		}
	}
	return r, nil
}

// Inspect snapshots every target (the status command); it changes nothing.
func Inspect(ctx context.Context, targets []Target, o Options) (*Report, error) {
	o.defaults()
	r := &Report{Command: "status", Targets: newTargetReports(targets)}
	start := time.Now()
	defer func() { r.Duration = Duration(time.Since(start)) }()
	if err := snapshotAll(ctx, image.Image{}, targets, r, o); err != nil {
		return r, err
	}
	for i := range r.Targets {
		r.Targets[i].Status = StatusUnchanged
		o.Logger.Logf(targets[i].String(), "runs %s (revision %s)", r.Targets[i].Before.Image, r.Targets[i].Before.Revision)
	}
	r.Outcome = OutcomeUnchanged
	return r, nil
}

// Run promotes: resolve → snapshot all → release and verify (in parallel,
// bounded) → on any failure, restore every target that was changed (in
// parallel too, started newest first). The returned error is nil when every target runs the image
// and is healthy; Report.Outcome says what happened in every case.
func Run(ctx context.Context, src Source, targets []Target, o Options) (*Report, error) {
	o.defaults()
	r := &Report{Command: "promote", Source: src.String(), Targets: newTargetReports(targets)}
	start := time.Now()
	defer func() { r.Duration = Duration(time.Since(start)) }()

	img, err := prepare(ctx, src, targets, r, o)
	if err != nil {
		return r, err
	}

	// Release and verify. The first failure cancels the others: they are
	// restored anyway.
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	changed := make([]bool, len(targets))
	var mu sync.Mutex
	var firstErr error
	forEach(len(targets), o.Parallelism, func(i int) {
		t, tr := targets[i], &r.Targets[i]
		if tr.Before.UpToDate {
			tr.Status = StatusUnchanged
			o.Logger.Logf(t.String(), "unchanged: already runs %s", img.Ref())
			return
		}
		if work.Err() != nil {
			tr.Status = StatusSkipped
			return
		}
		err := step(&tr.Durations.Release, func() error {
			o.Logger.Logf(t.String(), "release: %s → %s", tr.Before.Image, img.Ref())
			return t.Release(work, img)
		})
		mu.Lock()
		changed[i] = true // a failed release may still have changed something
		mu.Unlock()
		if err == nil {
			err = step(&tr.Durations.Verify, func() error {
				o.Logger.Logf(t.String(), "verify: waiting until it is healthy")
				return t.Verify(work)
			})
		}
		if err != nil {
			switch {
			case ctx.Err() != nil:
				err = fmt.Errorf("interrupted (%v): %w", context.Cause(ctx), err)
			case errors.Is(err, context.Canceled) && context.Cause(work) != nil:
				err = fmt.Errorf("stopped because %v: %w", context.Cause(work), err)
			}
			tr.Status, tr.Error = StatusFailed, err.Error()
			o.Logger.Logf(t.String(), "failed: %v", err)
			mu.Lock()
			if firstErr == nil {
				firstErr = fmt.Errorf("%s: %w", t, err)
			}
			mu.Unlock()
			cancel(fmt.Errorf("%s failed", t))
			return
		}
		tr.Status = StatusPromoted
		o.Logger.Logf(t.String(), "promoted in %s", time.Duration(tr.Durations.Release+tr.Durations.Verify).Round(time.Millisecond))
	})
	if firstErr == nil && ctx.Err() != nil {
		firstErr = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	if firstErr == nil {
		r.Outcome = OutcomePromoted
		if allUnchanged(r) {
			r.Outcome = OutcomeUnchanged
		}
		// What each promoted target runs now, for the report; all at once.
		forEach(len(targets), o.Parallelism, func(i int) {
			if r.Targets[i].Status == StatusPromoted {
				if s, err := targets[i].Snapshot(ctx, img); err == nil {
					r.Targets[i].After = &s
				}
			}
		})
		return r, nil
	}

	// Restore every target that changed, on a context that the caller's
	// cancellation does not reach: newest first, and up to Parallelism at
	// once, so that the first targets released do not stay broken while
	// the others are put back one after another (a restore waits for its
	// rollout).
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), o.RestoreTimeout)
	defer rcancel()
	o.Logger.Logf("", "restoring every changed target (timeout %s)", o.RestoreTimeout)
	r.Outcome = OutcomeFailed
	var order []int // newest first
	for i := len(targets) - 1; i >= 0; i-- {
		if changed[i] {
			order = append(order, i)
		}
	}
	errs := make([]error, len(order))
	forEach(len(order), o.Parallelism, func(k int) {
		i := order[k]
		t, tr := targets[i], &r.Targets[i]
		if tr.Error == "" {
			tr.Error = "restored because another target failed: " + firstErr.Error()
		}
		err := step(&tr.Durations.Restore, func() error { return t.Restore(rctx, *tr.Before) })
		if err != nil {
			now := whatItRuns(ctx, t, img, tr.Before)
			tr.Status, tr.Restore = StatusRestoreFailed, err.Error()+"; "+now
			o.Logger.Logf(t.String(), "RESTORE FAILED: %v; %s", err, now)
			errs[k] = fmt.Errorf("%s: %w; %s", t, err, now)
			return
		}
		tr.Status = StatusRestored
		o.Logger.Logf(t.String(), "restored to %s (revision %s)", tr.Before.Image, tr.Before.Revision)
		if s, err := t.Snapshot(rctx, image.Image{}); err == nil {
			tr.After = &s
		}
	})
	var restoreErrs []error
	for _, err := range errs {
		if err != nil {
			restoreErrs = append(restoreErrs, err)
		}
	}
	if len(restoreErrs) > 0 {
		r.Outcome = OutcomeRestoreFailed
		err := &RestoreError{Cause: firstErr, Failed: restoreErrs}
		r.Error = err.Error()
		return r, err
	}
	r.Error = firstErr.Error()
	return r, firstErr
}

// Describer is a Target that can say what it runs now, whatever state it
// is in (Snapshot refuses some states). The pipeline asks it about a
// target it could not restore, for the human who has to step in.
type Describer interface {
	Describe(ctx context.Context) (string, error)
}

// whatItRuns says what a target that could not be restored runs now, as
// far as ferry can tell, and what it ran before the promotion.
func whatItRuns(ctx context.Context, t Target, img image.Image, before *Snapshot) string {
	was := "before the promotion it ran " + before.Image
	if before.Revision != "" {
		was += " (revision " + before.Revision + ")"
	}
	var d Describer
	for u := t; u != nil; {
		if x, ok := u.(Describer); ok {
			d = x
			break
		}
		w, ok := u.(interface{ Unwrap() Target })
		if !ok {
			break
		}
		u = w.Unwrap()
	}
	if d != nil {
		// The restore deadline may be spent: this read gets its own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		now, err := d.Describe(dctx)
		if err == nil {
			return "it now runs " + now + "; " + was
		}
		return fmt.Sprintf("what it runs now could not be read (%v): the last ferry knew, its release asked for %s; %s", err, img.Ref(), was)
	}
	return fmt.Sprintf("the last ferry knew, its release asked for %s; %s", img.Ref(), was)
}

// RestoreError is a failed promotion whose restore failed too: production
// needs a human.
type RestoreError struct {
	Cause  error
	Failed []error
}

func (e *RestoreError) Error() string {
	msg := fmt.Sprintf("promotion failed (%v) and %d target(s) could not be restored:", e.Cause, len(e.Failed))
	for _, f := range e.Failed {
		msg += "\n  " + f.Error()
	}
	return msg
}

func (e *RestoreError) Unwrap() []error { return append([]error{e.Cause}, e.Failed...) }

func newTargetReports(targets []Target) []TargetReport {
	out := make([]TargetReport, len(targets))
	for i, t := range targets {
		out[i] = TargetReport{Target: t.String()}
	}
	return out
}

// prepare resolves src and snapshots every target, as Plan and Run begin.
func prepare(ctx context.Context, src Source, targets []Target, r *Report, o Options) (image.Image, error) {
	img, err := resolve(ctx, src, r, o)
	if err != nil {
		return image.Image{}, err
	}
	return img, snapshotAll(ctx, img, targets, r, o)
}

func resolve(ctx context.Context, src Source, r *Report, o Options) (image.Image, error) {
	img, err := src.Resolve(ctx)
	if err != nil {
		r.Outcome, r.Error = OutcomeFailed, err.Error()
		if IsInput(err) {
			r.Outcome = OutcomeBadInput
		}
		return img, err
	}
	r.Image, r.Digest = img.Ref(), img.Digest.String()
	o.Logger.Logf("", "source %s runs %s", src, img)
	return img, nil
}

// snapshotAll snapshots every target; any failure stops the run before
// anything changed.
func snapshotAll(ctx context.Context, img image.Image, targets []Target, r *Report, o Options) error {
	errs := make([]error, len(targets))
	forEach(len(targets), o.Parallelism, func(i int) {
		t, tr := targets[i], &r.Targets[i]
		var s Snapshot
		errs[i] = step(&tr.Durations.Snapshot, func() (err error) {
			s, err = t.Snapshot(ctx, img)
			return err
		})
		if errs[i] != nil {
			tr.Status, tr.Error = StatusFailed, errs[i].Error()
			errs[i] = fmt.Errorf("%s: %w", t, errs[i])
			return
		}
		tr.Before = &s
		o.Logger.Logf(t.String(), "snapshot: runs %s (revision %s)", s.Image, s.Revision)
	})
	err := errors.Join(errs...)
	if err == nil {
		return nil
	}
	r.Outcome, r.Error = OutcomeFailed, err.Error()
	if IsInput(err) {
		r.Outcome = OutcomeBadInput
	}
	for i := range r.Targets {
		if r.Targets[i].Status == "" {
			r.Targets[i].Status = StatusSkipped
		}
	}
	return err
}

func allUnchanged(r *Report) bool {
	for _, t := range r.Targets {
		if t.Status != StatusUnchanged {
			return false
		}
	}
	return true
}

func step(d *Duration, f func() error) error {
	start := time.Now()
	err := f()
	*d = Duration(time.Since(start))
	return err
}

// forEach runs f(0..n-1) with at most limit at once and waits for all.
func forEach(n, limit int, f func(i int)) {
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
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
