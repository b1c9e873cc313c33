package gate

import (
	"math"
	"strings"
	"testing"
)

// The expected outcomes below are Argo Rollouts' documented ones (its
// analysis documentation and the controller's assessment tests), for the
// same inputs.
func TestAssess(t *testing.T) {
	S, F, I, E := Successful, Failed, Inconclusive, Error
	lim := func(count, failure, inconclusive, errs int) Limits {
		return Limits{Count: count, FailureLimit: failure, InconclusiveLimit: inconclusive, ConsecutiveErrorLimit: errs}
	}
	cases := []struct {
		name   string
		limits Limits
		phases []Phase
		want   Phase
		msg    string
	}{
		{"no measurement yet: running", lim(3, 0, 0, 4), nil, Running, ""},
		{"fewer than count successes: running", lim(3, 0, 0, 4), []Phase{S, S}, Running, ""},
		{"count reached: successful", lim(3, 0, 0, 4), []Phase{S, S, S}, Successful, "count (3) reached"},
		{"one failure over the default failureLimit 0: failed at once", lim(5, 0, 0, 4), []Phase{S, F}, Failed, "failed (1) > failureLimit (0)"},
		{"failures up to failureLimit tolerated, count reached: successful", lim(5, 2, 0, 4), []Phase{F, S, F, S, S}, Successful, ""},
		{"failureLimit 3: the fourth failure fails", lim(10, 3, 0, 4), []Phase{F, F, F, S, F}, Failed, "failed (4) > failureLimit (3)"},
		{"fails on the third measurement", lim(5, 0, 0, 4), []Phase{S, S, F}, Failed, "failed (1) > failureLimit (0)"},
		{"inconclusive over inconclusiveLimit 0", lim(5, 0, 0, 4), []Phase{S, I}, Inconclusive, "inconclusive (1) > inconclusiveLimit (0)"},
		{"inconclusive within limit, count reached", lim(3, 0, 1, 4), []Phase{S, I, S}, Successful, ""},
		{"errors are not counted toward count", lim(2, 0, 0, 4), []Phase{S, E, E}, Running, ""},
		{"four consecutive errors tolerated by default", lim(2, 0, 0, 4), []Phase{E, E, E, E}, Running, ""},
		{"five consecutive errors: error", lim(2, 0, 0, 4), []Phase{E, E, E, E, E}, Error, "consecutiveErrors (5) > consecutiveErrorLimit (4)"},
		{"a success resets consecutive errors", lim(3, 0, 0, 2), []Phase{E, E, S, E, E, S}, Running, ""},
		{"consecutiveErrorLimit 0: the first error", lim(3, 0, 0, 0), []Phase{E}, Error, "consecutiveErrors (1) > consecutiveErrorLimit (0)"},
		{"errors, then count reached: successful", lim(2, 0, 0, 4), []Phase{E, S, E, S}, Successful, ""},
		{"error wins over failure when both limits are exceeded", lim(5, 0, 0, 0), []Phase{F, E}, Error, ""},
		{"inconclusive wins over failure", lim(5, 0, 0, 4), []Phase{F, I}, Inconclusive, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, msg := Assess(c.limits, c.phases)
			if got != c.want || (c.msg != "" && msg != c.msg) {
				t.Errorf("Assess(%+v, %v) = %s %q, want %s %q", c.limits, c.phases, got, msg, c.want, c.msg)
			}
		})
	}
}

func TestJudge(t *testing.T) {
	S, F, I, E := Successful, Failed, Inconclusive, Error
	cases := []struct {
		name             string
		result           any
		success, failure string
		want             Phase
	}{
		{"neither condition: successful", []float64{0.5}, "", "", S},
		{"success only, true", []float64{0.005}, "result[0] < 0.01", "", S},
		{"success only, false: failed", []float64{0.02}, "result[0] < 0.01", "", F},
		{"failure only, false: successful", []float64{0.005}, "", "result[0] >= 0.01", S},
		{"failure only, true: failed", []float64{0.02}, "", "result[0] >= 0.01", F},
		{"both, success holds", 0.99, "result >= 0.95", "result < 0.9", S},
		{"both, failure holds", 0.8, "result >= 0.95", "result < 0.9", F},
		{"both hold: failure wins", 0.8, "result < 1", "result < 0.9", F},
		{"both, neither holds: inconclusive", 0.92, "result >= 0.95", "result < 0.9", I},
		{"empty vector: index out of range is an error", []float64{}, "result[0] < 0.01", "", E},
		{"non-bool condition is an error", 1.0, "result + 1", "", E},
		{"NaN helper", math.NaN(), "!isNaN(result) && result < 1", "", F},
		{"asFloat over a string", "0.5", "asFloat(result) < 1", "", S},
		{"default over nil", nil, "default(result, 0) == 0", "", S},
		{"a map result from a web JSONPath", map[string]any{"ok": true}, "result.ok", "", S},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseCondition(c.success)
			if err != nil {
				t.Fatal(err)
			}
			f, err := ParseCondition(c.failure)
			if err != nil {
				t.Fatal(err)
			}
			got, cond, err := Judge(c.result, s, f)
			if got != c.want {
				t.Fatalf("Judge(%v) = %s (%s, %v), want %s", c.result, got, cond, err, c.want)
			}
			if (got == E) != (err != nil) {
				t.Errorf("phase %s with error %v", got, err)
			}
		})
	}
}

func TestCompileRefusesBadExpressions(t *testing.T) {
	for _, src := range []string{"result[0] <", "result ==== 1", "foo("} {
		if _, err := ParseCondition(src); err == nil || !strings.Contains(err.Error(), "does not compile") {
			t.Errorf("ParseCondition(%q) = %v", src, err)
		}
	}
}

func TestWorst(t *testing.T) {
	if w := Worst(Successful, Inconclusive, Error); w != Error {
		t.Errorf("Worst = %s", w)
	}
	if w := Worst(Successful, Failed, Error); w != Failed {
		t.Errorf("Worst = %s", w)
	}
	if w := Worst(Successful, Running); w != Running {
		t.Errorf("Worst = %s", w)
	}
}
