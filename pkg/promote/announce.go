package promote

import (
	"context"
	"sync"
)

// Announcer publishes a promotion where teams look (a GitHub Deployment,
// say). Start is called once every check has passed, the locks are held
// and the snapshots and dry runs are done — right before the first change,
// so a run refused as bad input announces nothing — and End with the
// report once the run has ended, restores included. An announcement is
// secondary to the promotion: an Announcer logs its own failures and
// never fails the run. Start reads from r what is promoted (Image and
// Digest, and Images with container mappings); r is the run's and still
// being written, so it must not keep it.
type Announcer interface {
	Start(ctx context.Context, r *Report)
	End(ctx context.Context, r *Report)
}

// announce starts every announcer, side by side, and returns what ends
// them.
func (r *run) announce(ctx context.Context) (end func()) {
	var wg sync.WaitGroup
	for _, a := range r.o.Announcers {
		wg.Go(func() { a.Start(ctx, r.report) })
	}
	wg.Wait()
	return func() {
		// The run may be being cancelled: the end still goes out.
		ectx := context.WithoutCancel(ctx)
		for _, a := range r.o.Announcers {
			wg.Go(func() { a.End(ectx, r.report) })
		}
		wg.Wait()
	}
}
