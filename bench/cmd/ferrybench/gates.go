package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/gate"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Gate timing: count measurements interval apart take (count-1)×interval
// of waiting; the rest is the gate's own overhead (queries, judging).
const (
	gateInterval = 500 * time.Millisecond
	gateCount    = 5
	// waveSoak is each wave's soak in the two-wave promotion.
	waveSoak = 3 * time.Second
)

// gatesScenario measures a metric gate against a real Prometheus, and a
// two-wave promotion with soaks against the sum of its waves.
func (b *bench) gatesScenario(ctx context.Context) error {
	return errors.Join(b.gateOverhead(ctx), b.twoWaves(ctx))
}

// gateOverhead runs one gate (gateCount measurements of an instant query,
// gateInterval apart) against a real Prometheus scraping an exporter,
// in process, and reports its wall time beyond the waits.
func (b *bench) gateOverhead(ctx context.Context) error {
	exp, err := testenv.StartExporter()
	if err != nil {
		return err
	}
	defer exp.Close()
	exp.Set(`errors_ratio{app="web"}`, 0.002)
	prom, err := testenv.StartPrometheus(ctx, b.cfg.work, exp.Addr)
	if err != nil {
		return err
	}
	defer func() { _ = prom.Stop() }()
	spec, err := gate.Parse(fmt.Sprintf(`- name: error-rate
  interval: %s
  count: %d
  successCondition: result[0] < 0.01
  provider:
    prometheus:
      address: %s
      query: max(errors_ratio{app="web"})
`, gateInterval, gateCount, prom.URL), func(string) string { return "" })
	if err != nil {
		return err
	}
	g := spec.Gates[0]
	waits := float64(gateCount-1) * gateInterval.Seconds()
	var overhead []float64
	for i := range b.cfg.runs {
		start := time.Now()
		res, err := g.Check(ctx, 1)
		wall := time.Since(start).Seconds()
		if err != nil {
			return fmt.Errorf("gate run %d: %w", i+1, err)
		}
		if len(res.Measurements) != gateCount {
			return fmt.Errorf("gate run %d: %d measurements, want %d", i+1, len(res.Measurements), gateCount)
		}
		overhead = append(overhead, (wall-waits)*1000)
		b.log.Printf("gates: run %d: %d measurements in %.3fs (%.1f ms beyond the waits)", i+1, gateCount, wall, (wall-waits)*1000)
	}
	f := results.New(fmt.Sprintf("gate: wall time beyond its own waits (%d Prometheus measurements, %s apart)", gateCount, gateInterval), "ms", overhead, "", nil,
		&results.Bound{Text: "≤ 100 ms", Max: 100})
	f.Note = "in process, against a real Prometheus (Debian's 2.42) on loopback scraping every second"
	b.add(f)
	return nil
}

// twoWaves promotes to one Deployment in wave 1 and one in wave 2, each
// soaking waveSoak, and compares ferry's wall time with the sum of the
// waves' rollouts (release and verify of the slowest target) and soaks,
// as the report measured them.
func (b *bench) twoWaves(ctx context.Context) error {
	staging, production, err := testenv.StartPair(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = errors.Join(staging.Stop(), production.Stop()) }()
	kc := filepath.Join(b.cfg.work, "kubeconfig-waves")
	if err := os.WriteFile(kc, testenv.Kubeconfig(map[string]*testenv.Cluster{"staging": staging, "production": production}), 0o600); err != nil {
		return err
	}
	k := &kubeBench{bench: b, staging: staging, production: production, kubeconfig: kc}
	var ratios, walls, sums []float64
	for i := range b.cfg.runs {
		ns := fmt.Sprintf("waves-%d", i)
		for _, n := range []string{"wave-1", "wave-2"} {
			if err := k.deployment(ctx, production, ns+"-"+n, "web", "registry.test/shop:v1"); err != nil {
				return err
			}
		}
		src := "registry.test/shop@" + fakeDigest(ns)
		targets := "k8s:" + ns + "-wave-1/web?context=production\n---\nk8s:" + ns + "-wave-2/web?context=production"
		cmd := exec.CommandContext(ctx, b.cfg.ferry, "promote")
		cmd.Env = k.ferryEnv("FERRY_SOURCE="+src, "FERRY_TARGETS="+targets, "FERRY_SOAK="+waveSoak.String())
		var out bytes.Buffer
		cmd.Stdout = &out
		s, err := measure.Run(ctx, cmd)
		if err != nil {
			return fmt.Errorf("two waves, run %d: %w", i+1, err)
		}
		var rep promote.Report
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil || len(rep.Waves) != 2 {
			return fmt.Errorf("two waves, run %d: report: %v (%d waves)", i+1, err, len(rep.Waves))
		}
		sum := 0.0
		for _, w := range rep.Waves {
			slowest := 0.0
			for _, t := range rep.Targets {
				if t.Wave == w.Wave {
					slowest = max(slowest, time.Duration(t.Durations.Release+t.Durations.Verify).Seconds())
				}
			}
			sum += slowest + time.Duration(w.Soak).Seconds()
		}
		walls, sums = append(walls, s.Wall.Seconds()), append(sums, sum)
		ratios = append(ratios, s.Wall.Seconds()/sum)
		b.log.Printf("gates: two waves run %d: ferry %.3fs, rollouts and soaks %.3fs (%.3f×)", i+1, s.Wall.Seconds(), sum, s.Wall.Seconds()/sum)
	}
	f := results.New(fmt.Sprintf("two-wave promotion (soak %s each): ferry's wall time over the sum of its waves' rollouts and soaks", waveSoak), "×", ratios, "", nil,
		&results.Bound{Text: "≤ 1.1×", Max: 1.1})
	f.Note = fmt.Sprintf("whole `ferry promote` process (median %.2fs) against the report's per-wave release+verify of the slowest target plus soak (median %.2fs)", measure.Summarize(walls).Median, measure.Summarize(sums).Median)
	b.add(f)
	return nil
}
