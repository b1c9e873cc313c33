package kube

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// TestMain turns client-go's streaming watch lists off before any test
// reads the feature gate: the fake clientset cannot stream them (the
// real API servers of the e2e tests can).
func TestMain(m *testing.M) {
	if err := os.Setenv("KUBE_FEATURE_WatchListClient", "false"); err != nil {
		panic(err)
	}
	os.Exit(m.Run())
}

func TestWatchFailsWhenAPodCrashesAfterTheRollout(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop@" + digestA})
	tg, cs := newFakeTarget(t, d, "", TargetOptions{})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc-1", Namespace: "shop", Labels: map[string]string{"app": "web", podTemplateHashLabel: "abc"}},
		Status: corev1.PodStatus{Phase: corev1.PodRunning, ContainerStatuses: []corev1.ContainerStatus{{
			Name: "app", Ready: true, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{}},
		}}},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().Pods("shop").Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	// Healthy all along: Watch ends with its context, without error.
	quiet, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	if err := tg.Watch(quiet, promote.Snapshot{}, promote.Change{}); err != nil {
		t.Fatalf("Watch of a healthy deployment: %v", err)
	}

	done := make(chan error, 1)
	go func() { done <- tg.Watch(ctx, promote.Snapshot{}, promote.Change{}) }()
	time.Sleep(300 * time.Millisecond) // let the informers sync first
	pod.Status.ContainerStatuses[0] = corev1.ContainerStatus{
		Name: "app", RestartCount: 2,
		State:                corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff"}},
		LastTerminationState: corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 1}},
	}
	if _, err := cs.CoreV1().Pods("shop").UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var re *RolloutError
		if !errors.As(err, &re) || re.Reason != "pod web-abc-1 container app: CrashLoopBackOff (2 restarts, last exit code 1)" {
			t.Fatalf("Watch = %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Watch did not see the crash")
	}
}
