package promote

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/image"
)

// rollbackTarget is a fakeTarget that can roll back.
type rollbackTarget struct {
	*fakeTarget
	rollbackErr error
	to          *string
}

func (r *rollbackTarget) Rollback(_ context.Context, s Snapshot, to string) (Change, error) {
	r.record("rollback")
	*r.to = to
	if err := r.expect(s.State, "snapshot"); err != nil {
		return Change{}, err
	}
	return Change{Image: r.name + ":v0", State: r.state("release")}, r.rollbackErr
}

func TestRollback(t *testing.T) {
	crash := errors.New("crash loop")
	cases := []struct {
		name     string
		a, b     *fakeTarget
		bErr     error
		outcome  Outcome
		statuses []Status
		restored []bool
	}{
		{"both rolled back", &fakeTarget{name: "a"}, &fakeTarget{name: "b"}, nil,
			OutcomeRolledBack, []Status{StatusRolledBack, StatusRolledBack}, []bool{false, false}},
		{"one fails to verify: both restored", &fakeTarget{name: "a"}, &fakeTarget{name: "b", verifyErr: crash}, nil,
			OutcomeFailed, []Status{StatusRestored, StatusRestored}, []bool{true, true}},
		{"a refused rollback changed nothing; the other is restored", &fakeTarget{name: "a"}, &fakeTarget{name: "b"}, Input(errors.New("no revision before 2")),
			OutcomeFailed, []Status{StatusRestored, StatusFailed}, []bool{true, false}},
		{"restore fails: a human is needed", &fakeTarget{name: "a"}, &fakeTarget{name: "b", verifyErr: crash, restoreErr: errors.New("api down")}, nil,
			OutcomeRestoreFailed, []Status{StatusRestored, StatusRestoreFailed}, []bool{true, true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var toA, toB string
			ts := []Target{&rollbackTarget{fakeTarget: c.a, to: &toA}, &rollbackTarget{fakeTarget: c.b, rollbackErr: c.bErr, to: &toB}}
			r, err := Rollback(context.Background(), ts, "7", Options{Parallelism: 1})
			if r.Outcome != c.outcome {
				t.Fatalf("outcome %s, want %s (err %v)", r.Outcome, c.outcome, err)
			}
			if (err == nil) != (c.outcome == OutcomeRolledBack) || OutcomeOf(err) != orEmpty(c.outcome, OutcomeRolledBack) {
				t.Errorf("err %v (outcome of it %q) for outcome %s", err, OutcomeOf(err), c.outcome)
			}
			if toA != "7" || toB != "7" {
				t.Errorf("rolled back to %q and %q, want 7", toA, toB)
			}
			for i, f := range []*fakeTarget{c.a, c.b} {
				if got := r.Targets[i].Status; got != c.statuses[i] {
					t.Errorf("%s: status %s, want %s", f.name, got, c.statuses[i])
				}
				if f.did("restore") != c.restored[i] {
					t.Errorf("%s: restored %v, want %v", f.name, f.did("restore"), c.restored[i])
				}
				if f.did("release") {
					t.Errorf("%s: a rollback released", f.name)
				}
			}
		})
	}
}

func orEmpty(o, ok Outcome) Outcome {
	if o == ok {
		return ""
	}
	return o
}

// A target that cannot roll back is refused before anything is read.
func TestRollbackRefusesTargetsThatCannot(t *testing.T) {
	var to string
	a, b := &fakeTarget{name: "a"}, &fakeTarget{name: "b"}
	r, err := Rollback(context.Background(), []Target{&rollbackTarget{fakeTarget: a, to: &to}, b}, "", Options{})
	if r.Outcome != OutcomeBadInput || !IsInput(err) || !strings.Contains(err.Error(), "b: cannot be rolled back") {
		t.Fatalf("outcome %s err %v", r.Outcome, err)
	}
	if a.did("snapshot") || b.did("snapshot") {
		t.Error("a target was read")
	}
}

// A release refused as bad input changed nothing: alone, the run is bad
// input (exit 2); after another target changed, it is a failure (exit 1):
// something changed and was put back.
func TestInputErrorFromARelease(t *testing.T) {
	lone := &fakeTarget{name: "b", releaseErr: Input(errors.New("no linux/amd64 image"))}
	r, err := Run(context.Background(), fakeSource{}, []Target{lone}, Options{})
	if r.Outcome != OutcomeBadInput || !IsInput(err) || lone.did("restore") {
		t.Fatalf("alone: outcome %s err %v, restored %v", r.Outcome, err, lone.did("restore"))
	}

	a := &fakeTarget{name: "a"}
	b := &fakeTarget{name: "b", releaseErr: Input(errors.New("no linux/amd64 image"))}
	r, err = Run(context.Background(), fakeSource{}, []Target{a, b}, Options{Parallelism: 1})
	if r.Outcome != OutcomeFailed || OutcomeOf(err) != OutcomeFailed {
		t.Fatalf("after a change: outcome %s err %v", r.Outcome, err)
	}
	if !a.did("restore") || b.did("restore") {
		t.Errorf("restored a %v b %v, want only a", a.did("restore"), b.did("restore"))
	}
}

func TestOutcomeOf(t *testing.T) {
	boom := errors.New("boom")
	cases := []struct {
		err  error
		want Outcome
	}{
		{nil, ""},
		{boom, OutcomeFailed},
		{Input(boom), OutcomeBadInput},
		{fmt.Errorf("k8s:a: %w", Input(boom)), OutcomeBadInput},
		{&RestoreError{Cause: boom, Failed: []error{boom}}, OutcomeRestoreFailed},
		{&RestoreError{Cause: Input(boom), Failed: []error{boom}}, OutcomeRestoreFailed},
		{errors.Join(boom, Input(boom)), OutcomeBadInput},
		{&RestoredError{Cause: Input(boom)}, OutcomeFailed},
	}
	for _, c := range cases {
		if got := OutcomeOf(c.err); got != c.want {
			t.Errorf("OutcomeOf(%v) = %q, want %q", c.err, got, c.want)
		}
	}
}

// Snapshots and changes are plain values: written down by one process and
// read back by another, they restore the same way.
func TestSnapshotAndChangeSurviveJSON(t *testing.T) {
	f := &fakeTarget{name: "a"}
	s, _ := f.Snapshot(context.Background(), img)
	c, _ := f.Release(context.Background(), s, img)
	b, err := json.Marshal(struct {
		S Snapshot
		C Change
	}{s, c})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		S Snapshot
		C Change
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.S.Image != s.Image || back.S.Revision != s.Revision || back.C.Image != c.Image {
		t.Errorf("round trip changed the values: %+v %+v", back.S, back.C)
	}
	if err := (&fakeTarget{name: "a"}).Restore(context.Background(), back.S, back.C); err != nil {
		t.Errorf("restore from values read back: %v", err)
	}
}

func TestAsFindsCapabilitiesThroughDecorators(t *testing.T) {
	var to string
	inner := &rollbackTarget{fakeTarget: &fakeTarget{name: "a"}, to: &to}
	wrapped := WithHealth(WithHealth(inner, health.Check{URL: "http://x"}, nil), health.Check{URL: "http://y"}, nil)
	if rb, ok := As[RollBacker](wrapped); !ok || rb != RollBacker(inner) {
		t.Errorf("As[RollBacker] = %v, %v", rb, ok)
	}
	if _, ok := As[Describer](wrapped); ok {
		t.Error("found a Describer that is not there")
	}
}

// The health decorator runs the target's own verification first, then
// the HTTP check against a path resolved from the snapshot's URL.
func TestWithHealth(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path != "/healthz" {
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	check := health.Check{URL: "/healthz", Interval: 10 * time.Millisecond, Threshold: 1, Timeout: 5 * time.Second}

	cases := []struct {
		name     string
		f        *fakeTarget
		url      string
		snapErr  bool
		wantErr  string
		wantHits bool
	}{
		{"healthy", &fakeTarget{name: "a"}, srv.URL, false, "", true},
		{"own verification fails first", &fakeTarget{name: "a", verifyErr: errors.New("crashed")}, srv.URL, false, "crashed", false},
		{"relative path without a URL", &fakeTarget{name: "a"}, "", true, "no base URL", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			hits.Store(0)
			ht := WithHealth(withURL{c.f, c.url}, check, nil)
			s, err := ht.Snapshot(context.Background(), img)
			if c.snapErr {
				if !IsInput(err) || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("Snapshot = %v, want an input error about %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ch, _ := ht.Release(context.Background(), s, img)
			err = ht.Verify(context.Background(), s, ch)
			if c.wantErr == "" && err != nil || c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)) {
				t.Errorf("Verify = %v, want %q", err, c.wantErr)
			}
			if (hits.Load() > 0) != c.wantHits {
				t.Errorf("%d probes, want some: %v", hits.Load(), c.wantHits)
			}
		})
	}
}

// withURL gives a fakeTarget's snapshots a public URL.
type withURL struct {
	*fakeTarget
	url string
}

func (w withURL) Snapshot(ctx context.Context, want image.Image) (Snapshot, error) {
	s, err := w.fakeTarget.Snapshot(ctx, want)
	s.URL = w.url
	return s, err
}
