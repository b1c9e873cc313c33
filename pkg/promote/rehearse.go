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
	errs := make([]error, len(r.targets))
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		t, tr := r.targets[i], &r.report.Targets[i]
		rh, ok := As[Rehearser](t)
		if !ok || r.snaps[i].UpToDate {
			return
		}
		if err := rh.Rehearse(ctx, r.snaps[i], img); err != nil {
			tr.Status, tr.Error = StatusFailed, err.Error()
			errs[i] = fmt.Errorf("%s: %w", t, err)
		}
	})
	return errors.Join(errs...)
}

// checkAccessAll asks every AccessChecker among the targets, in parallel,
// before anything is written: any refusal ends the run, and every refusal
// is reported, each on its target.
func (r *run) checkAccessAll(ctx context.Context) error {
	errs := make([]error, len(r.targets))
	forEach(len(r.targets), r.o.Parallelism, func(i int) {
		t, tr := r.targets[i], &r.report.Targets[i]
		ac, ok := As[AccessChecker](t)
		if !ok {
			return
		}
		if err := ac.CheckAccess(ctx); err != nil {
			tr.Status, tr.Error = StatusFailed, err.Error()
			errs[i] = fmt.Errorf("%s: %w", t, err)
		}
	})
	return errors.Join(errs...)
}
