package kube

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func statefulSet(gen, observed int64, replicas int32, partition *int32, st appsv1.StatefulSetStatus) *appsv1.StatefulSet {
	st.ObservedGeneration = observed
	s := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: gen},
		Spec:       appsv1.StatefulSetSpec{Replicas: &replicas},
		Status:     st,
	}
	s.Spec.UpdateStrategy.Type = appsv1.RollingUpdateStatefulSetStrategyType
	if partition != nil {
		s.Spec.UpdateStrategy.RollingUpdate = &appsv1.RollingUpdateStatefulSetStrategy{Partition: partition}
	}
	return s
}

func revPod(name, rev string, ready bool, statuses ...corev1.ContainerStatus) corev1.Pod {
	p := corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{revisionHashLabel: rev}},
		Status:     corev1.PodStatus{ContainerStatuses: statuses},
	}
	cond := corev1.ConditionFalse
	if ready {
		cond = corev1.ConditionTrue
	}
	p.Status.Conditions = []corev1.PodCondition{{Type: corev1.PodReady, Status: cond}}
	return p
}

func TestEvaluateStatefulSet(t *testing.T) {
	two := int32(2)
	five := int32(5)
	done := appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "db-b", UpdateRevision: "db-b"}
	cases := []struct {
		name     string
		s        *appsv1.StatefulSet
		pods     []corev1.Pod
		done     bool
		failure  string
		progress string
	}{
		{name: "complete", s: statefulSet(2, 2, 3, nil, done), done: true},
		{name: "generation not observed", s: statefulSet(3, 2, 3, nil, done), progress: "observe generation 3"},
		{name: "ordered update under way", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, AvailableReplicas: 2, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			progress: "1/3 updated, 2 ready"},
		{name: "all updated, current revision not moved yet", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			progress: "make db-b current"},
		{name: "updated but not ready", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2, CurrentRevision: "db-b", UpdateRevision: "db-b"}),
			progress: "2 ready"},
		{name: "partition: ordinals at and above it updated is done", s: statefulSet(2, 2, 3, &two, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			done: true, progress: "partition 2"},
		{name: "partition: not yet", s: statefulSet(2, 2, 3, &two, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 0, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			progress: "0/1 updated"},
		{name: "partition above replicas: nothing to update", s: statefulSet(2, 2, 3, &five, appsv1.StatefulSetStatus{Replicas: 3, ReadyReplicas: 3, AvailableReplicas: 3, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			done: true},
		{name: "crash loop on the update revision", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 1, ReadyReplicas: 2, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			pods:    []corev1.Pod{revPod("db-0", "db-a", true), revPod("db-2", "db-b", false, waiting("app", "CrashLoopBackOff", 2))},
			failure: "pod db-2 container app: CrashLoopBackOff (2 restarts)"},
		{name: "image pull on the update revision", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 1, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			pods: []corev1.Pod{revPod("db-2", "db-b", false, waiting("app", "ErrImagePull", 0))}, failure: "ErrImagePull"},
		{name: "a failing pod of the old revision is not this rollout's", s: statefulSet(2, 2, 3, nil, appsv1.StatefulSetStatus{Replicas: 3, UpdatedReplicas: 1, CurrentRevision: "db-a", UpdateRevision: "db-b"}),
			pods: []corev1.Pod{revPod("db-1", "db-a", false, waiting("app", "CrashLoopBackOff", 9))}, progress: "1/3 updated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := EvaluateStatefulSet(c.s, c.pods)
			if v.Done != c.done {
				t.Errorf("done = %v, want %v (%+v)", v.Done, c.done, v)
			}
			if (c.failure == "") != (v.Failure == "") || !strings.Contains(v.Failure, c.failure) {
				t.Errorf("failure = %q, want %q", v.Failure, c.failure)
			}
			if !strings.Contains(v.Progress, c.progress) {
				t.Errorf("progress = %q, want %q in it", v.Progress, c.progress)
			}
		})
	}
}

func TestBrokenPods(t *testing.T) {
	gone := revPod("db-3", "db-b", false)
	now := metav1.Now()
	gone.DeletionTimestamp = &now
	pods := []corev1.Pod{
		revPod("db-0", "db-a", true),  // restored revision, ready
		revPod("db-1", "db-a", false), // restored revision, starting: the controller's
		revPod("db-2", "db-b", false), // failed revision, not ready: delete
		revPod("db-4", "db-b", true),  // failed revision but ready: the controller replaces it
		gone,                          // already going
	}
	if got := brokenPods(pods, "db-a"); !slices.Equal(got, []string{"db-2"}) {
		t.Errorf("brokenPods = %v, want [db-2]", got)
	}
	if got := brokenPods(pods, ""); got != nil {
		t.Errorf("brokenPods without a revision = %v, want none", got)
	}
}
