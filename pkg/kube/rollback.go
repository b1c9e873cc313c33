package kube

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// revisionHistoryAnnotation lists the earlier revisions a ReplicaSet held:
// the deployment controller moves a ReplicaSet to a new revision when its
// template comes back (a restore, `kubectl rollout undo`).
const revisionHistoryAnnotation = "deployment.kubernetes.io/revision-history"

// revisionsOf are every revision rs has held, its current one included.
func revisionsOf(rs *appsv1.ReplicaSet) []int64 {
	out := []int64{revisionOf(rs)}
	for r := range strings.SplitSeq(rs.Annotations[revisionHistoryAnnotation], ",") {
		if n, err := strconv.ParseInt(strings.TrimSpace(r), 10, 64); err == nil {
			out = append(out, n)
		}
	}
	return out
}

// pickRevision chooses the ReplicaSet whose template a rollback puts back,
// among rss (d's ReplicaSets; current is the one d runs, or nil).
//
// With to == 0 it is the newest ReplicaSet older than the current one's
// first revision: a template that came back (by a restore or a rollback)
// counts as the revision it first was, so the revisions that were rolled
// away from — a build ferry's restore undid, say — are never "the one
// before". Otherwise it is the ReplicaSet that held revision to. It only
// reads its arguments.
func pickRevision(d *appsv1.Deployment, current *appsv1.ReplicaSet, rss []*appsv1.ReplicaSet, to int64) (*appsv1.ReplicaSet, error) {
	if to > 0 {
		for _, rs := range rss {
			if slices.Contains(revisionsOf(rs), to) {
				if rs == current {
					return nil, fmt.Errorf("it already runs revision %d", to)
				}
				return rs, nil
			}
		}
		return nil, fmt.Errorf("revision %d is not in the deployment's history (revisionHistoryLimit keeps %s)", to, historyLimit(d.Spec.RevisionHistoryLimit))
	}
	first := revisionOf(d)
	if current != nil {
		first = slices.Min(revisionsOf(current))
	}
	var pick *appsv1.ReplicaSet
	for _, rs := range rss {
		if rs == current || revisionOf(rs) >= first || equality.Semantic.DeepEqual(templateOf(rs), d.Spec.Template) {
			continue
		}
		if pick == nil || revisionOf(rs) > revisionOf(pick) {
			pick = rs
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("no revision before %d is kept (revisionHistoryLimit: %s): name one with --to-revision", first, historyLimit(d.Spec.RevisionHistoryLimit))
	}
	return pick, nil
}

// templateOf is rs's pod template as its Deployment wrote it, without the
// pod-template-hash label the controller adds.
func templateOf(rs *appsv1.ReplicaSet) corev1.PodTemplateSpec {
	tmpl := *rs.Spec.Template.DeepCopy()
	delete(tmpl.Labels, podTemplateHashLabel)
	return tmpl
}

// Rollback puts the pod template of an earlier revision back, as `kubectl
// rollout undo` does, picking it with pickRevision: to "" means the
// revision before the one running now, never one that was rolled away
// from. It needs the ReplicaSet history (revisionHistoryLimit > 0); a
// promotion's own restore does not. The pipeline then verifies the
// rollout like a release's, and restores s should that fail.
func (t *Target) Rollback(ctx context.Context, s promote.Snapshot, to string) (promote.Change, error) {
	if k := kindOf(t.ref); k != nil {
		return promote.Change{}, promote.Input(fmt.Errorf("%s: ferry rollback goes back through a Deployment's ReplicaSet history, which a %s does not keep; promote the earlier image instead (FERRY_SOURCE set to it)", t.ref, k.kind()))
	}
	var want int64
	if to != "" {
		n, err := strconv.ParseInt(to, 10, 64)
		if err != nil || n <= 0 {
			return promote.Change{}, promote.Input(fmt.Errorf("revision %q: want a positive Deployment revision number, such as 3", to))
		}
		want = n
	}
	st, err := promote.DecodeState[snapshotState](s.State)
	if err != nil {
		return promote.Change{}, err
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return promote.Change{}, err
	}
	d, _, err := getDeployment(ctx, cs, t.ref)
	if err != nil {
		return promote.Change{}, err
	}
	if d.Spec.Paused {
		return promote.Change{}, promote.Input(fmt.Errorf("deployment %s/%s is paused: resume it before rolling back", d.Namespace, d.Name))
	}
	if d.UID != st.UID || d.Generation != st.Generation {
		return promote.Change{}, promote.Input(fmt.Errorf("deployment %s/%s changed since ferry read it (someone else is rolling out?); run ferry rollback again", d.Namespace, d.Name))
	}
	rss, err := replicaSetsOf(ctx, cs, d)
	if err != nil {
		return promote.Change{}, err
	}
	rs, err := pickRevision(d, currentReplicaSet(d, rss), rss, want)
	if err != nil {
		return promote.Change{}, promote.Input(err)
	}
	tmpl := templateOf(rs)
	ops := []patchOp{
		{Op: "test", Path: "/metadata/uid", Value: d.UID},
		{Op: "test", Path: "/metadata/generation", Value: d.Generation},
		{Op: "replace", Path: "/spec/template", Value: tmpl},
	}
	if cc, ok := rs.Annotations[changeCauseAnnotation]; ok {
		ops = append(ops, setChangeCause(d.Annotations != nil, cc))
	}
	ch := changeState{Asked: tmpl}
	after, err := t.patch(ctx, cs, ops)
	if err == nil {
		ch.Left, ch.Generation = after.template.DeepCopy(), after.generation
		t.logf("put back the pod template of revision %d (%s)", revisionOf(rs), describeImages(tmpl))
	}
	change, cerr := encodeChange(describeImages(tmpl), ch)
	if err != nil {
		return change, fmt.Errorf("rolling back: %w", err)
	}
	return change, cerr
}

func historyLimit(p *int32) string {
	if p == nil {
		return "10"
	}
	return strconv.Itoa(int(*p))
}
