package promote

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDecide(t *testing.T) {
	cases := []struct {
		step   Step
		found  Found
		verify bool
		want   Action
	}{
		{StepSnapshotted, FoundSnapshot, false, ActionClose},
		{StepSnapshotted, FoundOther, false, ActionClose}, // nothing was sent: not ours
		{StepVerified, FoundChange, false, ActionClose},
		{StepVerified, FoundOther, false, ActionClose}, // proven, then someone moved on
		{StepDone, FoundOther, false, ActionClose},
		{StepReleasing, FoundSnapshot, false, ActionRestore}, // never landed: restore is a no-op that waits
		{StepReleasing, FoundChange, false, ActionRestore},
		{StepReleasing, FoundChange, true, ActionVerify},
		{StepReleasing, FoundOther, false, ActionRefuse},
		{StepReleased, FoundChange, false, ActionRestore},
		{StepReleased, FoundChange, true, ActionVerify},
		{StepReleased, FoundSnapshot, true, ActionRestore},
		{StepReleased, FoundOther, true, ActionRefuse},
		{StepRestoring, FoundChange, false, ActionRestore},
		{StepRestoring, FoundChange, true, ActionRestore}, // a restore started is finished, not second-guessed
		{StepRestoring, FoundSnapshot, false, ActionRestore},
		{StepRestoring, FoundOther, false, ActionRefuse},
	}
	for _, c := range cases {
		got, why := Decide(c.step, c.found, c.verify)
		if got != c.want || why == "" {
			t.Errorf("Decide(%s, %s, verify=%v) = %s (%q), want %s", c.step, c.found, c.verify, got, why, c.want)
		}
	}
}

// memJournal is a Journal kept in memory: one record, one holder.
type memJournal struct {
	mu      sync.Mutex
	holder  string
	rec     *Record
	history []Step
}

type memLock struct {
	j   *memJournal
	run RunInfo
}

func (j *memJournal) Lock(_ context.Context, run RunInfo, wait time.Duration) (Lock, *Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.holder != "" {
		return nil, nil, &LockedError{Holder: RunInfo{ID: j.holder}, Waited: wait}
	}
	j.holder = run.ID
	var left *Record
	if j.rec != nil && j.rec.Step.Unfinished() {
		r := *j.rec
		left = &r
	}
	return &memLock{j: j, run: run}, left, nil
}

func (l *memLock) Save(_ context.Context, r Record) error {
	l.j.mu.Lock()
	defer l.j.mu.Unlock()
	l.j.rec = &r
	l.j.history = append(l.j.history, r.Step)
	return nil
}

func (l *memLock) Unlock(context.Context) error {
	l.j.mu.Lock()
	defer l.j.mu.Unlock()
	l.j.holder = ""
	return nil
}

// journaled is a fakeTarget with a journal and a Recoverer that finds
// what found says.
type journaled struct {
	*fakeTarget
	*memJournal
	found Found
}

func (j *journaled) Adopt(_ context.Context, s Snapshot, c Change) (Found, Change, string, error) {
	j.record("adopt")
	if c.State == nil {
		c.State = j.state("release")
	}
	return j.found, c, "something", nil
}

func newJournaled(name string) *journaled {
	return &journaled{fakeTarget: &fakeTarget{name: name}, memJournal: &memJournal{}}
}

func TestRunRecordsEveryStepBeforeItsChange(t *testing.T) {
	j := newJournaled("a")
	o := Options{Records: RecordOptions{Run: RunInfo{ID: "1", URL: "https://ci/run/1"}}}
	if _, err := Run(context.Background(), fakeSource{}, []Target{j}, o); err != nil {
		t.Fatal(err)
	}
	want := []Step{StepReleasing, StepReleased, StepVerified, StepDone}
	if strings.Join(steps(j.history), " ") != strings.Join(steps(want), " ") {
		t.Errorf("recorded %v, want %v", j.history, want)
	}
	if j.rec.Snapshot == nil || j.rec.Change == nil || j.rec.Image != img.Ref() || j.rec.Run.URL != "https://ci/run/1" {
		t.Errorf("last record %+v", j.rec)
	}
	if j.holder != "" {
		t.Errorf("lock still held by %s", j.holder)
	}

	f := newJournaled("b")
	f.verifyErr = errors.New("crashing")
	if _, err := Run(context.Background(), fakeSource{}, []Target{f}, o); err == nil {
		t.Fatal("want an error")
	}
	want = []Step{StepReleasing, StepReleased, StepRestoring, StepDone}
	if strings.Join(steps(f.history), " ") != strings.Join(steps(want), " ") {
		t.Errorf("recorded %v, want %v", f.history, want)
	}
}

func steps(s []Step) []string {
	out := make([]string, len(s))
	for i, x := range s {
		out[i] = string(x)
	}
	return out
}

func TestRunRecoversBeforeItPromotes(t *testing.T) {
	left := func(step Step) *Record {
		f := &fakeTarget{name: "a"}
		s := Snapshot{Seen: Seen{Image: "a:v0"}, State: f.state("snapshot")}
		return &Record{Run: RunInfo{ID: "dead"}, Image: "ghcr.io/acme/shop@sha256:bad", Step: step, Snapshot: &s}
	}
	cases := []struct {
		name    string
		rec     *Record
		found   Found
		verify  bool
		verErr  error
		restore bool
		result  string
		exit3   bool
	}{
		{name: "released, not proven: restored", rec: left(StepReleased), found: FoundChange, restore: true, result: "restored"},
		{name: "verify setting, healthy: kept", rec: left(StepReleased), found: FoundChange, verify: true, result: "kept"},
		{name: "verify setting, unhealthy: restored", rec: left(StepReleasing), found: FoundChange, verify: true, verErr: errors.New("crash"), restore: true, result: "restored"},
		{name: "verified: closed", rec: left(StepVerified), found: FoundChange, result: ""},
		{name: "someone else's: refused", rec: left(StepRestoring), found: FoundOther, result: "refused", exit3: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			j := newJournaled("a")
			j.rec, j.found, j.verifyErr = c.rec, c.found, c.verErr
			o := Options{Records: RecordOptions{Run: RunInfo{ID: "2"}, Verify: c.verify}}
			rep, err := Run(context.Background(), fakeSource{}, []Target{j}, o)
			if c.exit3 {
				checkRefused(t, j, rep, err)
				return
			}
			if c.verErr == nil && err != nil {
				t.Fatal(err)
			}
			if j.did("restore") != c.restore {
				t.Errorf("restore called: %v, want %v (calls %v)", j.did("restore"), c.restore, j.calls)
			}
			rv := rep.Targets[0].Recovery
			switch {
			case c.result == "" && rv != nil:
				t.Errorf("a finished record was recovered: %+v", rv)
			case c.result != "" && (rv == nil || rv.Result != c.result || rv.Run.ID != "dead"):
				t.Errorf("recovery %+v, want result %s from run dead", rv, c.result)
			}
			if c.result == "restored" && j.calls[0] != "adopt" {
				t.Errorf("the restore came after %v: recovery must come first", j.calls)
			}
		})
	}
}

// checkRefused checks a run that found someone else's change under an
// interrupted promotion: exit 3 before any release, the record closed,
// the target restore-failed saying why.
func checkRefused(t *testing.T, j *journaled, rep *Report, err error) {
	t.Helper()
	if OutcomeOf(err) != OutcomeRestoreFailed || !strings.Contains(err.Error(), "someone else") || j.did("release") {
		t.Fatalf("want a refusal before any release, got %v (calls %v)", err, j.calls)
	}
	if j.rec.Step != StepDone {
		t.Errorf("refused record left at %s: every later run would stop on it", j.rec.Step)
	}
	if tr := rep.Targets[0]; tr.Status != StatusRestoreFailed || !strings.Contains(tr.Restore, "someone else") {
		t.Errorf("target report %+v: want restore-failed saying why", tr)
	}
}

func TestLockedTargetIsRefusedWithoutChange(t *testing.T) {
	j := newJournaled("a")
	j.holder = "other"
	_, err := Run(context.Background(), fakeSource{}, []Target{j}, Options{})
	var le *LockedError
	if !IsInput(err) || !errors.As(err, &le) || len(j.calls) != 0 {
		t.Fatalf("got %v, calls %v", err, j.calls)
	}
}

func TestLockWaiter(t *testing.T) {
	var told []string
	w := &LockWaiter{Wait: 50 * time.Millisecond, Poll: 10 * time.Millisecond, Log: func(h RunInfo) { told = append(told, h.ID) }}
	ctx := context.Background()
	polls := 0
	var err error
	for err == nil {
		err = w.Held(ctx, RunInfo{ID: "a"})
		polls++
	}
	var le *LockedError
	if !errors.As(err, &le) || le.Holder.ID != "a" || le.Waited < 50*time.Millisecond || polls < 3 {
		t.Fatalf("after %d polls: %v", polls, err)
	}
	if len(told) != 1 {
		t.Errorf("told %v, want the holder once", told)
	}
	now := &LockWaiter{Poll: time.Hour}
	if err := now.Held(ctx, RunInfo{ID: "b"}); !errors.As(err, &le) {
		t.Errorf("a zero wait: %v, want a LockedError at once", err)
	}
}

// rollbackJournaled is a journaled target that can roll back.
type rollbackJournaled struct{ *journaled }

func (r rollbackJournaled) Rollback(_ context.Context, _ Snapshot, _ string) (Change, error) {
	r.record("rollback")
	return Change{Image: "a:v0", State: r.state("release")}, nil
}

func TestRollbackHoldsTheLocksAndRecordsNothing(t *testing.T) {
	j := rollbackJournaled{newJournaled("a")}
	if _, err := Rollback(context.Background(), []Target{j}, "", Options{Records: RecordOptions{Run: RunInfo{ID: "r"}}}); err != nil {
		t.Fatal(err)
	}
	if len(j.history) != 0 || j.holder != "" || !j.did("rollback") {
		t.Errorf("records %v, holder %q, calls %v: want the lock taken and given back, no record", j.history, j.holder, j.calls)
	}
	j.holder, j.calls = "a promotion", nil
	_, err := Rollback(context.Background(), []Target{j}, "", Options{})
	var le *LockedError
	if !errors.As(err, &le) || j.did("snapshot") {
		t.Errorf("a rollback while a promotion holds the lock: %v (calls %v)", err, j.calls)
	}
}

// A rollback that finds an interrupted promotion restores it and is done:
// what ran before the promotion is what it wanted.
func TestRollbackAfterRecoveryIsDone(t *testing.T) {
	j := rollbackJournaled{newJournaled("a")}
	s := Snapshot{Seen: Seen{Image: "a:v0"}, State: j.state("snapshot")}
	j.rec, j.found = &Record{Run: RunInfo{ID: "dead"}, Image: "bad", Step: StepReleased, Snapshot: &s}, FoundChange
	rep, err := Rollback(context.Background(), []Target{j}, "", Options{})
	if err != nil || rep.Outcome != OutcomeRolledBack || rep.Targets[0].Status != StatusRolledBack {
		t.Fatalf("%v: %+v", err, rep)
	}
	if !j.did("restore") || j.did("rollback") {
		t.Errorf("calls %v: want the recovery's restore and no rollback past it", j.calls)
	}
}

func (j *memJournal) Peek(context.Context) (*Record, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.rec, nil
}

func TestStatusTellsOfAnInterruptedPromotion(t *testing.T) {
	j := newJournaled("a")
	s := Snapshot{Seen: Seen{Image: "a:v0"}, State: j.state("snapshot")}
	j.rec = &Record{Run: RunInfo{ID: "dead", URL: "https://ci/9"}, Image: "bad", Step: StepReleased, Snapshot: &s}
	rep, err := Inspect(context.Background(), []Target{j}, Options{})
	if err != nil || !strings.Contains(rep.Targets[0].Error, "https://ci/9") || !strings.Contains(rep.Targets[0].Error, "ferry recover") {
		t.Fatalf("%v: %+v", err, rep.Targets[0])
	}
	if j.holder != "" || j.did("restore") {
		t.Errorf("status took the lock or restored (calls %v)", j.calls)
	}
	j.rec.Step = StepDone
	if rep, _ := Inspect(context.Background(), []Target{j}, Options{}); rep.Targets[0].Error != "" {
		t.Errorf("a finished record is reported: %+v", rep.Targets[0])
	}
}

// A release in a gated run is proven only when its wave's gates and every
// later wave passed: a run killed before then leaves "released", which
// recovery restores, as the run itself would have on a failure.
func TestGatedRunProvesReleasesOnlyAfterEveryWave(t *testing.T) {
	a, b := newJournaled("a"), newJournaled("b")
	g := &stepsAtGate{fakeGate: fakeGate{name: "errors"}, journals: []*memJournal{a.memJournal, b.memJournal}}
	o := Options{Waves: []int{1, 1}, Gates: []Gate{g}, Records: RecordOptions{Run: RunInfo{ID: "1"}}}
	if _, err := Run(context.Background(), fakeSource{}, []Target{a, b}, o); err != nil {
		t.Fatal(err)
	}
	// At wave 1's gate a was released, not proven; at wave 2's gate a
	// still was not, though its own gate had passed.
	if got := strings.Join(g.seen, " | "); got != "released - | released released" {
		t.Errorf("records at the gates: %s", got)
	}
	want := "releasing released verified done"
	for _, j := range []*journaled{a, b} {
		if got := strings.Join(steps(j.history), " "); got != want {
			t.Errorf("%s recorded %s, want %s", j.name, got, want)
		}
	}
}

// stepsAtGate is a fakeGate that notes the step of each journal's record
// whenever it is checked.
type stepsAtGate struct {
	fakeGate
	journals []*memJournal
	seen     []string
}

func (g *stepsAtGate) Check(ctx context.Context, wave int) (GateResult, error) {
	var now []string
	for _, j := range g.journals {
		j.mu.Lock()
		s := "-"
		if j.rec != nil {
			s = string(j.rec.Step)
		}
		j.mu.Unlock()
		now = append(now, s)
	}
	g.seen = append(g.seen, strings.Join(now, " "))
	return g.fakeGate.Check(ctx, wave)
}
