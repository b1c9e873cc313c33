package kube

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/dynamic"
	dynamicfake "k8s.io/client-go/dynamic/fake"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// rolloutFrom reads a Rollout written as the Argo Rollouts controller
// writes one (observedGeneration is a string there).
func rolloutFrom(t *testing.T, doc string) *Rollout {
	t.Helper()
	var u unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
		t.Fatal(err)
	}
	r, err := decodeRollout(&u)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

const rolloutHead = `
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: prod, generation: 4}
spec:
  replicas: 3
  strategy:
    canary:
      steps: [{setWeight: 50}, {pause: {}}]
`

func TestEvaluateRollout(t *testing.T) {
	hashPod := func(hash string, statuses ...corev1.ContainerStatus) corev1.Pod {
		p := revPod("web-"+hash+"-x", "", false, statuses...)
		p.Labels = map[string]string{rolloutPodHashLabel: hash}
		return p
	}
	crash := corev1.ContainerStatus{Name: "app", RestartCount: 2, State: corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}}}
	cases := []struct {
		name     string
		status   string
		pods     []corev1.Pod
		done     bool
		failure  string
		progress string
	}{
		{name: "healthy and promoted", done: true,
			status: `{observedGeneration: "4", phase: Healthy, currentPodHash: b, stableRS: b, replicas: 3, updatedReplicas: 3, availableReplicas: 3, currentStepIndex: 2}`},
		{name: "no status yet", status: `{}`, progress: "observe generation 4"},
		{name: "old generation observed (a string)", progress: "observe generation 4",
			status: `{observedGeneration: "3", phase: Healthy, currentPodHash: a, stableRS: a, updatedReplicas: 3, availableReplicas: 3}`},
		{name: "progressing", progress: "Progressing (more replicas need to be updated), 1/3 updated, 3 available, step 0/2",
			status: `{observedGeneration: "4", phase: Progressing, message: more replicas need to be updated, currentPodHash: b, stableRS: a, updatedReplicas: 1, availableReplicas: 3, currentStepIndex: 0}`},
		{name: "paused at a step is not done", progress: "paused: waiting for the controller to resume it",
			status: `{observedGeneration: "4", phase: Paused, message: CanaryPauseStep, currentPodHash: b, stableRS: a, updatedReplicas: 2, availableReplicas: 3, currentStepIndex: 1, pauseConditions: [{reason: CanaryPauseStep}]}`},
		{name: "healthy phase but stable not moved yet", progress: "Healthy",
			status: `{observedGeneration: "4", phase: Healthy, currentPodHash: b, stableRS: a, updatedReplicas: 3, availableReplicas: 3}`},
		{name: "healthy phase, replicas still becoming available", progress: "2 available",
			status: `{observedGeneration: "4", phase: Healthy, currentPodHash: b, stableRS: b, updatedReplicas: 3, availableReplicas: 2}`},
		{name: "aborted", failure: "the rollout was aborted: RolloutAborted: Rollout aborted update to revision 2",
			status: `{observedGeneration: "4", phase: Degraded, message: "RolloutAborted: Rollout aborted update to revision 2", abort: true, currentPodHash: b, stableRS: a}`},
		{name: "progress deadline exceeded", failure: "progress deadline exceeded: ReplicaSet \"web-b\" has timed out progressing.",
			status: `{observedGeneration: "4", phase: Degraded, currentPodHash: b, stableRS: a, conditions: [{type: Progressing, status: "False", reason: ProgressDeadlineExceeded, message: "ReplicaSet \"web-b\" has timed out progressing."}]}`},
		{name: "invalid spec", failure: "invalid spec: The Rollout \"web\" is invalid",
			status: `{observedGeneration: "4", phase: Degraded, conditions: [{type: InvalidSpec, status: "True", reason: InvalidSpec, message: "The Rollout \"web\" is invalid"}]}`},
		{name: "degraded without a condition ferry knows", failure: "degraded: something",
			status: `{observedGeneration: "4", phase: Degraded, message: something, currentPodHash: b, stableRS: a}`},
		{name: "a pod of the current hash crash-loops", failure: "pod web-b-x container app: CrashLoopBackOff (2 restarts)",
			pods:   []corev1.Pod{hashPod("b", crash)},
			status: `{observedGeneration: "4", phase: Progressing, currentPodHash: b, stableRS: a, updatedReplicas: 1}`},
		{name: "a crash-looping pod of the stable hash is not the rollout's failure", progress: "Progressing",
			pods:   []corev1.Pod{hashPod("a", crash)},
			status: `{observedGeneration: "4", phase: Progressing, currentPodHash: b, stableRS: a, updatedReplicas: 1}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := rolloutFrom(t, rolloutHead+"status: "+c.status)
			v := EvaluateRollout(r, c.pods)
			if v.Done != c.done {
				t.Errorf("Done = %v, want %v (%+v)", v.Done, c.done, v)
			}
			if !strings.Contains(v.Failure, c.failure) || (c.failure == "") != (v.Failure == "") {
				t.Errorf("Failure = %q, want %q", v.Failure, c.failure)
			}
			if !strings.Contains(v.Progress, c.progress) {
				t.Errorf("Progress = %q, want it to contain %q", v.Progress, c.progress)
			}
		})
	}
}

// dynamicOnly is an API whose only working part is its dynamic client.
type dynamicOnly struct {
	API
	dyn dynamic.Interface
}

func (d dynamicOnly) Dynamic() dynamic.Interface { return d.dyn }

// A Rollout that runs a Deployment's template (spec.workloadRef) has no
// template of its own to change: an input error naming the Deployment.
func TestRolloutWithWorkloadRefIsRefused(t *testing.T) {
	r := rolloutFrom(t, rolloutHead+"  workloadRef: {apiVersion: apps/v1, kind: Deployment, name: web-base}\nstatus: {}")
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(r)
	if err != nil {
		t.Fatal(err)
	}
	cs := dynamicOnly{dyn: dynamicfake.NewSimpleDynamicClient(runtime.NewScheme(), &unstructured.Unstructured{Object: u})}
	_, err = rollouts{}.get(context.Background(), cs, "prod", "web")
	if !promote.IsInput(err) || !strings.Contains(fmt.Sprint(err), "address that deployment instead (k8s:prod/deployment/web-base)") {
		t.Fatalf("get = %v, want an input error naming the deployment", err)
	}
	if _, err := (rollouts{}).get(context.Background(), dynamicOnly{}, "prod", "web"); err == nil {
		t.Fatal("get without a dynamic client succeeded")
	}
}

func TestIndefinitePauses(t *testing.T) {
	cases := []struct {
		strategy string
		want     []int
	}{
		{`{canary: {steps: [{setWeight: 20}, {pause: {}}, {setWeight: 60}, {pause: {duration: 30s}}, {pause: {}}]}}`, []int{2, 5}},
		{`{canary: {steps: [{setWeight: 50}, {pause: {duration: 1m}}]}}`, nil},
		{`{canary: {}}`, nil},
		{`{blueGreen: {activeService: web}}`, nil},
	}
	for _, c := range cases {
		r := rolloutFrom(t, "metadata: {name: web, namespace: prod}\nspec:\n  strategy: "+c.strategy+"\n")
		if got := indefinitePauses(r); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.strategy, got, c.want)
		}
		w := &workload{kind: KindRollout, namespace: "prod", name: "web", obj: r}
		if note := pauseNote(w, time.Minute); (note != "") != (c.want != nil) || (note != "" && !strings.Contains(note, "kubectl argo rollouts promote")) {
			t.Errorf("%s: note %q", c.strategy, note)
		}
	}
}

func TestAbortAfterRestore(t *testing.T) {
	cases := []struct {
		status string
		want   abortState
	}{
		{`{observedGeneration: "4", abort: true, currentPodHash: a, stableRS: a}`, abortPending},
		{`{observedGeneration: "5"}`, abortPending},
		{`{observedGeneration: "5", abort: true, currentPodHash: a, stableRS: a}`, abortLeft},
		{`{observedGeneration: "5", currentPodHash: a, stableRS: a}`, abortGone},
		// Aborted on a template that is not the stable one: someone
		// else's rollout, not ferry's to resume.
		{`{observedGeneration: "5", abort: true, currentPodHash: b, stableRS: a}`, abortGone},
	}
	for _, c := range cases {
		r := rolloutFrom(t, rolloutHead+"status: "+c.status)
		if got := abortAfterRestore(r, 5); got != c.want {
			t.Errorf("%s: %d, want %d", c.status, got, c.want)
		}
	}
}
