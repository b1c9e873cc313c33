package promote

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// describingTarget is a fakeTarget that says what it runs.
type describingTarget struct {
	*fakeTarget
	now string
	err error
}

func (d *describingTarget) Describe(context.Context) (string, error) { return d.now, d.err }

// wrapper decorates a target the way cmd/ferry's health check does.
type wrapper struct{ Target }

func (w wrapper) Unwrap() Target { return w.Target }

// A target that could not be restored is reported with what it runs now
// (or why that is unknown) and what it ran before, so that the human who
// has to step in knows where to start.
func TestRestoreFailureSaysWhatRunsNow(t *testing.T) {
	down := errors.New("connection refused")
	cases := []struct {
		name   string
		target func(f *fakeTarget) Target
		want   []string
	}{
		{"describer", func(f *fakeTarget) Target {
			return &describingTarget{fakeTarget: f, now: "app=shop@sha256:new (revision 4)"}
		},
			[]string{"it now runs app=shop@sha256:new (revision 4)", "before the promotion it ran a:v1 (revision 1)"}},
		{"wrapped describer", func(f *fakeTarget) Target { return wrapper{&describingTarget{fakeTarget: f, now: "release v9"}} },
			[]string{"it now runs release v9", "before the promotion it ran a:v1 (revision 1)"}},
		{"unreadable", func(f *fakeTarget) Target { return &describingTarget{fakeTarget: f, err: down} },
			[]string{"what it runs now could not be read (connection refused)", "its release asked for " + img.Ref(), "before the promotion it ran a:v1"}},
		{"not a describer", func(f *fakeTarget) Target { return f },
			[]string{"its release asked for " + img.Ref(), "before the promotion it ran a:v1 (revision 1)"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeTarget{name: "a", verifyErr: errors.New("crashed"), restoreErr: down}
			r, err := Run(context.Background(), fakeSource{}, []Target{c.target(f)}, Options{})
			var re *RestoreError
			if !errors.As(err, &re) || r.Outcome != OutcomeRestoreFailed {
				t.Fatalf("Run = %v, outcome %s; want a RestoreError", err, r.Outcome)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Targets[0].Restore, w) {
					t.Errorf("restore error %q lacks %q", r.Targets[0].Restore, w)
				}
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}
