package promote

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

type fakeGate struct {
	name  string
	fail  map[int]bool // by wave
	delay time.Duration
	waves []int
}

func (g *fakeGate) Name() string { return g.name }

func (g *fakeGate) Check(ctx context.Context, wave int) (GateResult, error) {
	g.waves = append(g.waves, wave)
	select {
	case <-time.After(g.delay):
	case <-ctx.Done():
		return GateResult{Phase: "Running"}, ctx.Err()
	}
	m := Measurement{Metric: "m", At: time.Now(), Value: "1", Phase: "Successful"}
	if g.fail[wave] {
		m.Phase = "Failed"
		return GateResult{Phase: "Failed", Message: "failed (1) > failureLimit (0)", Measurements: []Measurement{m}}, errors.New("failed (1) > failureLimit (0)")
	}
	return GateResult{Phase: "Successful", Measurements: []Measurement{m}}, nil
}

// watchTarget is a fakeTarget that is a Watcher: it fails after crashAfter.
type watchTarget struct {
	*fakeTarget
	crashAfter time.Duration
}

func (w *watchTarget) Watch(ctx context.Context, _ Snapshot, _ Change) error {
	w.record("watch")
	if w.crashAfter <= 0 {
		<-ctx.Done()
		return nil
	}
	select {
	case <-time.After(w.crashAfter):
		return errors.New("pod web-1 container web: CrashLoopBackOff")
	case <-ctx.Done():
		return nil
	}
}

// All waves pass, gated after each.
func TestWavesAllPassGatedAfterEach(t *testing.T) {
	a, b, c := &fakeTarget{name: "a"}, &fakeTarget{name: "b"}, &fakeTarget{name: "c"}
	g := &fakeGate{name: "errors"}
	r, err := Run(context.Background(), fakeSource{}, []Target{a, b, c}, Options{Waves: []int{1, 2}, Gates: []Gate{g}})
	if err != nil || r.Outcome != OutcomePromoted {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
	if len(r.Waves) != 2 || r.Waves[0].Status != WavePassed || r.Waves[1].Status != WavePassed {
		t.Fatalf("waves %+v", r.Waves)
	}
	if strings.Join(r.Waves[1].Targets, ",") != "b,c" || r.Targets[0].Wave != 1 || r.Targets[2].Wave != 2 {
		t.Errorf("wave membership wrong: %+v / %+v", r.Waves, r.Targets)
	}
	if len(g.waves) != 2 || len(r.Waves[0].Gates) != 1 || len(r.Waves[0].Gates[0].Measurements) != 1 {
		t.Errorf("gate ran after waves %v; report %+v", g.waves, r.Waves[0].Gates)
	}
}

// Gate fails after wave 1: wave 2 never touched.
func TestWavesGateFailsAfterWave1(t *testing.T) {
	a, b := &fakeTarget{name: "a"}, &fakeTarget{name: "b"}
	g := &fakeGate{name: "errors", fail: map[int]bool{1: true}}
	r, err := Run(context.Background(), fakeSource{}, []Target{a, b}, Options{Waves: []int{1, 1}, Gates: []Gate{g}})
	if r.Outcome != OutcomeFailed || err == nil || !strings.Contains(err.Error(), "wave 1: gate errors") {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
	checkTarget(t, a, r.Targets[0].Status, StatusRestored, true, true)
	checkTarget(t, b, r.Targets[1].Status, StatusSkipped, false, false)
	if r.Waves[0].Status != WaveFailed || r.Waves[1].Status != WaveNotReached {
		t.Errorf("waves %+v", r.Waves)
	}
	if r.Waves[0].Gates[0].Phase != "Failed" {
		t.Errorf("gate result %+v", r.Waves[0].Gates[0])
	}
}

// Gate fails after wave 2: every wave restored, newest first.
func TestWavesGateFailsAfterWave2(t *testing.T) {
	var order []string
	a, b := &fakeTarget{name: "a", order: &order}, &fakeTarget{name: "b", order: &order}
	g := &fakeGate{name: "errors", fail: map[int]bool{2: true}}
	r, err := Run(context.Background(), fakeSource{}, []Target{a, b}, Options{Waves: []int{1, 1}, Gates: []Gate{g}, Parallelism: 1})
	if r.Outcome != OutcomeFailed || err == nil {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
	checkTarget(t, a, r.Targets[0].Status, StatusRestored, true, true)
	checkTarget(t, b, r.Targets[1].Status, StatusRestored, true, true)
	if strings.Join(order, ",") != "b,a" {
		t.Errorf("restore order %v, want b,a", order)
	}
}

// A crash during the soak fails the wave.
func TestWavesCrashDuringTheSoak(t *testing.T) {
	a := &watchTarget{fakeTarget: &fakeTarget{name: "a"}, crashAfter: 30 * time.Millisecond}
	b := &fakeTarget{name: "b"}
	start := time.Now()
	r, err := Run(context.Background(), fakeSource{}, []Target{a, b}, Options{Waves: []int{1, 1}, Soak: 10 * time.Second})
	if r.Outcome != OutcomeFailed || err == nil || !strings.Contains(err.Error(), "CrashLoopBackOff") {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("the crash ended the soak after %s, want at once", d)
	}
	if !a.did("watch") || r.Targets[0].Status != StatusRestored || !strings.Contains(r.Targets[0].Error, "after its verification") {
		t.Errorf("a: %+v", r.Targets[0])
	}
	checkTarget(t, b, r.Targets[1].Status, StatusSkipped, false, false)
}

// Soak after the last wave too.
func TestWavesSoakAfterTheLastWave(t *testing.T) {
	a := &watchTarget{fakeTarget: &fakeTarget{name: "a"}}
	start := time.Now()
	r, err := Run(context.Background(), fakeSource{}, []Target{a}, Options{Soak: 100 * time.Millisecond})
	if err != nil || r.Outcome != OutcomePromoted {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("run took %s, less than the soak", d)
	}
	if len(r.Waves) != 1 || time.Duration(r.Waves[0].Soak) < 100*time.Millisecond || !a.did("watch") {
		t.Errorf("waves %+v, watched %v", r.Waves, a.did("watch"))
	}
}

// An empty wave is bad input.
func TestWavesEmptyWaveIsBadInput(t *testing.T) {
	a := &fakeTarget{name: "a"}
	r, err := Run(context.Background(), fakeSource{}, []Target{a}, Options{Waves: []int{1, 0}})
	if r.Outcome != OutcomeBadInput || err == nil || a.did("release") {
		t.Fatalf("outcome %s, err %v", r.Outcome, err)
	}
}
