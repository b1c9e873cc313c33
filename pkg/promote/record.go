package promote

import (
	"context"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// A promotion leaves a Record on every target it changes, written before
// the first change and kept up to date at every step, where a later
// process finds it without the CI machine that wrote it: on Kubernetes a
// Lease beside the Deployment (which is also the lock), on Heroku an image
// in the app's own registry. A run killed at any moment (kill -9, an OOM,
// a reclaimed runner) thus leaves enough behind for the next run, or
// `ferry recover`, to finish its work: restore the recorded snapshot, or
// close a record whose release was proven healthy.

// Step is how far a promotion got on one target.
type Step string

// Steps a Record goes through, in order. Restoring may follow any step
// from Releasing on; Done ends every record.
const (
	// StepSnapshotted: the snapshot is recorded; nothing was sent.
	StepSnapshotted Step = "snapshotted"
	// StepReleasing: the release is under way (the copy, the request);
	// the target may or may not run the image.
	StepReleasing Step = "releasing"
	// StepReleased: the release was answered and is not yet proven
	// healthy.
	StepReleased Step = "released"
	// StepVerified: the release was proven healthy.
	StepVerified Step = "verified"
	// StepRestoring: a restore to the snapshot was started.
	StepRestoring Step = "restoring"
	// StepDone: nothing is left to do.
	StepDone Step = "done"
)

// Unfinished reports whether a record at step may leave a target running
// something nobody proved healthy.
func (s Step) Unfinished() bool {
	return s == StepReleasing || s == StepReleased || s == StepRestoring
}

// RunInfo names a run: its id (the lock's holder), the CI run's URL and
// the commit it promotes.
type RunInfo struct {
	ID     string `json:"id"`
	URL    string `json:"url,omitempty"`
	Commit string `json:"commit,omitempty"`
}

func (r RunInfo) String() string {
	s := "run " + r.ID
	if r.URL != "" {
		s += " (" + r.URL + ")"
	}
	if r.Commit != "" {
		s += " of commit " + r.Commit
	}
	return s
}

// Record is one target's promotion as far as it got. It is a plain value:
// it survives a JSON round trip, so another process can act on it.
type Record struct {
	Run RunInfo `json:"run"`
	// Image is what the run promotes ("repo@sha256:..."), Digest its
	// digest; for a target with a container mapping, Image is each
	// container's ("app=repo@sha256:..., proxy=...") and Digest empty.
	Image  string `json:"image,omitempty"`
	Digest string `json:"digest,omitempty"`
	Step   Step   `json:"step"`
	// Snapshot is the target's rollback point, Change what the release
	// did as far as it is known (nil before the release answered).
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	Change   *Change   `json:"change,omitempty"`
	// Updated is when the record was last written.
	Updated time.Time `json:"updated"`
}

// Journal is a Target that keeps a Record of a promotion where a later
// process finds it, and that is a lock: one run at a time works on the
// target.
type Journal interface {
	// Lock takes the target's lock for run. A live holder is waited for
	// at most wait (zero: not at all); a holder that stopped renewing
	// its lock is taken over. Lock returns the record the previous run
	// left when it is unfinished (see Step.Unfinished), nil otherwise.
	// A lock held by another run past wait is a *LockedError.
	Lock(ctx context.Context, run RunInfo, wait time.Duration) (Lock, *Record, error)
}

// RecordReader is a Journal that can read its record without the lock
// (ferry status).
type RecordReader interface {
	// Peek returns the target's last record, nil when it has none.
	Peek(ctx context.Context) (*Record, error)
}

// Lock is a target's lock, held and renewed until Unlock.
type Lock interface {
	// Save writes the record. An error means it may not have been
	// written: the pipeline changes nothing it could not record.
	Save(ctx context.Context, r Record) error
	// Unlock gives the lock up, leaving the last record saved.
	Unlock(ctx context.Context) error
}

// LockedError is a target another run holds the lock of.
type LockedError struct {
	// Holder is the run holding it, as far as its record tells.
	Holder RunInfo
	// Waited is how long this run waited.
	Waited time.Duration
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("another promotion holds the lock: %s; waited %s — let it finish, or raise FERRY_LOCK_WAIT", e.Holder, e.Waited.Round(time.Second))
}

// Found is what a target runs compared with a record: its snapshot, the
// release the record made, or something else.
type Found string

// What a Recoverer finds.
const (
	FoundSnapshot Found = "snapshot"
	FoundChange   Found = "release"
	FoundOther    Found = "other"
)

// Recoverer is a Target that can place what it runs now against a
// promotion another process left: the recorded snapshot s, the release c
// (whose State may be empty when the run died before the release
// answered; c.Image is then what it asked for). It returns a Change that
// Verify and Restore accept, and what the target runs now, for the
// report.
type Recoverer interface {
	Adopt(ctx context.Context, s Snapshot, c Change) (found Found, adopted Change, now string, err error)
}

// Action is what recovery does with an unfinished record.
type Action string

// Recovery actions.
const (
	// ActionClose: nothing to undo; the record is closed.
	ActionClose Action = "close"
	// ActionRestore: put the recorded snapshot back.
	ActionRestore Action = "restore"
	// ActionVerify: verify the release now; keep it when healthy,
	// restore the snapshot when not.
	ActionVerify Action = "verify"
	// ActionRefuse: someone else changed the target since the record:
	// not ferry's to overwrite, a human must look.
	ActionRefuse Action = "refuse"
)

// Decide says what to do with a record at step, given what the target
// runs now. verify is the FERRY_RECOVER=verify setting: a release nobody
// proved healthy is verified instead of restored. It only reads its
// arguments.
func Decide(step Step, found Found, verify bool) (Action, string) {
	switch {
	case !step.Unfinished():
		return ActionClose, fmt.Sprintf("the record says %s: nothing left to do", step)
	case found == FoundOther:
		return ActionRefuse, "the target runs neither the recorded snapshot nor the recorded release: someone else changed it since; not overwriting it"
	case found == FoundSnapshot:
		// A restore may have been started and not waited for, or the
		// release never landed: restoring is idempotent and waits.
		return ActionRestore, "the target runs the recorded snapshot; making sure it has rolled out"
	case step == StepRestoring:
		return ActionRestore, "the run was restoring when it stopped; finishing the restore"
	case verify:
		return ActionVerify, "the release was never proven healthy; verifying it now (FERRY_RECOVER=verify)"
	}
	return ActionRestore, "the release was never proven healthy; restoring the recorded snapshot"
}

// Recovery is what a run found on a target and did about it, for the
// report.
type Recovery struct {
	// Run is the run that left the record, Image what it promoted and
	// Step how far it got.
	Run   RunInfo `json:"run"`
	Image string  `json:"image,omitempty"`
	Step  Step    `json:"step"`
	// Found is what the target ran, Now in words.
	Found Found  `json:"found,omitempty"`
	Now   string `json:"now,omitempty"`
	// Action is what was done, and Result how it ended: "closed",
	// "restored", "kept" (verified healthy), "refused" or "failed".
	Action Action `json:"action"`
	Result string `json:"result"`
	Error  string `json:"error,omitempty"`
}

// String says what was found and done, in one line for reports.
func (v Recovery) String() string {
	s := fmt.Sprintf("found an unfinished promotion of %s by %s at step %s", v.Image, v.Run, v.Step)
	if v.Now != "" {
		s += "; it ran " + v.Now
	}
	s += "; " + string(v.Action) + ": " + v.Result
	if v.Error != "" {
		s += " (" + v.Error + ")"
	}
	return s
}

// LockPoll is how often a run waiting for a lock whose holder renews it
// within ttl looks at it again: a tenth of ttl, within 200ms and 2s.
func LockPoll(ttl time.Duration) time.Duration {
	return min(max(ttl/10, 200*time.Millisecond), 2*time.Second)
}

// LockWaiter is how a Journal waits for a lock another run holds: at
// most Wait from when it was made, looking again every Poll, and telling
// Log once per holder.
type LockWaiter struct {
	Wait, Poll time.Duration
	Log        func(holder RunInfo)

	start time.Time
	told  string
}

// Held is called each time the lock is found held by holder: it waits
// one Poll and returns nil, or returns a *LockedError once Wait has
// passed (at once for a zero Wait), or the context's error.
func (w *LockWaiter) Held(ctx context.Context, holder RunInfo) error {
	if w.start.IsZero() {
		w.start = time.Now()
	}
	if waited := time.Since(w.start); waited >= w.Wait {
		return &LockedError{Holder: holder, Waited: waited}
	}
	if w.told != holder.ID && w.Log != nil {
		w.Log(holder)
		w.told = holder.ID
	}
	return httpx.Sleep(ctx, w.Poll)
}

// Holder is the run holding a lock as far as its record tells: the
// record's run when it is the holder's, the bare id otherwise.
func Holder(id string, rec *Record) RunInfo {
	if rec != nil && rec.Run.ID == id {
		return rec.Run
	}
	return RunInfo{ID: id}
}

// Heartbeat renews a held lock every third of ttl, each renewal bounded by
// half of it, until stop is closed; then it closes done. A renewal that
// fails goes to warn: the lock holds until ttl after the last one that
// did not. Journals run it as their lock's goroutine.
func Heartbeat(ttl time.Duration, stop <-chan struct{}, done chan<- struct{}, renew func(context.Context) error, warn func(error)) {
	defer close(done)
	tick := time.NewTicker(max(ttl/3, 100*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), ttl/2)
		err := renew(ctx)
		cancel()
		if err != nil {
			warn(err)
		}
	}
}
