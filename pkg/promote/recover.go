package promote

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RecordOptions tune the records and locks of targets that keep them
// (see [Journal]).
type RecordOptions struct {
	// Run names this run in the records it writes and the locks it holds.
	Run RunInfo
	// LockWait bounds how long a run waits for another run's lock on a
	// target; zero refuses at once.
	LockWait time.Duration
	// Verify makes recovery verify a release nobody proved healthy, and
	// keep it when healthy, instead of restoring the snapshot.
	Verify bool
}

// saveTimeout bounds one write of a record. It runs on a context the
// run's cancellation does not reach: a record must be made safe even
// when the run is being cancelled.
const saveTimeout = 15 * time.Second

// Recover takes every target's lock and finishes what an earlier run
// left unfinished (`ferry recover`): it restores the recorded snapshot
// of a release nobody proved healthy (or verifies it, see
// RecordOptions.Verify), closes a record whose release was proven, and
// refuses to touch a target someone else changed since the record.
func Recover(ctx context.Context, targets []Target, o Options) (*Report, error) {
	r := start("recover", targets, o)
	defer r.stop()
	defer r.unlockAll(ctx)
	if err := r.lockAll(ctx); err != nil {
		return r.report, r.report.Fail(err)
	}
	r.report.Outcome = OutcomeUnchanged
	for i := range r.report.Targets {
		tr := &r.report.Targets[i]
		if tr.Recovery != nil {
			tr.Status, r.report.Outcome = StatusRecovered, OutcomeRecovered
		} else {
			tr.Status = StatusUnchanged
		}
	}
	return r.report, nil
}

// lockAll is step 0 of a promotion: take the lock of every target that
// keeps records, and recover what an earlier run left unfinished there,
// before anything else is read. A target that cannot be recovered ends
// the run (a *RestoreError: a human must look).
func (r *run) lockAll(ctx context.Context) error {
	r.locks = make([]Lock, len(r.targets))
	r.saved = make([]Step, len(r.targets))
	r.restored = make([]bool, len(r.targets))
	errs := make([]error, len(r.targets))
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		errs[i] = r.lockOne(ctx, i)
	})
	var failed, others []error
	for _, err := range errs {
		var re *recoverError
		switch {
		case err == nil:
		case errors.As(err, &re):
			failed = append(failed, err)
		default:
			others = append(others, err)
		}
	}
	if len(others) > 0 {
		return errors.Join(others...)
	}
	if len(failed) > 0 {
		return &RestoreError{Cause: errors.New("an earlier promotion was left unfinished and could not be recovered"), Failed: failed}
	}
	return nil
}

// recoverError is a target whose unfinished record could not be
// recovered.
type recoverError struct{ err error }

func (e *recoverError) Error() string { return e.err.Error() }
func (e *recoverError) Unwrap() error { return e.err }

func (r *run) lockOne(ctx context.Context, i int) error {
	t, tr := r.targets[i], &r.report.Targets[i]
	j, ok := As[Journal](t)
	if !ok {
		return nil
	}
	ro := r.o.Records
	start := time.Now()
	l, rec, err := j.Lock(ctx, ro.Run, ro.LockWait)
	if err != nil {
		tr.Status, tr.Error = StatusFailed, err.Error()
		var le *LockedError
		if errors.As(err, &le) {
			// Nothing changed: the user decides whether to wait longer.
			return Input(fmt.Errorf("%s: %w", t, err))
		}
		return fmt.Errorf("%s: taking the lock: %w", t, err)
	}
	r.locks[i] = l
	if waited := time.Since(start); waited > time.Second {
		r.o.Logger.Logf(t.String(), "lock: taken after waiting %s for another run", waited.Round(100*time.Millisecond))
	}
	if rec == nil {
		return nil
	}
	return r.recoverOne(ctx, i, *rec)
}

// recoverOne acts on the unfinished record rec of target i (see Decide).
func (r *run) recoverOne(ctx context.Context, i int, rec Record) error {
	t, tr := r.targets[i], &r.report.Targets[i]
	rv := &Recovery{Run: rec.Run, Image: rec.Image, Step: rec.Step}
	tr.Recovery = rv
	r.o.Logger.Logf(t.String(), "recover: found an unfinished promotion of %s by %s, at step %q (recorded %s)", rec.Image, rec.Run, rec.Step, rec.Updated.Format(time.RFC3339))
	if rec.Snapshot == nil {
		rv.Action, rv.Result = ActionClose, "closed"
		return r.closeRecord(ctx, i, rec)
	}
	s := *rec.Snapshot
	c := Change{Image: rec.Image}
	if rec.Change != nil {
		c = *rec.Change
	}
	found, adopted, now := FoundOther, c, ""
	if rc, ok := As[Recoverer](t); ok {
		var err error
		found, adopted, now, err = rc.Adopt(ctx, s, c)
		if err != nil {
			rv.Result, rv.Error = "failed", err.Error()
			return &recoverError{fmt.Errorf("%s: reading it to recover %s's promotion: %w", t, rec.Run, err)}
		}
	}
	rv.Found, rv.Now = found, now
	action, why := Decide(rec.Step, found, r.o.Records.Verify)
	rv.Action = action
	r.o.Logger.Logf(t.String(), "recover: it runs %s; %s", now, why)
	switch action {
	case ActionClose:
		rv.Result = "closed"
		return r.closeRecord(ctx, i, rec)
	case ActionRefuse:
		rv.Result, rv.Error = "refused", why
		// The next run starts from what runs now; this one tells the
		// human, once.
		_ = r.closeRecord(ctx, i, rec)
		err := fmt.Errorf("%s's promotion of %s was left unfinished, and %s (it runs %s; the record's snapshot was %s)", rec.Run, rec.Image, why, now, describeSeen(s.Seen))
		tr.Status, tr.Restore = StatusRestoreFailed, err.Error()
		return &recoverError{fmt.Errorf("%s: %w", t, err)}
	case ActionVerify:
		r.o.Logger.Logf(t.String(), "recover: verify: waiting until %s is healthy", rec.Image)
		err := t.Verify(ctx, s, adopted)
		if err == nil {
			rv.Result = "kept"
			r.o.Logger.Logf(t.String(), "recover: %s is healthy; keeping it", rec.Image)
			return r.closeRecord(ctx, i, rec)
		}
		r.o.Logger.Logf(t.String(), "recover: verify failed (%v); restoring", err)
	}
	rec.Step, rec.Change = StepRestoring, &adopted
	if err := r.write(ctx, i, rec); err != nil {
		r.o.Logger.Logf(t.String(), "WARNING: recover: could not update the record: %v", err)
	}
	r.o.Logger.Logf(t.String(), "recover: restoring %s", describeSeen(s.Seen))
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.o.RestoreTimeout)
	defer cancel()
	err := timed(&tr.Durations.Restore, func() error { return t.Restore(rctx, s, adopted) })
	if err != nil {
		rv.Result, rv.Error = "failed", err.Error()
		now := whatItRuns(ctx, t, changer{name: "release", noun: "promotion"}, s, adopted)
		tr.Status, tr.Restore = StatusRestoreFailed, err.Error()+"; "+now
		return &recoverError{fmt.Errorf("%s: restoring %s's unfinished promotion: %w; %s", t, rec.Run, err, now)}
	}
	rv.Result = "restored"
	r.restored[i] = true
	r.o.Logger.Logf(t.String(), "recover: restored to %s", describeSeen(s.Seen))
	return r.closeRecord(ctx, i, rec)
}

// closeRecord marks rec done.
func (r *run) closeRecord(ctx context.Context, i int, rec Record) error {
	rec.Step = StepDone
	if err := r.write(ctx, i, rec); err != nil {
		return fmt.Errorf("%s: closing the record of %s: %w", r.targets[i], rec.Run, err)
	}
	r.saved[i] = ""
	return nil
}

// write saves rec as target i's record on a context that survives the
// run's cancellation.
func (r *run) write(ctx context.Context, i int, rec Record) error {
	l := r.locks[i]
	if l == nil {
		return nil
	}
	rec.Updated = time.Now().UTC()
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	if err := l.Save(sctx, rec); err != nil {
		return err
	}
	r.saved[i] = rec.Step
	return nil
}

// note records that this run reached step on target i.
func (r *run) note(ctx context.Context, i int, step Step) error {
	if !r.records || r.locks == nil || r.locks[i] == nil {
		return nil
	}
	rec := Record{Run: r.o.Records.Run, Image: r.report.Image, Digest: r.report.Digest, Step: step, Snapshot: &r.snaps[i], Change: r.changes[i]}
	if cs := r.report.Targets[i].Containers; len(cs) > 0 {
		// Each container's image; no one digest.
		rec.Image, rec.Digest = MappedImage(cs), ""
	}
	if err := r.write(ctx, i, rec); err != nil {
		return fmt.Errorf("recording step %s: %w", step, err)
	}
	return nil
}

// unlockAll closes this run's finished records and gives every lock up.
// A record left at an unfinished step (a restore that failed) stays for
// the next run.
func (r *run) unlockAll(ctx context.Context) {
	uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), saveTimeout)
	defer cancel()
	forEach(len(r.locks), r.o.Parallelism, func(i int) {
		l := r.locks[i]
		if l == nil {
			return
		}
		if r.saved[i] != "" && !r.saved[i].Unfinished() && r.saved[i] != StepDone {
			if err := r.note(uctx, i, StepDone); err != nil {
				r.o.Logger.Logf(r.targets[i].String(), "WARNING: %v", err)
			}
		}
		if err := l.Unlock(uctx); err != nil {
			r.o.Logger.Logf(r.targets[i].String(), "WARNING: could not give the lock up (it expires by itself): %v", err)
		}
	})
}

// noteOrWarn is note for steps after the first change: the run goes on
// when the record cannot be written (the previous step's record still
// leads the next run to a restore), and says so.
func (r *run) noteOrWarn(ctx context.Context, i int, step Step) {
	if err := r.note(ctx, i, step); err != nil {
		r.o.Logger.Logf(r.targets[i].String(), "WARNING: %v", err)
	}
}

// peek says, for the status command, whether target i holds a promotion
// an interrupted run left unfinished.
func (r *run) peek(ctx context.Context, i int) {
	t, tr := r.targets[i], &r.report.Targets[i]
	rr, ok := As[RecordReader](t)
	if !ok {
		return
	}
	rec, err := rr.Peek(ctx)
	switch {
	case err != nil:
		r.o.Logger.Logf(t.String(), "its promotion record could not be read: %v", err)
	case rec != nil && rec.Step.Unfinished():
		tr.Error = fmt.Sprintf("a promotion of %s by %s stopped at step %s (recorded %s): the next ferry promote, or ferry recover, settles it", rec.Image, rec.Run, rec.Step, rec.Updated.Format(time.RFC3339))
		r.o.Logger.Logf(t.String(), "%s", tr.Error)
	case rec != nil:
		r.o.Logger.Logf(t.String(), "last promotion: %s by %s, %s at %s", rec.Image, rec.Run, rec.Step, rec.Updated.Format(time.RFC3339))
	}
}
