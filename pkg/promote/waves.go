package promote

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// Waves, gates and the soak.
//
// A promotion may go in waves (Options.Waves): the targets of one wave are
// released and verified together, then the gates run and the soak
// passes, and only then does the next wave start. The gates and the soak
// follow the last wave too, so that a one-wave promotion is gated as
// well. While the gates and the soak run, every target changed so far
// that is a [Watcher] keeps being watched: a crash then fails the wave.
// Any failure restores every target changed in every wave (newest
// first, as always); the waves not reached are never touched.

// Gate decides whether a wave may be followed by the next one (a metric
// analysis, say).
type Gate interface {
	// Name names the gate in logs and reports.
	Name() string
	// Check measures until it reaches a verdict, or ctx ends. It returns
	// what it measured, whatever the verdict; the error is nil only when
	// the gate passed. wave is 1-based.
	Check(ctx context.Context, wave int) (GateResult, error)
}

// Watcher is a Target that can keep watching a change it verified,
// reporting a failure (a pod crash-looping, a dyno crashed) as soon as it
// sees one. Watch returns nil when ctx ends without a failure.
type Watcher interface {
	Watch(ctx context.Context, s Snapshot, c Change) error
}

// GateResult is what one gate measured after one wave.
type GateResult struct {
	Gate string `json:"gate"`
	// Phase is the gate's verdict: Successful, Failed, Inconclusive or
	// Error (Argo Rollouts' analysis phases); Running when it was
	// stopped before it reached one.
	Phase string `json:"phase"`
	// Message says why, when the gate did not pass.
	Message      string        `json:"message,omitempty"`
	Measurements []Measurement `json:"measurements"`
}

// Measurement is one measurement of a gate's metric.
type Measurement struct {
	// Metric names the metric (a gate may have several).
	Metric string    `json:"metric"`
	At     time.Time `json:"at"`
	// Value is the result the provider returned, as JSON.
	Value string `json:"value,omitempty"`
	// Phase is Successful, Failed, Inconclusive or Error.
	Phase string `json:"phase"`
	// Condition is the condition that decided the phase, if any.
	Condition string `json:"condition,omitempty"`
	// Error is why the measurement is an error.
	Error string `json:"error,omitempty"`
}

// WaveStatus is what happened to one wave.
type WaveStatus string

// Wave statuses in a Report.
const (
	WavePassed     WaveStatus = "passed"      // released, verified, gated and soaked
	WaveFailed     WaveStatus = "failed"      // something failed in it, or in its gates or soak
	WaveNotReached WaveStatus = "not-reached" // never started: an earlier wave failed
)

// WaveReport is one wave's part of a Report.
type WaveReport struct {
	// Wave is 1-based.
	Wave    int        `json:"wave"`
	Targets []string   `json:"targets"`
	Status  WaveStatus `json:"status"`
	// Soak is how long the wave soaked.
	Soak  Duration     `json:"soak,omitzero"`
	Gates []GateResult `json:"gates,omitempty"`
	Error string       `json:"error,omitempty"`
}

// waves returns the indexes of the targets of each wave. Options.Waves
// must add up to the number of targets; without it, all targets are one
// wave.
func (r *run) waves() ([][]int, error) {
	sizes := r.o.Waves
	if len(sizes) == 0 {
		sizes = []int{len(r.targets)}
	}
	var out [][]int
	next := 0
	for w, n := range sizes {
		if n <= 0 {
			return nil, Input(fmt.Errorf("wave %d has no targets", w+1))
		}
		idx := make([]int, n)
		for k := range idx {
			idx[k] = next + k
		}
		next += n
		out = append(out, idx)
	}
	if next != len(r.targets) {
		return nil, fmt.Errorf("waves hold %d targets, not the %d given", next, len(r.targets))
	}
	return out, nil
}

// changeWaves is step 4 in waves: change and verify the targets of each
// wave, then settle it (gates, soak, watches), wave after wave.
func (r *run) changeWaves(ctx context.Context, step changer) error {
	waves, err := r.waves()
	if err != nil {
		return err
	}
	multi := len(waves) > 1
	if r.gated() {
		r.report.Waves = make([]WaveReport, len(waves))
		for w, idx := range waves {
			wr := &r.report.Waves[w]
			wr.Wave, wr.Status = w+1, WaveNotReached
			for _, i := range idx {
				wr.Targets = append(wr.Targets, r.targets[i].String())
				r.report.Targets[i].Wave = w + 1
			}
		}
	}
	for w, idx := range waves {
		if multi {
			r.o.Logger.Logf("", "wave %d of %d: %d targets", w+1, len(waves), len(idx))
		}
		err := r.changeSome(ctx, step, idx)
		if err == nil {
			err = r.settle(ctx, w, waves)
		}
		if r.report.Waves != nil {
			wr := &r.report.Waves[w]
			wr.Status = WavePassed
			if err != nil {
				wr.Status, wr.Error = WaveFailed, err.Error()
			}
		}
		if err != nil {
			if multi {
				err = fmt.Errorf("wave %d: %w", w+1, err)
			}
			return err
		}
	}
	r.proveAll(ctx)
	return nil
}

// gated says whether a verified release still waits for its wave's
// gates, soak or later waves before the run may call it proven.
func (r *run) gated() bool {
	return len(r.o.Waves) > 1 || len(r.o.Gates) > 0 || r.o.Soak > 0
}

// proveAll records, once every wave passed, that each release of a gated
// run was proven. Until then a killed run's records say "released", so
// recovery restores every wave, as the run itself would have.
func (r *run) proveAll(ctx context.Context) {
	if !r.gated() || r.saved == nil {
		return
	}
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		if r.changes[i] != nil && r.saved[i] == StepReleased {
			r.noteOrWarn(ctx, i, StepVerified)
		}
	})
}

// settle runs the gates and the soak after wave w, side by side, while
// watching every target changed so far. The wave passes when every gate
// passed and the soak is over; the first failure ends it.
func (r *run) settle(ctx context.Context, w int, waves [][]int) error {
	if len(r.o.Gates) == 0 && r.o.Soak <= 0 {
		return nil
	}
	wr := &r.report.Waves[w]
	wr.Gates = make([]GateResult, len(r.o.Gates))
	work, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		mu    sync.Mutex
		first error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if first == nil {
			first = err
		}
		mu.Unlock()
		cancel(err)
	}
	// Watch every changed target of this wave and the ones before.
	watching, stopWatching := context.WithCancel(work)
	watchers := r.watchAll(watching, waves[:w+1], &mu, fail)
	for g, gate := range r.o.Gates {
		wg.Go(func() {
			r.o.Logger.Logf("", "gate %s (wave %d): measuring", gate.Name(), w+1)
			res, err := gate.Check(work, w+1)
			if res.Gate == "" {
				res.Gate = gate.Name()
			}
			wr.Gates[g] = res
			if err != nil {
				mu.Lock()
				stopped := first != nil
				mu.Unlock()
				if stopped {
					return // stopped by another failure
				}
				r.o.Logger.Logf("", "gate %s (wave %d): %v", gate.Name(), w+1, err)
				fail(fmt.Errorf("gate %s: %w", gate.Name(), err))
				return
			}
			r.o.Logger.Logf("", "gate %s (wave %d): passed", gate.Name(), w+1)
		})
	}
	if r.o.Soak > 0 {
		wg.Go(func() {
			r.o.Logger.Logf("", "soak: %s, watching every changed target (wave %d)", r.o.Soak, w+1)
			start := time.Now()
			err := httpx.Sleep(work, r.o.Soak)
			wr.Soak = Duration(time.Since(start))
			if err == nil {
				r.o.Logger.Logf("", "soak: over")
			}
		})
	}
	wg.Wait()
	stopWatching()
	watchers()
	mu.Lock()
	defer mu.Unlock()
	if first == nil && ctx.Err() != nil {
		first = fmt.Errorf("interrupted: %w", context.Cause(ctx))
	}
	return first
}

// watchAll starts watching every changed target of waves that is a
// Watcher, until ctx ends; a failure is recorded on the target (under mu)
// and handed to fail. The function returned waits for the watchers.
func (r *run) watchAll(ctx context.Context, waves [][]int, mu *sync.Mutex, fail func(error)) (wait func()) {
	var watchers sync.WaitGroup
	for _, idx := range waves {
		for _, i := range idx {
			t, c := r.targets[i], r.changes[i]
			wt, ok := As[Watcher](t)
			if c == nil || !ok {
				continue
			}
			watchers.Go(func() {
				err := wt.Watch(ctx, r.snaps[i], *c)
				if err == nil || ctx.Err() != nil {
					return
				}
				tr := &r.report.Targets[i]
				mu.Lock()
				tr.Status, tr.Error = StatusFailed, "after its verification: "+err.Error()
				mu.Unlock()
				r.o.Logger.Logf(t.String(), "failed after its verification: %v", err)
				fail(fmt.Errorf("%s: %w", t, err))
			})
		}
	}
	return watchers.Wait
}
