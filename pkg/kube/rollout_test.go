package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func deployment(gen, observed int64, replicas int32, st appsv1.DeploymentStatus) *appsv1.Deployment {
	st.ObservedGeneration = observed
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Generation: gen, Annotations: map[string]string{revisionAnnotation: "2"}},
		Spec:       appsv1.DeploymentSpec{Replicas: &replicas},
		Status:     st,
	}
}

func rs(hash string) *appsv1.ReplicaSet {
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{Name: "web-" + hash, Labels: map[string]string{podTemplateHashLabel: hash}}}
}

func pod(name, hash string, statuses ...corev1.ContainerStatus) corev1.Pod {
	return corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{podTemplateHashLabel: hash}},
		Status:     corev1.PodStatus{ContainerStatuses: statuses},
	}
}

func waiting(name, reason string, restarts int32) corev1.ContainerStatus {
	return corev1.ContainerStatus{Name: name, RestartCount: restarts, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: reason, Message: "back-off 10s"}}}
}

func TestEvaluate(t *testing.T) {
	complete := appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 3}
	deadline := appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3,
		Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentProgressing, Status: corev1.ConditionFalse, Reason: "ProgressDeadlineExceeded", Message: `ReplicaSet "web-b" has timed out progressing.`}}}
	cases := []struct {
		name     string
		d        *appsv1.Deployment
		rs       *appsv1.ReplicaSet
		pods     []corev1.Pod
		done     bool
		failure  string // substring
		progress string // substring
	}{
		{name: "complete", d: deployment(2, 2, 3, complete), rs: rs("b"), done: true},
		{name: "generation not observed", d: deployment(3, 2, 3, complete), rs: rs("b"), progress: "observe generation 3"},
		{name: "updating", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1, ReadyReplicas: 3, AvailableReplicas: 3}), rs: rs("b"), progress: "1/3 updated"},
		{name: "old replicas left", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 4, AvailableReplicas: 4}), rs: rs("b"), progress: "1 old pending termination"},
		{name: "updated but not available", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 3, UpdatedReplicas: 3, ReadyReplicas: 3, AvailableReplicas: 2}), rs: rs("b"), progress: "2 available"},
		{name: "no new replica set yet", d: deployment(2, 2, 3, complete), rs: nil, progress: "waiting for the new replica set"},
		{name: "progress deadline", d: deployment(2, 2, 3, deadline), rs: rs("b"), failure: "progress deadline exceeded (600s)"},
		{name: "crash loop in new pod", d: deployment(2, 2, 3, deadline), rs: rs("b"), failure: "progress deadline"},
		{name: "crash loop", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-b-1", "b", waiting("app", "CrashLoopBackOff", 3))}, failure: "pod web-b-1 container app: CrashLoopBackOff (3 restarts)"},
		{name: "image pull", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-b-1", "b", waiting("app", "ImagePullBackOff", 0))}, failure: "ImagePullBackOff"},
		{name: "err image pull", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-b-1", "b", waiting("app", "ErrImagePull", 0))}, failure: "ErrImagePull"},
		{name: "config error", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-b-1", "b", waiting("app", "CreateContainerConfigError", 0))}, failure: "CreateContainerConfigError"},
		{name: "crash in an old pod is not ours", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-a-1", "a", waiting("app", "CrashLoopBackOff", 9))}, progress: "1/3 updated"},
		{name: "container creating is not a failure", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 1}), rs: rs("b"),
			pods: []corev1.Pod{pod("web-b-1", "b", waiting("app", "ContainerCreating", 0))}, progress: "1/3 updated"},
		{name: "several failures are counted", d: deployment(2, 2, 3, appsv1.DeploymentStatus{Replicas: 4, UpdatedReplicas: 2}), rs: rs("b"),
			pods:    []corev1.Pod{pod("web-b-2", "b", waiting("app", "CrashLoopBackOff", 1)), pod("web-b-1", "b", waiting("app", "CrashLoopBackOff", 2))},
			failure: "pod web-b-1 container app: CrashLoopBackOff (2 restarts): back-off 10s (and 1 more)"},
		{name: "zero replicas", d: deployment(2, 2, 0, appsv1.DeploymentStatus{}), rs: nil, done: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := Evaluate(c.d, c.rs, c.pods)
			if v.Done != c.done {
				t.Errorf("Done = %v, want %v (%+v)", v.Done, c.done, v)
			}
			if c.failure == "" && v.Failure != "" {
				t.Errorf("unexpected failure %q", v.Failure)
			}
			if !strings.Contains(v.Failure, c.failure) {
				t.Errorf("Failure = %q, want it to contain %q", v.Failure, c.failure)
			}
			if !strings.Contains(v.Progress, c.progress) {
				t.Errorf("Progress = %q, want it to contain %q", v.Progress, c.progress)
			}
		})
	}
}

func TestDigestFromStatuses(t *testing.T) {
	const (
		a = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		b = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	)
	running := func(name, id string) corev1.ContainerStatus {
		return corev1.ContainerStatus{Name: name, ImageID: id, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}}
	}
	cases := []struct {
		name string
		pods []corev1.Pod
		want string
		err  string
	}{
		{"containerd", []corev1.Pod{pod("p1", "x", running("app", "ghcr.io/acme/shop@"+a)), pod("p2", "x", running("app", "ghcr.io/acme/shop@"+a))}, a, ""},
		{"docker-pullable", []corev1.Pod{pod("p1", "x", running("app", "docker-pullable://nginx@"+a))}, a, ""},
		{"other containers ignored", []corev1.Pod{pod("p1", "x", running("app", "shop@"+a), running("proxy", "envoy@"+b))}, a, ""},
		{"config digest only", []corev1.Pod{pod("p1", "x", running("app", a))}, "", "no running pod"},
		{"no pods", nil, "", "no running pod"},
		{"not running", []corev1.Pod{pod("p1", "x", waiting("app", "ContainerCreating", 0))}, "", "no running pod"},
		{"disagree", []corev1.Pod{pod("p1", "x", running("app", "shop@"+a)), pod("p2", "x", running("app", "shop@"+b))}, "", "different digests"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := digestFromStatuses(c.pods, "app")
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want %q", err, c.err)
				}
				return
			}
			if err != nil || got.String() != c.want {
				t.Fatalf("got %v, %v; want %s", got, err, c.want)
			}
		})
	}
}
