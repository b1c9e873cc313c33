package kube

import (
	"context"
	"fmt"

	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// Restore puts the snapshot's pod template (and change cause, and pause)
// back, then waits until that has rolled out. It refuses to overwrite a
// Deployment that someone else changed after ferry's change.
func (t *Target) Restore(ctx context.Context, s promote.Snapshot, c promote.Change) error {
	if k := kindOf(t.ref); k != nil {
		return t.restoreWorkload(ctx, k, s, c)
	}
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
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment: %w", err)
	}
	plan := planRestore(d, st, ch)
	switch plan.step {
	case restoreNothing, restoreLeave:
		t.logf("restore: %s", plan.why)
		return nil
	case restoreRefuse:
		return fmt.Errorf("restoring: %s", plan.why)
	case restorePatch:
		if err := t.putBack(ctx, cs, d, st); err != nil {
			return fmt.Errorf("restoring: %w", err)
		}
		t.logf("put back the pod template of revision %s (%s)", s.Revision, s.Image)
	case restoreWait:
		t.logf("restore: %s", plan.why)
	}
	if err := waitRollout(ctx, cs, nil, t.ref.Namespace, t.ref.Name, t.logf); err != nil {
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

// putBack patches d's template and change cause back to st's, testing
// that d is still the Deployment that was read.
func (t *Target) putBack(ctx context.Context, cs API, d *appsv1.Deployment, st snapshotState) error {
	if st.ApplyAs != "" {
		_, err := t.restoreAsOwner(ctx, cs, st, d.Generation)
		return err
	}
	ops := []patchOp{
		{Op: "test", Path: "/metadata/uid", Value: st.UID},
		{Op: "test", Path: "/metadata/generation", Value: d.Generation},
		{Op: "replace", Path: "/spec/template", Value: st.Template},
	}
	if st.ChangeCause != nil {
		ops = append(ops, patchOp{Op: "add", Path: changeCausePath, Value: *st.ChangeCause})
	} else if _, ok := d.Annotations[changeCauseAnnotation]; ok {
		ops = append(ops, patchOp{Op: "remove", Path: changeCausePath})
	}
	_, err := t.patch(ctx, cs, ops)
	return err
}
