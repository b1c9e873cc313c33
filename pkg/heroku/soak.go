package heroku

import (
	"context"
	"errors"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Watch keeps looking at the dynos of the release c made, every
// PollInterval, while its wave soaks and is gated (see promote.Watcher):
// a dyno of it that crashed, or a newer release, fails it at once. It
// returns nil when ctx ends.
func (t *Target) Watch(ctx context.Context, _ promote.Snapshot, c promote.Change) error {
	ch, err := promote.DecodeState[change](c.State)
	if err != nil {
		return err
	}
	if ch.Release == nil {
		return nil
	}
	rel := *ch.Release
	for {
		ds, err := t.c.dynos(ctx, t.addr.App)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			// One failed look is not a failed release; the next may do.
			t.logf("watch: reading dynos: %v", err)
		default:
			if v := evaluateDynos(rel, nil, ds); v.Failure != "" {
				return errors.New(v.Failure)
			}
		}
		if err := httpx.Sleep(ctx, t.c.opts.PollInterval); err != nil {
			return nil
		}
	}
}

var _ promote.Watcher = (*Target)(nil)
