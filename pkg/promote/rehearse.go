package promote

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/pkg/image"
)

// rehearseAll runs every Rehearser among the targets that would change,
// in parallel: any refusal ends the run before anything changed, and
// every refusal is reported, each on its target.
func (r *run) rehearseAll(ctx context.Context, img image.Image) error {
	return askAll(r, func(i int, rh Rehearser) error {
		if r.snaps[i].UpToDate {
			return nil
		}
		return rh.Rehearse(ctx, r.snaps[i], img)
	})
}

// checkAccessAll asks every AccessChecker among the targets, in parallel,
// before anything is written: any refusal ends the run, and every refusal
// is reported, each on its target.
func (r *run) checkAccessAll(ctx context.Context) error {
	return askAll(r, func(_ int, ac AccessChecker) error { return ac.CheckAccess(ctx) })
}

// askAll calls ask on every target that is a C, in parallel (bounded),
// and joins the refusals: each fails its target, named.
func askAll[C any](r *run, ask func(i int, c C) error) error {
	errs := make([]error, len(r.targets))
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		t, tr := r.targets[i], &r.report.Targets[i]
		c, ok := As[C](t)
		if !ok {
			return
		}
		if err := ask(i, c); err != nil {
			tr.Status, tr.Error = StatusFailed, err.Error()
			errs[i] = fmt.Errorf("%s: %w", t, err)
		}
	})
	return errors.Join(errs...)
}
