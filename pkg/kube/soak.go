package kube

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Watch keeps watching the Deployment after its verification, while its
// wave soaks and is gated (see promote.Watcher): a pod of the current
// ReplicaSet that starts crash-looping or cannot pull its image, or a
// missed progress deadline, is a *RolloutError at once. It returns nil
// when ctx ends.
func (t *Target) Watch(ctx context.Context, _ promote.Snapshot, _ promote.Change) error {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return err
	}
	if k := kindOf(t.ref); k != nil {
		return watchWorkload(ctx, cs, k, t.ref.Namespace, t.ref.Name, t.logf)
	}
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment: %w", err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment selector: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := newRolloutWatch(cs, t.ref.Namespace, t.ref.Name, sel.String())
	stopped, err := w.start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		cancel()
		stopped()
	}()
	return w.watch(ctx, t.logf)
}

// watch evaluates the Deployment at every change until Evaluate reports
// a failure (returned) or ctx ends (nil).
func (w *rolloutWatch) watch(ctx context.Context, logf func(format string, args ...any)) error {
	start := time.Now()
	for {
		if w.synced() {
			v, err := evaluateFromStores(w.deploys.GetStore(), w.replicaSets.GetStore(), w.pods.GetStore(), w.ns, w.name)
			switch {
			case err != nil:
				return err
			case v.Failure != "":
				logf("watch: failed %s after its verification: %s", time.Since(start).Round(100*time.Millisecond), v.Failure)
				return &RolloutError{Reason: v.Failure}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.changed:
		}
	}
}

var _ promote.Watcher = (*Target)(nil)
