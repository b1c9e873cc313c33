package heroku

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	hk "github.com/heroku/heroku-go/v5"
)

// dynoVerdict is the state of a release's dynos at one moment.
type dynoVerdict struct {
	// Done is true when every process type has as many dynos of the
	// release up as its formation asks for.
	Done bool
	// Failure is non-empty when the release cannot become healthy: a dyno
	// of it crashed, or a newer release replaced it.
	Failure string
	// Progress says what is still awaited, for the log.
	Progress string
	// Up is the number of the release's dynos up.
	Up int
}

// evaluateDynos judges the dynos ds of release rel against the formation
// want (process type to quantity). It only reads its arguments.
func evaluateDynos(rel releaseRef, want map[string]int, ds []hk.Dyno) dynoVerdict {
	up := map[string]int{}
	var crashed, waiting []string
	for _, d := range ds {
		if d.Release.Version > rel.Version {
			return dynoVerdict{Failure: fmt.Sprintf("release v%d replaced v%d while its dynos were starting", d.Release.Version, rel.Version)}
		}
		if d.Release.ID != rel.ID && d.Release.Version != rel.Version {
			continue
		}
		switch d.State {
		case "up", "idle":
			up[d.Type]++
		case "crashed":
			crashed = append(crashed, d.Name)
		default:
			waiting = append(waiting, d.Name+" "+d.State)
		}
	}
	if len(crashed) > 0 {
		sort.Strings(crashed)
		return dynoVerdict{Failure: fmt.Sprintf("dynos of release v%d crashed: %s", rel.Version, strings.Join(crashed, ", "))}
	}
	var short []string
	for typ, n := range want {
		if up[typ] < n {
			short = append(short, fmt.Sprintf("%s %d/%d up", typ, up[typ], n))
		}
	}
	total := 0
	for _, n := range up {
		total += n
	}
	sort.Strings(short)
	sort.Strings(waiting)
	return dynoVerdict{Done: len(short) == 0, Progress: strings.Join(append(short, waiting...), ", "), Up: total}
}

// waitDynos waits until evaluateDynos says the dynos of rel are up or
// have failed, or Options.BootTimeout passes.
func (t *Target) waitDynos(ctx context.Context, rel releaseRef) error {
	forms, err := t.c.formation(ctx, t.addr.App)
	if err != nil {
		return err
	}
	want := map[string]int{}
	for _, f := range forms {
		if f.Quantity > 0 {
			want[f.Type] = f.Quantity
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.c.opts.BootTimeout)
	defer cancel()
	timedOut := func(last string) error {
		return fmt.Errorf("dynos of v%d not up within %s (%s)", rel.Version, t.c.opts.BootTimeout, last)
	}
	last := ""
	pace := newPoll(t.c.opts.PollInterval)
	for {
		ds, err := t.c.dynos(ctx, t.addr.App)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return timedOut(last)
			}
			return err
		}
		v := evaluateDynos(rel, want, ds)
		switch {
		case v.Failure != "":
			return errors.New(v.Failure)
		case v.Done:
			t.logf("release v%d: %d dynos up", rel.Version, v.Up)
			return nil
		case v.Progress != last:
			t.logf("release v%d: waiting for dynos: %s", rel.Version, v.Progress)
			last = v.Progress
		}
		if err := pace.wait(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return timedOut(last)
			}
			return err
		}
	}
}
