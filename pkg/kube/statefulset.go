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

// revisionHashLabel is the label the StatefulSet and DaemonSet
// controllers put on each pod: the ControllerRevision it runs (a
// StatefulSet's: the revision's name; a DaemonSet's: its hash).
const revisionHashLabel = appsv1.ControllerRevisionHashLabelKey

// EvaluateStatefulSet judges the rollout of a StatefulSet with the
// RollingUpdate strategy, as `kubectl rollout status` does, honouring
// its partition: only ordinals at or above it move to the update
// revision. pods are the pods that match its selector.
//
// It is done when the controller has observed the latest generation, the
// replicas at or above the partition run the update revision, every
// replica is ready and available, and (without a partition) the current
// revision is the update revision. It has failed when a container of a
// pod of the update revision waits for a reason in failingReasons.
func EvaluateStatefulSet(s *appsv1.StatefulSet, pods []corev1.Pod) Verdict {
	if s.Generation > s.Status.ObservedGeneration {
		return Verdict{Progress: fmt.Sprintf("waiting for the statefulset controller to observe generation %d", s.Generation)}
	}
	if f := podsFailure(revisionHashLabel, s.Status.UpdateRevision, pods); f != "" {
		return Verdict{Failure: f}
	}
	want := int32(1)
	if s.Spec.Replicas != nil {
		want = *s.Spec.Replicas
	}
	partition := statefulSetPartition(s)
	if partition > want {
		partition = want
	}
	st := s.Status
	progress := fmt.Sprintf("%d/%d updated, %d ready, %d available", st.UpdatedReplicas, want-partition, st.ReadyReplicas, st.AvailableReplicas)
	if partition > 0 {
		progress += fmt.Sprintf(" (partition %d: ordinals below it keep revision %s)", partition, st.CurrentRevision)
	}
	done := st.UpdatedReplicas >= want-partition && st.ReadyReplicas == want && st.AvailableReplicas == want && st.Replicas == want
	if done && partition == 0 && st.CurrentRevision != st.UpdateRevision {
		done = false
		progress += ", waiting for the controller to make " + st.UpdateRevision + " current"
	}
	return Verdict{Done: done, Progress: progress}
}

func statefulSetPartition(s *appsv1.StatefulSet) int32 {
	if ru := s.Spec.UpdateStrategy.RollingUpdate; ru != nil && ru.Partition != nil {
		return *ru.Partition
	}
	return 0
}

// statefulSets is the StatefulSet kind of workload.
type statefulSets struct{}

func (statefulSets) kind() string { return KindStatefulSet }

func (statefulSets) get(ctx context.Context, cs API, ns, name string) (*workload, error) {
	s, err := cs.StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	return statefulSetWorkload(s), nil
}

func (statefulSets) patch(ctx context.Context, cs API, ns, name string, pt types.PatchType, body []byte, opts metav1.PatchOptions) (*workload, error) {
	s, err := cs.StatefulSets(ns).Patch(ctx, name, pt, body, opts)
	if err != nil {
		return nil, err
	}
	return statefulSetWorkload(s), nil
}

func statefulSetWorkload(s *appsv1.StatefulSet) *workload {
	return &workload{
		kind: KindStatefulSet, namespace: s.Namespace, name: s.Name,
		uid: s.UID, generation: s.Generation, annotations: s.Annotations, meta: s.ObjectMeta,
		selector: s.Spec.Selector, template: s.Spec.Template,
		onDelete: s.Spec.UpdateStrategy.Type == appsv1.OnDeleteStatefulSetStrategyType,
		strategy: s.Spec.UpdateStrategy, revision: s.Status.UpdateRevision, obj: s,
	}
}

func (statefulSets) evaluate(w *workload, pods []corev1.Pod, _ []*appsv1.ControllerRevision) Verdict {
	s, _ := w.obj.(*appsv1.StatefulSet)
	return EvaluateStatefulSet(s, pods)
}

func (statefulSets) needsRevisions() bool { return false }

func (statefulSets) objectInformer(cs API, ns, name string) cache.SharedIndexInformer {
	return informerFor(cs.StatefulSets(ns), &appsv1.StatefulSet{}, byName(name))
}

func (statefulSets) fromObject(o any) (*workload, bool) {
	s, ok := o.(*appsv1.StatefulSet)
	if !ok {
		return nil, false
	}
	return statefulSetWorkload(s), true
}

// currentHash is the revision label of the pods that run w's template.
func (statefulSets) currentHash(w *workload, _ []*appsv1.ControllerRevision) string {
	return w.revision
}
