package report

import (
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

func wavesExample() []promote.WaveReport {
	at := time.Date(2026, 11, 29, 3, 10, 1, 0, time.UTC)
	return []promote.WaveReport{
		{Wave: 1, Targets: []string{"k8s:shop/web?context=canary"}, Status: promote.WaveFailed, Soak: promote.Duration(4200 * time.Millisecond),
			Error: "gate error-rate: Failed: failed (1) > failureLimit (0)",
			Gates: []promote.GateResult{{Gate: "error-rate", Phase: "Failed", Message: "failed (1) > failureLimit (0)", Measurements: []promote.Measurement{
				{Metric: "error-rate", At: at, Value: "[0.002]", Phase: "Successful", Condition: "result[0] < 0.01"},
				{Metric: "error-rate", At: at.Add(time.Second), Value: "[0.031]", Phase: "Failed", Condition: "not (result[0] < 0.01)"},
				{Metric: "error-rate", At: at.Add(2 * time.Second), Phase: "Error", Error: "could not reach the provider: connection refused"},
			}}}},
		{Wave: 2, Targets: []string{"heroku:shop/web"}, Status: promote.WaveNotReached},
	}
}

func TestWavesInTextAndSummary(t *testing.T) {
	r := promote.NewReport("promote", []string{"k8s:shop/web?context=canary", "heroku:shop/web"})
	r.Outcome = promote.OutcomeFailed
	r.Waves = wavesExample()
	var b strings.Builder
	if err := Text(&b, r, redact.Secrets{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"wave 1 failed (soaked 4.2s): k8s:shop/web?context=canary",
		"gate error-rate: Failed (failed (1) > failureLimit (0))",
		"[0.031]", "not (result[0] < 0.01)", "could not reach the provider",
		"wave 2 not-reached: heroku:shop/web",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, b.String())
		}
	}
	md := Summary(r)
	for _, want := range []string{
		"#### Wave 1: failed (soaked 4.2s)",
		"| gate | # | at | result | phase | condition / error |",
		"| `error-rate` | 2 | 03:10:02 | `[0.031]` | Failed | not (result[0] < 0.01) |",
		"#### Wave 2: not-reached",
		"- gate `error-rate`: **Failed** — failed (1) > failureLimit (0)",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("summary lacks %q:\n%s", want, md)
		}
	}
}
