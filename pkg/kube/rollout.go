package kube

import (
	"fmt"
	"sort"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

// Annotations and labels the deployment controller maintains.
const (
	revisionAnnotation    = "deployment.kubernetes.io/revision"
	changeCauseAnnotation = "kubernetes.io/change-cause"
	podTemplateHashLabel  = appsv1.DefaultDeploymentUniqueLabelKey
)

// failingReasons are container waiting reasons that do not heal by waiting:
// a rollout that shows one on a new pod has failed.
var failingReasons = map[string]bool{
	"CrashLoopBackOff":           true,
	"ImagePullBackOff":           true,
	"ErrImagePull":               true,
	"InvalidImageName":           true,
	"ErrImageNeverPull":          true,
	"CreateContainerConfigError": true,
	"CreateContainerError":       true,
	"RunContainerError":          true,
}

// Verdict is the state of a rollout at one moment.
type Verdict struct {
	// Done is true when the rollout has completed.
	Done bool
	// Failure is non-empty when the rollout has failed and will not heal.
	Failure string
	// Progress says where the rollout stands, for the log.
	Progress string
}

// Evaluate judges the rollout of d. newRS is d's current ReplicaSet (nil
// when the controller has not created it yet); pods are the pods that
// match d's selector (pods of other ReplicaSets are ignored).
//
// A rollout is done when the controller has observed the latest
// generation and the updated, ready and available replica counts all equal
// the desired count with no old replicas left. It has failed when the
// Progressing condition says ProgressDeadlineExceeded, or when a container
// of a pod of the new ReplicaSet waits for a reason in failingReasons.
func Evaluate(d *appsv1.Deployment, newRS *appsv1.ReplicaSet, pods []corev1.Pod) Verdict {
	if d.Generation > d.Status.ObservedGeneration {
		return Verdict{Progress: fmt.Sprintf("waiting for the deployment controller to observe generation %d", d.Generation)}
	}
	if c := condition(d, appsv1.DeploymentProgressing); c != nil && c.Reason == "ProgressDeadlineExceeded" {
		return Verdict{Failure: fmt.Sprintf("progress deadline exceeded (%ds): %s", progressDeadline(d), c.Message)}
	}
	if newRS != nil {
		if f := podFailure(newRS, pods); f != "" {
			return Verdict{Failure: f}
		}
	}
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	progress := fmt.Sprintf("%d/%d updated, %d ready, %d available", s.UpdatedReplicas, want, s.ReadyReplicas, s.AvailableReplicas)
	if old := s.Replicas - s.UpdatedReplicas; old > 0 {
		progress += fmt.Sprintf(", %d old pending termination", old)
	}
	done := s.UpdatedReplicas == want && s.Replicas == want && s.ReadyReplicas == want && s.AvailableReplicas == want
	if done && newRS == nil && want > 0 {
		done = false
		progress += ", waiting for the new replica set"
	}
	return Verdict{Done: done, Progress: progress}
}

func condition(d *appsv1.Deployment, t appsv1.DeploymentConditionType) *appsv1.DeploymentCondition {
	for i := range d.Status.Conditions {
		if d.Status.Conditions[i].Type == t {
			return &d.Status.Conditions[i]
		}
	}
	return nil
}

func progressDeadline(d *appsv1.Deployment) int32 {
	if d.Spec.ProgressDeadlineSeconds != nil {
		return *d.Spec.ProgressDeadlineSeconds
	}
	return 600
}

// podFailure returns a description of the first failing container among
// the pods of rs, in a stable order, or "".
func podFailure(rs *appsv1.ReplicaSet, pods []corev1.Pod) string {
	return podsFailure(podTemplateHashLabel, rs.Labels[podTemplateHashLabel], pods)
}

// podsFailure returns a description of the first failing container among
// the pods whose label key is hash, in a stable order, or "".
func podsFailure(key, hash string, pods []corev1.Pod) string {
	var failures []string
	for i := range pods {
		p := &pods[i]
		if p.DeletionTimestamp != nil || hash == "" || p.Labels[key] != hash {
			continue
		}
		statuses := append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...)
		for _, cs := range statuses {
			w := cs.State.Waiting
			if w == nil || !failingReasons[w.Reason] {
				continue
			}
			msg := fmt.Sprintf("pod %s container %s: %s", p.Name, cs.Name, w.Reason)
			if cs.RestartCount > 0 {
				msg += fmt.Sprintf(" (%d restarts", cs.RestartCount)
				if t := cs.LastTerminationState.Terminated; t != nil {
					msg += fmt.Sprintf(", last exit code %d", t.ExitCode)
				}
				msg += ")"
			}
			if w.Message != "" {
				msg += ": " + truncate(w.Message, 200)
			}
			failures = append(failures, msg)
		}
	}
	if len(failures) == 0 {
		return ""
	}
	sort.Strings(failures)
	if len(failures) > 1 {
		return fmt.Sprintf("%s (and %d more)", failures[0], len(failures)-1)
	}
	return failures[0]
}

func truncate(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
