package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/cache"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// KindRollout is Argo Rollouts' Rollout (argoproj.io/v1alpha1), read and
// patched as an unstructured object so that ferry needs none of Argo
// Rollouts' code. Its controller, not Kubernetes', rolls it out.
const KindRollout = "Rollout"

// rolloutsResource is the Rollout resource of Argo Rollouts' API.
var rolloutsResource = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

// rolloutPodHashLabel is the label the Argo Rollouts controller puts on
// the ReplicaSets and pods of a Rollout: the hash of their pod template
// (status.currentPodHash names the one the spec asks for).
const rolloutPodHashLabel = "rollouts-pod-template-hash"

// Rollout is what ferry reads of an Argo Rollouts Rollout: the fields of
// argoproj.io/v1alpha1 Rollout its evaluator, its snapshot and its
// restore need, with the API's JSON names.
type Rollout struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              RolloutSpec   `json:"spec"`
	Status            RolloutStatus `json:"status"`
}

// RolloutSpec is the part of a Rollout's spec ferry reads.
type RolloutSpec struct {
	Replicas *int32                 `json:"replicas,omitempty"`
	Selector *metav1.LabelSelector  `json:"selector,omitempty"`
	Template corev1.PodTemplateSpec `json:"template"`
	// WorkloadRef points at a Deployment whose template the Rollout
	// runs instead of its own; ferry refuses such a Rollout as a target.
	WorkloadRef *struct {
		Kind string `json:"kind,omitempty"`
		Name string `json:"name,omitempty"`
	} `json:"workloadRef,omitempty"`
	Paused   bool `json:"paused,omitempty"`
	Strategy struct {
		Canary *struct {
			Steps []map[string]any `json:"steps,omitempty"`
		} `json:"canary,omitempty"`
		BlueGreen map[string]any `json:"blueGreen,omitempty"`
	} `json:"strategy"`
}

// RolloutStatus is the part of a Rollout's status ferry reads.
type RolloutStatus struct {
	// ObservedGeneration is a string in Argo Rollouts' API.
	ObservedGeneration string `json:"observedGeneration,omitempty"`
	Phase              string `json:"phase,omitempty"`
	Message            string `json:"message,omitempty"`
	Abort              bool   `json:"abort,omitempty"`
	CurrentPodHash     string `json:"currentPodHash,omitempty"`
	StableRS           string `json:"stableRS,omitempty"`
	CurrentStepIndex   *int32 `json:"currentStepIndex,omitempty"`
	Replicas           int32  `json:"replicas,omitempty"`
	UpdatedReplicas    int32  `json:"updatedReplicas,omitempty"`
	ReadyReplicas      int32  `json:"readyReplicas,omitempty"`
	AvailableReplicas  int32  `json:"availableReplicas,omitempty"`
	PauseConditions    []struct {
		Reason string `json:"reason,omitempty"`
	} `json:"pauseConditions,omitempty"`
	Conditions []struct {
		Type    string `json:"type"`
		Status  string `json:"status"`
		Reason  string `json:"reason,omitempty"`
		Message string `json:"message,omitempty"`
	} `json:"conditions,omitempty"`
}

// The phases the Argo Rollouts controller writes to status.phase.
const (
	RolloutHealthy     = "Healthy"
	RolloutProgressing = "Progressing"
	RolloutPaused      = "Paused"
	RolloutDegraded    = "Degraded"
)

// EvaluateRollout judges the rollout of an Argo Rollouts Rollout from what
// its controller reports, as `kubectl argo rollouts status` does; pods are
// the pods that match its selector (only those of the current pod hash
// count).
//
// It is done when the controller has observed the latest generation,
// reports phase Healthy, and has made the current pod hash the stable one
// with every replica updated and available. It has failed when the
// rollout is aborted, its spec is invalid, its progress deadline passed
// (phase Degraded), or a container of a pod of the current pod hash waits
// for a reason in failingReasons. Paused (a pause step, or spec.paused) is
// neither: the controller resumes it when a timed pause ends or someone
// promotes it, and ferry waits until then or FERRY_TIMEOUT.
func EvaluateRollout(r *Rollout, pods []corev1.Pod) Verdict {
	st := r.Status
	observed, err := strconv.ParseInt(st.ObservedGeneration, 10, 64)
	if err != nil || observed < r.Generation {
		return Verdict{Progress: fmt.Sprintf("waiting for the argo rollouts controller to observe generation %d", r.Generation)}
	}
	for _, c := range st.Conditions {
		switch {
		case c.Type == "InvalidSpec" && c.Status == "True":
			return Verdict{Failure: "invalid spec: " + c.Message}
		case c.Type == "Progressing" && c.Reason == "ProgressDeadlineExceeded":
			return Verdict{Failure: "progress deadline exceeded: " + c.Message}
		}
	}
	if st.Abort {
		msg := "the rollout was aborted"
		if st.Message != "" {
			msg += ": " + st.Message
		}
		return Verdict{Failure: msg}
	}
	if st.Phase == RolloutDegraded {
		return Verdict{Failure: "degraded: " + st.Message}
	}
	if f := podsFailure(rolloutPodHashLabel, st.CurrentPodHash, pods); f != "" {
		return Verdict{Failure: f}
	}
	want := int32(1)
	if r.Spec.Replicas != nil {
		want = *r.Spec.Replicas
	}
	phase := st.Phase
	if phase == "" {
		phase = "no phase yet"
	}
	if st.Message != "" {
		phase += " (" + st.Message + ")"
	}
	progress := fmt.Sprintf("%s, %d/%d updated, %d available", phase, st.UpdatedReplicas, want, st.AvailableReplicas)
	if c := r.Spec.Strategy.Canary; c != nil && len(c.Steps) > 0 && st.CurrentStepIndex != nil {
		progress += fmt.Sprintf(", step %d/%d", *st.CurrentStepIndex, len(c.Steps))
	}
	switch st.Phase {
	case RolloutPaused:
		return Verdict{Progress: progress + "; paused: waiting for the controller to resume it (a timed pause step ends, or someone runs `kubectl argo rollouts promote`)"}
	case RolloutHealthy:
		done := st.CurrentPodHash != "" && st.StableRS == st.CurrentPodHash &&
			st.UpdatedReplicas >= want && st.AvailableReplicas >= want
		return Verdict{Done: done, Progress: progress}
	}
	return Verdict{Progress: progress}
}

// rollouts is the Rollout kind of workload.
type rollouts struct{}

func (rollouts) kind() string { return KindRollout }

// errNoDynamic is returned by an API that cannot call custom resources.
var errNoDynamic = errors.New("this client cannot call argoproj.io rollouts")

// dynamicAPI is an API that also calls custom resources (NewAPI's does).
type dynamicAPI interface {
	Dynamic() dynamic.Interface
}

func rolloutClient(cs API, ns string) (dynamic.ResourceInterface, error) {
	d, ok := cs.(dynamicAPI)
	if !ok || d.Dynamic() == nil {
		return nil, errNoDynamic
	}
	return d.Dynamic().Resource(rolloutsResource).Namespace(ns), nil
}

func (rollouts) get(ctx context.Context, cs API, ns, name string) (*workload, error) {
	c, err := rolloutClient(cs, ns)
	if err != nil {
		return nil, err
	}
	u, err := c.Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	w, err := rolloutWorkload(u)
	if err != nil {
		return nil, err
	}
	if r, _ := w.obj.(*Rollout); r != nil && r.Spec.WorkloadRef != nil {
		ref := r.Spec.WorkloadRef
		return nil, promote.Input(fmt.Errorf("%s runs the pod template of %s %s (spec.workloadRef), not its own: address that %s instead (k8s:%s/%s/%s)",
			w.what(), strings.ToLower(ref.Kind), ref.Name, strings.ToLower(ref.Kind), ns, strings.ToLower(ref.Kind), ref.Name))
	}
	return w, nil
}

func (rollouts) patch(ctx context.Context, cs API, ns, name string, pt types.PatchType, body []byte, opts metav1.PatchOptions) (*workload, error) {
	c, err := rolloutClient(cs, ns)
	if err != nil {
		return nil, err
	}
	u, err := c.Patch(ctx, name, pt, body, opts)
	if err != nil {
		return nil, err
	}
	return rolloutWorkload(u)
}

// patchRolloutStatus merge-patches the status subresource of Rollout
// ns/name, as `kubectl argo rollouts abort` and `retry` do.
func patchRolloutStatus(ctx context.Context, cs API, ns, name string, body []byte) error {
	c, err := rolloutClient(cs, ns)
	if err != nil {
		return err
	}
	_, err = c.Patch(ctx, name, types.MergePatchType, body, metav1.PatchOptions{FieldManager: fieldManager}, "status")
	return err
}

// decodeRollout reads a Rollout from its unstructured form.
func decodeRollout(u *unstructured.Unstructured) (*Rollout, error) {
	var r Rollout
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
		return nil, fmt.Errorf("reading rollout %s/%s: %w", u.GetNamespace(), u.GetName(), err)
	}
	return &r, nil
}

func rolloutWorkload(u *unstructured.Unstructured) (*workload, error) {
	r, err := decodeRollout(u)
	if err != nil {
		return nil, err
	}
	return &workload{
		kind: KindRollout, namespace: r.Namespace, name: r.Name,
		uid: r.UID, generation: r.Generation, annotations: r.Annotations, meta: r.ObjectMeta,
		selector: r.Spec.Selector, template: r.Spec.Template,
		revision: r.Status.CurrentPodHash, obj: r,
	}, nil
}

func (rollouts) evaluate(w *workload, pods []corev1.Pod, _ []*appsv1.ControllerRevision) Verdict {
	r, _ := w.obj.(*Rollout)
	return EvaluateRollout(r, pods)
}

func (rollouts) needsRevisions() bool { return false }

func (rollouts) objectInformer(cs API, ns, name string) cache.SharedIndexInformer {
	c, err := rolloutClient(cs, ns)
	if err != nil {
		return informerFor(failingLister{err}, &unstructured.Unstructured{}, byName(name))
	}
	return informerFor(c, &unstructured.Unstructured{}, byName(name))
}

func (rollouts) fromObject(o any) (*workload, bool) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return nil, false
	}
	w, err := rolloutWorkload(u)
	return w, err == nil
}

// currentHash is the pod hash label of the pods that run w's template.
func (rollouts) currentHash(w *workload, _ []*appsv1.ControllerRevision) string {
	return w.revision
}

// failingLister lists and watches nothing but its error.
type failingLister struct{ err error }

func (f failingLister) List(context.Context, metav1.ListOptions) (*unstructured.UnstructuredList, error) {
	return nil, f.err
}

func (f failingLister) Watch(context.Context, metav1.ListOptions) (watch.Interface, error) {
	return nil, f.err
}

// podOf says whether pod p belongs to the workload of kind k with uid:
// the pods of a StatefulSet or DaemonSet are controlled by it, those of a
// Rollout by its ReplicaSets, which label them with their pod hash (the
// selector has already narrowed them to the Rollout's).
func podOf(k kindOps, p *corev1.Pod, uid types.UID) bool {
	if _, ok := k.(rollouts); ok {
		return p.Labels[rolloutPodHashLabel] != ""
	}
	return controlledBy(p.OwnerReferences, uid)
}

// podHashLabel is the label whose value is k's currentHash on a pod.
func podHashLabel(k kindOps) string {
	if _, ok := k.(rollouts); ok {
		return rolloutPodHashLabel
	}
	return revisionHashLabel
}

// What a restored Rollout's controller has made of its abort.
type abortState int

const (
	// abortPending: the controller has not observed the restore yet.
	abortPending abortState = iota
	// abortGone: it has, and the rollout is not aborted (or it is, but
	// not on its stable template, which is not ferry's to clear).
	abortGone
	// abortLeft: it has, and left the abort set on the stable template.
	abortLeft
)

// abortAfterRestore judges r after a restore that made generation gen.
// It only reads r.
func abortAfterRestore(r *Rollout, gen int64) abortState {
	observed, err := strconv.ParseInt(r.Status.ObservedGeneration, 10, 64)
	if err != nil || observed < gen || r.Status.CurrentPodHash == "" {
		return abortPending
	}
	if r.Status.Abort && r.Status.CurrentPodHash == r.Status.StableRS {
		return abortLeft
	}
	return abortGone
}

// clearRolloutAbort waits for the Argo Rollouts controller to observe
// generation gen, then clears status.abort if the controller left it set
// on a rollout whose template is its stable one.
func (t *Target) clearRolloutAbort(ctx context.Context, cs API, k kindOps, gen int64) error {
	var state abortState
	w, err := t.pollWorkload(ctx, cs, k, fmt.Sprintf("waiting for the argo rollouts controller to observe generation %d", gen), func(w *workload) bool {
		r, _ := w.obj.(*Rollout)
		state = abortAfterRestore(r, gen)
		return state != abortPending
	})
	if err != nil || state == abortGone {
		return err
	}
	t.logf("clearing the abort of %s (status.abort, as kubectl argo rollouts retry): it runs its stable template again", w.what())
	return patchRolloutStatus(ctx, cs, t.ref.Namespace, t.ref.Name, []byte(`{"status":{"abort":false}}`))
}

// DeepCopyObject makes r a runtime.Object (the workload's obj): a copy
// through its JSON form, which is all a Rollout is here.
func (r *Rollout) DeepCopyObject() runtime.Object {
	b, err := json.Marshal(r)
	if err != nil {
		panic(fmt.Sprintf("rollout %s/%s: %v", r.Namespace, r.Name, err))
	}
	var c Rollout
	if err := json.Unmarshal(b, &c); err != nil {
		panic(fmt.Sprintf("rollout %s/%s: %v", r.Namespace, r.Name, err))
	}
	return &c
}

// indefinitePauses are the 1-based numbers of the canary steps of r that
// pause without a duration: the controller waits at them until someone
// promotes the rollout (`kubectl argo rollouts promote`). It only reads r.
func indefinitePauses(r *Rollout) []int {
	c := r.Spec.Strategy.Canary
	if c == nil {
		return nil
	}
	var out []int
	for i, step := range c.Steps {
		p, ok := step["pause"]
		if !ok {
			continue
		}
		if m, _ := p.(map[string]any); m["duration"] == nil {
			out = append(out, i+1)
		}
	}
	return out
}

// pauseNote says, before a release to a Rollout whose canary pauses
// without a duration, what ferry will do there: wait for someone to
// promote it, up to timeout, and fail (and restore) if nobody does.
func pauseNote(w *workload, timeout time.Duration) string {
	r, ok := w.obj.(*Rollout)
	if !ok {
		return ""
	}
	steps := indefinitePauses(r)
	if len(steps) == 0 {
		return ""
	}
	return fmt.Sprintf("the canary of %s pauses without a duration at step %v: ferry waits there for someone to run `kubectl argo rollouts promote`, up to FERRY_TIMEOUT (%s), and restores the rollout if nobody does", w.what(), steps, timeout)
}
