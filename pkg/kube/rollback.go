package kube

import (
	"context"
	"fmt"
	"strconv"

	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Rollback puts the Deployment's pod template back to the one of an earlier
// revision, as `kubectl rollout undo` does, then waits for it to roll out.
// toRevision "" means the revision before the current one. It needs the
// ReplicaSet history (revisionHistoryLimit > 0); a promotion's own restore
// does not.
func (t *Target) Rollback(ctx context.Context, toRevision string) (promote.Snapshot, error) {
	snap, err := t.rollback(ctx, toRevision)
	if err != nil {
		return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t.ref, err)
	}
	return snap, nil
}

func (t *Target) rollback(ctx context.Context, toRevision string) (promote.Snapshot, error) {
	var want int64
	if toRevision != "" {
		n, err := strconv.ParseInt(toRevision, 10, 64)
		if err != nil || n <= 0 {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("revision %q: want a positive Deployment revision number, such as 3", toRevision))
		}
		want = n
	}
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return promote.Snapshot{}, err
	}
	d, _, err := getDeployment(ctx, cs, t.ref)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if d.Spec.Paused {
		return promote.Snapshot{}, promote.Input(fmt.Errorf("deployment %s/%s is paused: resume it before rolling back", d.Namespace, d.Name))
	}
	rss, err := replicaSetsOf(ctx, cs, d)
	if err != nil {
		return promote.Snapshot{}, err
	}
	current := revisionOf(d)
	pick := -1
	for i, rs := range rss { // sorted by revision
		r := revisionOf(rs)
		if (want != 0 && r == want) || (want == 0 && r < current) {
			pick = i
		}
	}
	if pick < 0 {
		if want != 0 {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("revision %d is not in the deployment's history (revisionHistoryLimit keeps %s)", want, historyLimit(d.Spec.RevisionHistoryLimit)))
		}
		return promote.Snapshot{}, promote.Input(fmt.Errorf("no revision before %d is kept (revisionHistoryLimit: %s): name one with --to-revision", current, historyLimit(d.Spec.RevisionHistoryLimit)))
	}
	rs := rss[pick]
	tmpl := *rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, podTemplateHashLabel)
	if equality.Semantic.DeepEqual(tmpl, d.Spec.Template) {
		t.logf("already runs the template of revision %d", revisionOf(rs))
	} else {
		ops := []patchOp{
			{Op: "test", Path: "/metadata/uid", Value: d.UID},
			{Op: "test", Path: "/metadata/generation", Value: d.Generation},
			{Op: "replace", Path: "/spec/template", Value: tmpl},
		}
		if cc, ok := rs.Annotations[changeCauseAnnotation]; ok {
			ops = append(ops, patchOp{Op: "add", Path: changeCausePath, Value: cc})
		}
		if _, err := t.patch(ctx, cs, ops); err != nil {
			return promote.Snapshot{}, err
		}
		t.logf("put back the pod template of revision %d", revisionOf(rs))
	}
	wctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	if err := waitRollout(wctx, cs, t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return promote.Snapshot{}, fmt.Errorf("waiting for the rollback to roll out: %w", err)
	}
	return t.Snapshot(ctx, image.Image{})
}

func historyLimit(p *int32) string {
	if p == nil {
		return "10"
	}
	return strconv.Itoa(int(*p))
}
