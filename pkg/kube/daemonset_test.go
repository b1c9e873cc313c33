package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
)

func daemonSet(gen, observed int64, st appsv1.DaemonSetStatus) *appsv1.DaemonSet {
	st.ObservedGeneration = observed
	return &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "agent", Generation: gen, UID: "ds-uid"}, Status: st}
}

func TestEvaluateDaemonSet(t *testing.T) {
	done := appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 2, NumberReady: 2}
	cases := []struct {
		name     string
		d        *appsv1.DaemonSet
		hash     string
		pods     []corev1.Pod
		done     bool
		failure  string
		progress string
	}{
		{name: "complete", d: daemonSet(2, 2, done), hash: "b", done: true},
		{name: "no nodes to run on", d: daemonSet(2, 2, appsv1.DaemonSetStatus{}), done: true, progress: "0/0"},
		{name: "generation not observed", d: daemonSet(3, 2, done), hash: "b", progress: "observe generation 3"},
		{name: "updating", d: daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberAvailable: 1}), hash: "b", progress: "1/2 nodes updated, 1 available"},
		{name: "updated, not available", d: daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 2, NumberAvailable: 1}), hash: "b", progress: "1 available"},
		{name: "crash loop on the new revision", d: daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberAvailable: 1}), hash: "b",
			pods:    []corev1.Pod{revPod("agent-x", "a", true), revPod("agent-y", "b", false, waiting("agent", "CrashLoopBackOff", 4))},
			failure: "pod agent-y container agent: CrashLoopBackOff (4 restarts)"},
		{name: "config error on the new revision", d: daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2}), hash: "b",
			pods: []corev1.Pod{revPod("agent-y", "b", false, waiting("agent", "CreateContainerConfigError", 0))}, failure: "CreateContainerConfigError"},
		{name: "old revision failing is not this rollout's", d: daemonSet(2, 2, appsv1.DaemonSetStatus{DesiredNumberScheduled: 2, UpdatedNumberScheduled: 1, NumberAvailable: 1}), hash: "b",
			pods: []corev1.Pod{revPod("agent-x", "a", false, waiting("agent", "CrashLoopBackOff", 4))}, progress: "1/2"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := EvaluateDaemonSet(c.d, c.hash, c.pods)
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

func TestNewestRevisionHash(t *testing.T) {
	yes := true
	cr := func(owner types.UID, rev int64, hash string) *appsv1.ControllerRevision {
		return &appsv1.ControllerRevision{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{revisionHashLabel: hash},
				OwnerReferences: []metav1.OwnerReference{{UID: owner, Controller: &yes}}},
			Revision: rev,
		}
	}
	crs := []*appsv1.ControllerRevision{cr("ds-uid", 1, "a"), cr("ds-uid", 3, "c"), cr("other", 9, "z"), cr("ds-uid", 2, "b")}
	if got := newestRevisionHash("ds-uid", crs); got != "c" {
		t.Errorf("newest = %q, want c (revision 3; another owner's revision 9 ignored)", got)
	}
	if got := newestRevisionHash("none", crs); got != "" {
		t.Errorf("no revisions of its own: %q, want empty", got)
	}
}
