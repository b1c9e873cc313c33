package kube

import (
	"context"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

// EvaluateDaemonSet judges the rollout of a DaemonSet with the
// RollingUpdate strategy, as `kubectl rollout status` does. updateHash is
// the hash of its newest ControllerRevision (see newestRevisionHash; ""
// when unknown), which the pods of the new template carry in their
// controller-revision-hash label; pods are the pods that match its
// selector.
//
// It is done when the controller has observed the latest generation and
// every node that should run a pod runs an updated, available one. It has
// failed when a container of a pod of the update revision waits for a
// reason in failingReasons.
func EvaluateDaemonSet(d *appsv1.DaemonSet, updateHash string, pods []corev1.Pod) Verdict {
	if d.Generation > d.Status.ObservedGeneration {
		return Verdict{Progress: fmt.Sprintf("waiting for the daemonset controller to observe generation %d", d.Generation)}
	}
	if updateHash != "" {
		if f := podsFailure(revisionHashLabel, updateHash, pods); f != "" {
			return Verdict{Failure: f}
		}
	}
	s := d.Status
	progress := fmt.Sprintf("%d/%d nodes updated, %d available", s.UpdatedNumberScheduled, s.DesiredNumberScheduled, s.NumberAvailable)
	done := s.UpdatedNumberScheduled >= s.DesiredNumberScheduled && s.NumberAvailable >= s.DesiredNumberScheduled
	return Verdict{Done: done, Progress: progress}
}

// newestRevisionHash is the hash label of the newest ControllerRevision
// that uid controls: the revision its current template is. It only reads
// its arguments.
func newestRevisionHash(uid types.UID, crs []*appsv1.ControllerRevision) string {
	var newest *appsv1.ControllerRevision
	for _, cr := range crs {
		if !controlledBy(cr.OwnerReferences, uid) {
			continue
		}
		if newest == nil || cr.Revision > newest.Revision {
			newest = cr
		}
	}
	if newest == nil {
		return ""
	}
	return newest.Labels[revisionHashLabel]
}

func controlledBy(refs []metav1.OwnerReference, uid types.UID) bool {
	for _, o := range refs {
		if o.UID == uid && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}

// daemonSets is the DaemonSet kind of workload.
type daemonSets struct{}

func (daemonSets) kind() string { return KindDaemonSet }

func (daemonSets) get(ctx context.Context, cs API, ns, name string) (*workload, error) {
	d, err := cs.DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return daemonSetWorkload(d), nil
}

func (daemonSets) patch(ctx context.Context, cs API, ns, name string, pt types.PatchType, body []byte, opts metav1.PatchOptions) (*workload, error) {
	d, err := cs.DaemonSets(ns).Patch(ctx, name, pt, body, opts)
	if err != nil {
		return nil, err
	}
	return daemonSetWorkload(d), nil
}

func daemonSetWorkload(d *appsv1.DaemonSet) *workload {
	return &workload{
		kind: KindDaemonSet, namespace: d.Namespace, name: d.Name,
		uid: d.UID, generation: d.Generation, annotations: d.Annotations, meta: d.ObjectMeta,
		selector: d.Spec.Selector, template: d.Spec.Template,
		onDelete: d.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType,
		strategy: d.Spec.UpdateStrategy, obj: d,
	}
}

func (daemonSets) evaluate(w *workload, pods []corev1.Pod, crs []*appsv1.ControllerRevision) Verdict {
	d, _ := w.obj.(*appsv1.DaemonSet)
	return EvaluateDaemonSet(d, newestRevisionHash(d.UID, crs), pods)
}

func (daemonSets) needsRevisions() bool { return true }

func (daemonSets) objectInformer(cs API, ns, name string) cache.SharedIndexInformer {
	return informerFor(cs.DaemonSets(ns), &appsv1.DaemonSet{}, byName(name))
}

func (daemonSets) fromObject(o any) (*workload, bool) {
	d, ok := o.(*appsv1.DaemonSet)
	if !ok {
		return nil, false
	}
	return daemonSetWorkload(d), true
}

func (daemonSets) currentHash(w *workload, crs []*appsv1.ControllerRevision) string {
	return newestRevisionHash(w.uid, crs)
}
