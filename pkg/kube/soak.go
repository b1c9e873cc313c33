package kube

import (
	"context"

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
	return watchRollout(ctx, cs, kindOf(t.ref), t.ref.Namespace, t.ref.Name, t.logf)
}

var _ promote.Watcher = (*Target)(nil)
