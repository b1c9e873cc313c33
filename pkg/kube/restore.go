package kube

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// restoreStep is what a restore does to a Deployment.
type restoreStep int

const (
	// restoreNothing: the change never landed; the Deployment is as the
	// snapshot saw it.
	restoreNothing restoreStep = iota
	// restoreLeave: the change never landed and someone else changed the
	// Deployment since: their rollout, not ferry's to undo.
	restoreLeave
	// restoreRefuse: someone changed the pod template after ferry did;
	// ferry must not overwrite that, and a human must look.
	restoreRefuse
	// restoreWait: the template is as in the snapshot already; wait for it
	// to roll out.
	restoreWait
	// restorePatch: put the snapshot's template back, then wait.
	restorePatch
)

// restorePlan is a restoreStep and why.
type restorePlan struct {
	step restoreStep
	why  string
}

// planRestore decides how to restore d, as it is now, to the snapshot st,
// undoing the change ch. It only reads its arguments.
func planRestore(d *appsv1.Deployment, st snapshotState, ch changeState) restorePlan {
	return planRestoreTemplate(d.UID, d.Generation, d.Spec.Template, st, ch)
}

// planRestoreTemplate is planRestore for any workload kind: its uid,
// generation and pod template as they are now.
func planRestoreTemplate(uid types.UID, generation int64, tmpl corev1.PodTemplateSpec, st snapshotState, ch changeState) restorePlan {
	what := "deployment"
	if st.Kind != "" {
		what = strings.ToLower(st.Kind)
	}
	if uid != st.UID {
		return restorePlan{restoreRefuse, fmt.Sprintf("the %s was deleted and re-created since the snapshot (uid %s, was %s); not touching it", what, uid, st.UID)}
	}
	ours := ch.Left
	if ours == nil && equality.Semantic.DeepEqual(tmpl, ch.Asked) {
		// The patch's answer was lost (a timeout, say) but it landed.
		ours = &ch.Asked
	}
	switch {
	case generation == st.Generation:
		return restorePlan{restoreNothing, fmt.Sprintf("unchanged since the snapshot (generation %d)", generation)}
	case equality.Semantic.DeepEqual(tmpl, st.Template):
		return restorePlan{restoreWait, "the template is as in the snapshot already"}
	case ours == nil:
		return restorePlan{restoreLeave, fmt.Sprintf("ferry's change did not land and the %s was changed by someone else since the snapshot; leaving it as it is (it runs %s)", what, describeImages(tmpl))}
	case !equality.Semantic.DeepEqual(tmpl, *ours):
		// Scaling (an HPA) is fine; a different template is someone
		// else's rollout, which ferry must not overwrite.
		return restorePlan{restoreRefuse, "its pod template changed after ferry's change; not overwriting someone else's change — it runs " + describeImages(tmpl)}
	}
	return restorePlan{restorePatch, "putting the snapshot's pod template back"}
}

// Restore puts the snapshot's pod template back (see putBack), then
// waits until that has rolled out; a Deployment that was paused is paused
// again. It refuses to overwrite a workload that someone else changed
// after ferry's change.
func (t *Target) Restore(ctx context.Context, s promote.Snapshot, c promote.Change) error {
	st, err := promote.DecodeState[snapshotState](s.State)
	if err != nil {
		return err
	}
	ch, err := promote.DecodeState[changeState](c.State)
	if err != nil {
		return err
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return err
	}
	k := kindOf(t.ref)
	cur, err := readWorkload(ctx, cs, k, t.ref.Namespace, t.ref.Name)
	if err != nil {
		return err
	}
	plan := planRestoreTemplate(cur.uid, cur.generation, cur.template, st, ch)
	gen := cur.generation
	switch plan.step {
	case restoreNothing, restoreLeave:
		t.logf("restore: %s", plan.why)
		return nil
	case restoreRefuse:
		return fmt.Errorf("restoring: %s", plan.why)
	case restorePatch:
		if gen, err = t.putBack(ctx, cs, k, cur, s, st); err != nil {
			return fmt.Errorf("restoring: %w", err)
		}
	case restoreWait:
		t.logf("restore: %s", plan.why)
	}
	if cur.kind == KindRollout {
		if err := t.clearRolloutAbort(ctx, cs, k, gen); err != nil {
			return fmt.Errorf("restoring: %w", err)
		}
	}
	if err := waitRollout(ctx, cs, k, t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return fmt.Errorf("waiting for the restored template to roll out: %w", err)
	}
	if st.Paused {
		if _, err := t.patch(ctx, cs, []patchOp{{Op: "replace", Path: "/spec/paused", Value: true}}); err != nil {
			return fmt.Errorf("pausing again: %w", err)
		}
	}
	t.logf("restored: %s rolled out again", s.Image)
	return nil
}

// putBack puts the snapshot's pod template and change cause back on cur
// (of kind k, nil for a Deployment), testing that it is still what was
// read, and returns the generation that made. A StatefulSet's or
// DaemonSet's update strategy (a StatefulSet's partition with it) goes
// back too, and then a StatefulSet's pods of the failed revision that are
// not ready are deleted, as Kubernetes' "forced rollback" asks: with
// OrderedReady the controller waits for a broken pod forever instead of
// replacing it. A Rollout's rollout is first aborted as `kubectl argo
// rollouts abort` does (status.abort), so that its controller stops
// moving to the failed template and scales its stable ReplicaSet back up;
// Restore then clears the abort if the controller leaves it set (see
// clearRolloutAbort).
func (t *Target) putBack(ctx context.Context, cs API, k kindOps, cur *workload, s promote.Snapshot, st snapshotState) (gen int64, err error) {
	if cur.kind == KindRollout {
		if err := patchRolloutStatus(ctx, cs, cur.namespace, cur.name, []byte(`{"status":{"abort":true}}`)); err != nil {
			return 0, fmt.Errorf("aborting the rollout: %w", err)
		}
		t.logf("aborted the rollout of %s (status.abort, as kubectl argo rollouts abort)", cur.what())
	}
	if st.ApplyAs != "" {
		if gen, err = t.restoreAsOwner(ctx, cs, st, cur.generation); err != nil {
			return 0, err
		}
	} else if gen, err = t.patchBack(ctx, cs, cur, st); err != nil {
		return 0, err
	}
	switch {
	case k == nil:
		t.logf("put back the pod template of revision %s (%s)", s.Revision, s.Image)
	case st.ApplyAs != "":
		t.logf("put back the images of %s (%s) as field manager %s", cur.what(), s.Image, st.ApplyAs)
	case cur.kind == KindRollout:
		t.logf("put back the pod template of %s (%s)", cur.what(), s.Image)
	default:
		t.logf("put back the pod template and update strategy of %s (%s)", cur.what(), s.Image)
	}
	if cur.kind == KindStatefulSet {
		if err := t.replaceBrokenPods(ctx, cs, k, gen); err != nil {
			return 0, err
		}
	}
	return gen, nil
}

// patchBack is putBack's JSON patch.
func (t *Target) patchBack(ctx context.Context, cs API, cur *workload, st snapshotState) (int64, error) {
	ops := []patchOp{
		{Op: "test", Path: "/metadata/uid", Value: st.UID},
		{Op: "test", Path: "/metadata/generation", Value: cur.generation},
		{Op: "replace", Path: "/spec/template", Value: st.Template},
	}
	// A Rollout's snapshot records no strategy (null), a Deployment's none.
	if len(st.Strategy) > 0 && cur.kind != KindRollout {
		ops = append(ops, patchOp{Op: "replace", Path: "/spec/updateStrategy", Value: st.Strategy})
	}
	if st.ChangeCause != nil {
		ops = append(ops, patchOp{Op: "add", Path: changeCausePath, Value: *st.ChangeCause})
	} else if _, ok := cur.annotations[changeCauseAnnotation]; ok {
		ops = append(ops, patchOp{Op: "remove", Path: changeCausePath})
	}
	w, err := t.patch(ctx, cs, ops)
	if err != nil {
		return 0, err
	}
	return w.generation, nil
}
