package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Gate is one metric, measured and judged (a [promote.Gate]).
type Gate struct {
	name                   string
	metric                 Metric
	interval, initialDelay time.Duration
	limits                 Limits
	success, failure       *Condition
	measure                measurer
	secrets                []string
	log                    promote.Logger
}

// Name is the metric's name (for a template's metric, template/metric).
func (g *Gate) Name() string { return g.name }

// Limits are the metric's count and limits.
func (g *Gate) Limits() Limits { return g.limits }

// Secrets are the credentials the gate read from the environment, for
// the run's redaction.
func (g *Gate) Secrets() []string { return g.secrets }

// SetLogger sets where the gate's progress lines go.
func (g *Gate) SetLogger(l promote.Logger) { g.log = l }

// Check measures after initialDelay, then every interval, judging each
// measurement, until the metric is no longer Running (see [Assess]) or
// ctx ends. Every measurement is in the result. wave only names the
// wave in log lines.
func (g *Gate) Check(ctx context.Context, wave int) (promote.GateResult, error) {
	res := promote.GateResult{Gate: g.name, Phase: string(Running), Measurements: []promote.Measurement{}}
	logf := func(format string, args ...any) {
		if g.log != nil {
			g.log.Logf("", "gate %s (wave %d): "+format, append([]any{g.name, wave}, args...)...)
		}
	}
	if err := httpx.Sleep(ctx, g.initialDelay); err != nil {
		return res, fmt.Errorf("stopped during its initialDelay: %w", context.Cause(ctx))
	}
	var tally Tally
	for n := 1; ; n++ {
		m := g.measureOnce(ctx)
		res.Measurements = append(res.Measurements, m)
		tally.Add(Phase(m.Phase))
		phase, msg := tally.Assess(g.limits)
		logf("measurement %d: %s", n, describe(m))
		if phase != Running {
			res.Phase = string(phase)
			if phase == Successful {
				return res, nil
			}
			res.Message = msg
			return res, fmt.Errorf("%s: %s", phase, msg)
		}
		if err := httpx.Sleep(ctx, g.interval); err != nil {
			res.Message = "stopped before it reached a verdict"
			return res, fmt.Errorf("stopped after %d measurements: %w", n, context.Cause(ctx))
		}
	}
}

func (g *Gate) measureOnce(ctx context.Context) promote.Measurement {
	m := promote.Measurement{Metric: g.name, At: time.Now().UTC()}
	v, err := g.measure.measure(ctx)
	if err != nil {
		m.Phase, m.Error = string(Error), err.Error()
		return m
	}
	if b, err := json.Marshal(v); err == nil {
		m.Value = string(b)
	} else {
		m.Value = fmt.Sprint(v)
	}
	phase, cond, err := Judge(v, g.success, g.failure)
	m.Phase, m.Condition = string(phase), cond
	if err != nil {
		m.Error = err.Error()
	}
	return m
}

func describe(m promote.Measurement) string {
	s := m.Phase
	if m.Value != "" {
		s += " result=" + m.Value
	}
	if m.Condition != "" {
		s += " (" + m.Condition + ")"
	}
	if m.Error != "" {
		s += ": " + m.Error
	}
	return s
}

var _ promote.Gate = (*Gate)(nil)

// ErrUnsupported matches an [UnsupportedError].
var ErrUnsupported = errors.New("unsupported provider")

// Is makes errors.Is(err, ErrUnsupported) hold.
func (e *UnsupportedError) Is(target error) bool { return target == ErrUnsupported }
