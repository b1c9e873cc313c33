package gate

import "fmt"

// Phase is the state of a measurement or a metric, named as in Argo
// Rollouts.
type Phase string

// Phases.
const (
	Running      Phase = "Running"
	Successful   Phase = "Successful"
	Failed       Phase = "Failed"
	Inconclusive Phase = "Inconclusive"
	Error        Phase = "Error"
)

// DefaultConsecutiveErrorLimit is Argo Rollouts' default.
const DefaultConsecutiveErrorLimit = 4

// Limits are what [Assess] judges a metric's measurements against.
type Limits struct {
	// Count is how many measurements (errors not counted) complete the
	// metric.
	Count int
	// FailureLimit, InconclusiveLimit and ConsecutiveErrorLimit are the
	// most failed, inconclusive and consecutive error measurements the
	// metric tolerates.
	FailureLimit, InconclusiveLimit, ConsecutiveErrorLimit int
}

// Tally counts measurements as Argo Rollouts' MetricResult does: an error
// measurement is not counted in Count and raises ConsecutiveError; any
// other resets it.
type Tally struct {
	Count, Successful, Failed, Inconclusive, Error, ConsecutiveError int
}

// Add counts one measurement of phase p.
func (t *Tally) Add(p Phase) {
	switch p {
	case Successful:
		t.Successful++
		t.Count++
		t.ConsecutiveError = 0
	case Failed:
		t.Failed++
		t.Count++
		t.ConsecutiveError = 0
	case Inconclusive:
		t.Inconclusive++
		t.Count++
		t.ConsecutiveError = 0
	case Error:
		t.Error++
		t.ConsecutiveError++
	}
}

// Assess judges a metric from the phases of its measurements so far, as
// Argo Rollouts does: Failed when failed > failureLimit, else
// Inconclusive when inconclusive > inconclusiveLimit, else Error when
// consecutive errors > consecutiveErrorLimit (of these, the later wins
// when several hold); otherwise Successful once count measurements were
// taken, and Running before. The message says which limit decided.
func Assess(l Limits, phases []Phase) (Phase, string) {
	var t Tally
	for _, p := range phases {
		t.Add(p)
	}
	return t.Assess(l)
}

// Assess is [Assess] over a tally.
func (t Tally) Assess(l Limits) (Phase, string) {
	var phase Phase
	var msg string
	if t.Failed > l.FailureLimit {
		phase, msg = Failed, fmt.Sprintf("failed (%d) > failureLimit (%d)", t.Failed, l.FailureLimit)
	}
	if t.Inconclusive > l.InconclusiveLimit {
		phase, msg = Inconclusive, fmt.Sprintf("inconclusive (%d) > inconclusiveLimit (%d)", t.Inconclusive, l.InconclusiveLimit)
	}
	if t.ConsecutiveError > l.ConsecutiveErrorLimit {
		phase, msg = Error, fmt.Sprintf("consecutiveErrors (%d) > consecutiveErrorLimit (%d)", t.ConsecutiveError, l.ConsecutiveErrorLimit)
	}
	if phase != "" {
		return phase, msg
	}
	if t.Count >= l.Count {
		return Successful, fmt.Sprintf("count (%d) reached", l.Count)
	}
	return Running, ""
}

// worse reports whether b is worse than a, in Argo Rollouts' order:
// Successful, Inconclusive, Error, Failed.
func worse(a, b Phase) bool { return rank(b) > rank(a) }

func rank(p Phase) int {
	switch p {
	case Successful:
		return 1
	case Inconclusive:
		return 2
	case Error:
		return 3
	case Failed:
		return 4
	}
	return 0
}

// Worst is the worst of phases (Argo Rollouts' verdict over several
// completed metrics); Running when any is still running.
func Worst(phases ...Phase) Phase {
	w := Successful
	for _, p := range phases {
		if p == Running || p == "" {
			return Running
		}
		if worse(w, p) {
			w = p
		}
	}
	return w
}
