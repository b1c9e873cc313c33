package promote

import (
	"context"
	"errors"
	"testing"

	"github.com/ferry-dev/ferry/pkg/image"
)

type fakeVerifier struct{ pass bool }

func (f fakeVerifier) Check(ctx context.Context, img image.Image) error {
	_, err := f.Verify(ctx, img)
	return err
}

func (f fakeVerifier) Verify(context.Context, image.Image) (*Verification, error) {
	v := &Verification{Check: "signature", Passed: f.pass, Expected: "a signature by key k", Found: []string{"signature: signed by another key"}}
	if f.pass {
		return v, nil
	}
	return v, Input(errors.New("not signed as required"))
}

// A refused source ends promote and plan before any target is touched,
// as bad input, and the report says what the check found.
func TestVerifyingCheck(t *testing.T) {
	for _, pass := range []bool{false, true} {
		for _, cmd := range []string{"promote", "plan"} {
			tg := &fakeTarget{name: "t"}
			o := Options{Checks: []SourceCheck{fakeVerifier{pass: pass}}}
			var r *Report
			var err error
			if cmd == "plan" {
				r, err = Plan(context.Background(), fakeSource{}, []Target{tg}, o)
			} else {
				r, err = Run(context.Background(), fakeSource{}, []Target{tg}, o)
			}
			if len(r.Verifications) != 1 || r.Verifications[0].Passed != pass {
				t.Fatalf("%s pass=%v: verifications %+v", cmd, pass, r.Verifications)
			}
			if pass {
				if err != nil {
					t.Fatalf("%s: %v", cmd, err)
				}
				continue
			}
			if !IsInput(err) || r.Outcome != OutcomeBadInput || len(tg.calls) != 0 {
				t.Fatalf("%s refused: error %v, outcome %s, target calls %v", cmd, err, r.Outcome, tg.calls)
			}
		}
	}
}
