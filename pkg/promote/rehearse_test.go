package promote

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/pkg/image"
)

// checkedTarget is a fakeTarget that answers the access check and the
// rehearsal as told.
type checkedTarget struct {
	*fakeTarget
	accessErr, rehearseErr error
}

func (c *checkedTarget) CheckAccess(context.Context) error {
	c.record("access")
	return c.accessErr
}

func (c *checkedTarget) Rehearse(context.Context, Snapshot, image.Image) error {
	c.record("rehearse")
	return c.rehearseErr
}

// A refused access check or rehearsal fails its target, named, and
// every refusal is reported; nothing is released anywhere.
func TestRefusalsBeforeAnyChange(t *testing.T) {
	for _, step := range []string{"access", "rehearse"} {
		t.Run(step, func(t *testing.T) {
			refused := Input(errors.New("refused by the API server"))
			a := &checkedTarget{fakeTarget: &fakeTarget{name: "a"}}
			b := &checkedTarget{fakeTarget: &fakeTarget{name: "b"}}
			c := &checkedTarget{fakeTarget: &fakeTarget{name: "c"}}
			for _, x := range []*checkedTarget{a, c} {
				if step == "access" {
					x.accessErr = refused
				} else {
					x.rehearseErr = refused
				}
			}
			r, err := Run(context.Background(), fakeSource{}, []Target{a, b, c}, Options{Parallelism: 2})
			if err == nil || !IsInput(err) || !strings.Contains(err.Error(), "a: refused") || !strings.Contains(err.Error(), "c: refused") {
				t.Fatalf("err = %v, want an input error naming a and c", err)
			}
			for i, x := range []*checkedTarget{a, b, c} {
				if x.did("release") {
					t.Errorf("%s was released", x.name)
				}
				if !x.did(step) {
					t.Errorf("%s was not asked (%s)", x.name, step)
				}
				failed := r.Targets[i].Status == StatusFailed && r.Targets[i].Error == refused.Error()
				if failed != (x != b) {
					t.Errorf("%s: status %s, error %q", x.name, r.Targets[i].Status, r.Targets[i].Error)
				}
			}
		})
	}
}
