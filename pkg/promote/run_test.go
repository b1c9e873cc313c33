package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/pkg/image"
)

var img = image.Image{Repository: "ghcr.io/acme/shop", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}

type fakeSource struct{ err error }

func (fakeSource) String() string { return "k8s:shop/web?context=staging" }
func (s fakeSource) Resolve(context.Context) (image.Image, error) {
	return img, s.err
}

// fakeTarget records calls; its errors are set per step.
type fakeTarget struct {
	name                                       string
	upToDate                                   bool
	snapErr, releaseErr, verifyErr, restoreErr error
	verifyBlocks                               bool // Verify waits for ctx
	restoreHook                                func() error

	mu    sync.Mutex
	calls []string
	order *[]string
}

// orderMu guards the order slices fakeTargets share.
var orderMu sync.Mutex

func (f *fakeTarget) String() string { return f.name }
func (f *fakeTarget) record(c string) {
	f.mu.Lock()
	f.calls = append(f.calls, c)
	f.mu.Unlock()
	if f.order != nil && c == "restore" {
		orderMu.Lock()
		*f.order = append(*f.order, f.name)
		orderMu.Unlock()
	}
}

// fakeState is what the fake target records in snapshots and changes;
// every step checks it got back what the step before returned.
type fakeState struct{ Name, Step string }

func (f *fakeTarget) state(step string) json.RawMessage {
	raw, err := EncodeState(fakeState{Name: f.name, Step: step})
	if err != nil {
		panic(err)
	}
	return raw
}

// expect checks that raw is the state f recorded at step.
func (f *fakeTarget) expect(raw json.RawMessage, step string) error {
	got, err := DecodeState[fakeState](raw)
	if err != nil {
		return err
	}
	if got != (fakeState{Name: f.name, Step: step}) {
		return fmt.Errorf("%s was handed %+v, want the state of its own %s", f.name, got, step)
	}
	return nil
}

func (f *fakeTarget) Snapshot(context.Context, image.Image) (Snapshot, error) {
	f.record("snapshot")
	return Snapshot{Seen: Seen{Image: f.name + ":v1", Revision: "1"}, UpToDate: f.upToDate, State: f.state("snapshot")}, f.snapErr
}

func (f *fakeTarget) Release(_ context.Context, s Snapshot, img image.Image) (Change, error) {
	f.record("release")
	if err := f.expect(s.State, "snapshot"); err != nil {
		return Change{}, err
	}
	return Change{Image: img.Ref(), State: f.state("release")}, f.releaseErr
}

func (f *fakeTarget) Verify(ctx context.Context, s Snapshot, c Change) error {
	f.record("verify")
	if err := errors.Join(f.expect(s.State, "snapshot"), f.expect(c.State, "release")); err != nil {
		return err
	}
	if f.verifyErr != nil {
		time.Sleep(20 * time.Millisecond) // let the other targets release first
	}
	if f.verifyBlocks {
		<-ctx.Done()
		return ctx.Err()
	}
	return f.verifyErr
}

func (f *fakeTarget) Restore(ctx context.Context, s Snapshot, c Change) error {
	f.record("restore")
	if err := errors.Join(f.expect(s.State, "snapshot"), f.expect(c.State, "release")); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return fmt.Errorf("restore ran on a cancelled context: %w", ctx.Err())
	}
	if f.restoreHook != nil {
		if err := f.restoreHook(); err != nil {
			return err
		}
	}
	return f.restoreErr
}

func (f *fakeTarget) did(c string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, x := range f.calls {
		if x == c {
			return true
		}
	}
	return false
}

func TestRun(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		name     string
		src      Source
		targets  []*fakeTarget
		outcome  Outcome
		statuses []Status
		restored []bool
		released []bool
	}{
		{
			name:     "all promoted",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a"}, {name: "b"}},
			outcome:  OutcomePromoted,
			statuses: []Status{StatusPromoted, StatusPromoted},
			restored: []bool{false, false}, released: []bool{true, true},
		},
		{
			name:     "all unchanged",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a", upToDate: true}, {name: "b", upToDate: true}},
			outcome:  OutcomeUnchanged,
			statuses: []Status{StatusUnchanged, StatusUnchanged},
			restored: []bool{false, false}, released: []bool{false, false},
		},
		{
			name:     "one fails verify: every changed target restored",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a"}, {name: "b", verifyErr: boom}, {name: "c", upToDate: true}},
			outcome:  OutcomeFailed,
			statuses: []Status{StatusRestored, StatusRestored, StatusUnchanged},
			restored: []bool{true, true, false}, released: []bool{true, true, false},
		},
		{
			name:     "failed release is restored too (it may have half-landed)",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a", releaseErr: boom}},
			outcome:  OutcomeFailed,
			statuses: []Status{StatusRestored},
			restored: []bool{true}, released: []bool{true},
		},
		{
			name:     "restore fails",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a", verifyErr: boom, restoreErr: errors.New("api down")}, {name: "b"}},
			outcome:  OutcomeRestoreFailed,
			statuses: []Status{StatusRestoreFailed, StatusRestored},
			restored: []bool{true, true}, released: []bool{true, true},
		},
		{
			name:     "snapshot input error: nothing released",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a"}, {name: "b", snapErr: Input(errors.New("paused"))}},
			outcome:  OutcomeBadInput,
			statuses: []Status{StatusSkipped, StatusFailed},
			restored: []bool{false, false}, released: []bool{false, false},
		},
		{
			name:     "snapshot API error: nothing released, failed",
			src:      fakeSource{},
			targets:  []*fakeTarget{{name: "a", snapErr: boom}},
			outcome:  OutcomeFailed,
			statuses: []Status{StatusFailed},
			restored: []bool{false}, released: []bool{false},
		},
		{
			name:     "source input error",
			src:      fakeSource{err: Input(errors.New("no digest"))},
			targets:  []*fakeTarget{{name: "a"}},
			outcome:  OutcomeBadInput,
			statuses: []Status{StatusSkipped},
			restored: []bool{false}, released: []bool{false},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := make([]Target, len(c.targets))
			for i, f := range c.targets {
				ts[i] = f
			}
			r, err := Run(context.Background(), c.src, ts, Options{Parallelism: 2})
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %q, want %q (err %v)", r.Outcome, c.outcome, err)
			}
			if (err == nil) != (c.outcome == OutcomePromoted || c.outcome == OutcomeUnchanged) {
				t.Errorf("err = %v for outcome %s", err, r.Outcome)
			}
			var re *RestoreError
			if errors.As(err, &re) != (c.outcome == OutcomeRestoreFailed) {
				t.Errorf("RestoreError = %v for outcome %s", err, r.Outcome)
			}
			for i, f := range c.targets {
				checkTarget(t, f, r.Targets[i].Status, c.statuses[i], c.restored[i], c.released[i])
			}
		})
	}
}

// checkTarget checks what happened to f: its status, and whether it was
// restored and released.
func checkTarget(t *testing.T, f *fakeTarget, got, want Status, restored, released bool) {
	t.Helper()
	if got != want {
		t.Errorf("%s: status %q, want %q", f.name, got, want)
	}
	if f.did("restore") != restored {
		t.Errorf("%s: restored = %v, want %v", f.name, f.did("restore"), restored)
	}
	if f.did("release") != released {
		t.Errorf("%s: released = %v, want %v", f.name, f.did("release"), released)
	}
}

// A cancelled run (SIGTERM in CI) still restores, on a context of its own.
func TestRunCancelledStillRestores(t *testing.T) {
	var order []string
	a := &fakeTarget{name: "a", verifyBlocks: true, order: &order}
	b := &fakeTarget{name: "b", verifyBlocks: true, order: &order}
	ctx, cancel := context.WithCancelCause(context.Background())
	go func() {
		time.Sleep(50 * time.Millisecond)
		cancel(errors.New("received terminated"))
	}()
	r, err := Run(ctx, fakeSource{}, []Target{a, b}, Options{Parallelism: 2})
	if r.Outcome != OutcomeFailed || err == nil || !strings.Contains(err.Error(), "received terminated") {
		t.Fatalf("outcome %s err %v", r.Outcome, err)
	}
	sort.Strings(order)
	if strings.Join(order, ",") != "a,b" {
		t.Fatalf("restored %v, want a and b", order)
	}
	for _, tr := range r.Targets {
		if tr.Status != StatusRestored {
			t.Errorf("%s: %s", tr.Target, tr.Status)
		}
	}
}

// One at a time (parallelism 1), restores go newest first.
func TestRunRestoresNewestFirst(t *testing.T) {
	var order []string
	a := &fakeTarget{name: "a", order: &order}
	b := &fakeTarget{name: "b", order: &order}
	c := &fakeTarget{name: "c", order: &order, verifyErr: errors.New("crash loop")}
	r, err := Run(context.Background(), fakeSource{}, []Target{a, b, c}, Options{Parallelism: 1})
	if r.Outcome != OutcomeFailed || err == nil {
		t.Fatalf("outcome %s err %v, want failed", r.Outcome, err)
	}
	if strings.Join(order, ",") != "c,b,a" {
		t.Fatalf("restore order %v, want c,b,a", order)
	}
}

// Restores run side by side: a restore waits for its rollout, and the
// first targets released must not stay broken while the others are put
// back one after another.
func TestRunRestoresInParallel(t *testing.T) {
	const n = 4
	var arrived sync.WaitGroup
	arrived.Add(n)
	all := make(chan struct{})
	go func() { arrived.Wait(); close(all) }()
	together := func() error {
		arrived.Done()
		select {
		case <-all:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("restores ran one at a time: the others never started")
		}
	}
	var targets []Target
	for i := range n {
		f := &fakeTarget{name: fmt.Sprint("t", i), restoreHook: together}
		if i == 0 {
			f.verifyErr = errors.New("crash loop")
		}
		targets = append(targets, f)
	}
	r, err := Run(context.Background(), fakeSource{}, targets, Options{Parallelism: n})
	if r.Outcome != OutcomeFailed || err == nil {
		t.Fatalf("outcome %s err %v, want failed", r.Outcome, err)
	}
	for _, tr := range r.Targets {
		if tr.Status != StatusRestored {
			t.Errorf("%s: %s %s", tr.Target, tr.Status, tr.Restore)
		}
	}
}

func TestPlanTouchesNothing(t *testing.T) {
	a, b := &fakeTarget{name: "a"}, &fakeTarget{name: "b", upToDate: true}
	r, err := Plan(context.Background(), fakeSource{}, []Target{a, b}, Options{})
	if err != nil || r.Outcome != OutcomePlanned {
		t.Fatalf("%v %v", r.Outcome, err)
	}
	if r.Targets[0].Status != StatusPlanned || r.Targets[1].Status != StatusUnchanged {
		t.Errorf("statuses %v %v", r.Targets[0].Status, r.Targets[1].Status)
	}
	for _, f := range []*fakeTarget{a, b} {
		if f.did("release") || f.did("restore") {
			t.Errorf("%s: plan changed something: %v", f.name, f.calls)
		}
	}
}

func TestParallelismIsBounded(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	n := 10
	forEach(n, 3, func(int) {
		mu.Lock()
		running++
		if running > peak {
			peak = running
		}
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		running--
		mu.Unlock()
	})
	if peak > 3 || peak < 2 {
		t.Fatalf("peak concurrency %d, want at most 3", peak)
	}
}
