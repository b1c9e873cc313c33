package kube

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Policies for Deployments that are not at rest.
const (
	// Refuse stops with an input error before anything changes.
	Refuse = "refuse"
	// Resume (paused Deployments) unpauses for the release; a restore
	// pauses it again once the restored template has rolled out.
	Resume = "resume"
	// Wait (Deployments mid-rollout) waits for the running rollout to end
	// before taking the snapshot.
	Wait = "wait"
)

// TargetOptions tune a Target.
type TargetOptions struct {
	// Timeout bounds Verify, and waiting for a running rollout under Wait.
	Timeout time.Duration
	// OnPaused is Refuse or Resume.
	OnPaused string
	// OnProgressing is Refuse or Wait.
	OnProgressing string
	// ChangeCause is recorded in the kubernetes.io/change-cause
	// annotation; promoted is the image reference, or with a container
	// mapping each container's ("app=repo@sha256:..., proxy=...").
	ChangeCause func(promoted string) string
	// Logger receives progress lines.
	Logger promote.Logger
	// OnOwned is Refuse, Patch or ApplyAsOwner: what to do with a workload Helm, Argo
	// CD or Flux manages.
	OnOwned string
	// LockTTL is how long the target's lock outlives its holder's last
	// renewal (see Lock); DefaultLockTTL when zero.
	LockTTL time.Duration
}

// Target is a Deployment container that receives the promoted image. It
// holds configuration and clients only (see promote.Target).
type Target struct {
	ref     Ref
	clients *Clients
	opts    TargetOptions
}

// NewTarget returns the target for r.
func NewTarget(clients *Clients, r Ref, opts TargetOptions) *Target {
	if opts.Logger == nil {
		opts.Logger = promote.Discard
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 5 * time.Minute
	}
	return &Target{ref: r, clients: clients, opts: opts}
}

func (t *Target) String() string { return t.ref.Address }

func (t *Target) logf(format string, args ...any) { t.opts.Logger.Logf(t.ref.Address, format, args...) }

// Snapshot records the Deployment's revision, generation and whole pod
// template. When want is an image, a paused Deployment, or one whose
// rollout has not finished, is refused (or handled as OnPaused and
// OnProgressing say).
func (t *Target) Snapshot(ctx context.Context, want image.Image) (promote.Snapshot, error) {
	return t.snapshot(ctx, wanted{img: want})
}

func (t *Target) snapshot(ctx context.Context, want wanted) (promote.Snapshot, error) {
	if k := kindOf(t.ref); k != nil {
		return t.snapshotWorkload(ctx, k, want)
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return promote.Snapshot{}, err
	}
	d, slots, err := getDeploymentSlots(ctx, cs, t.ref)
	if err != nil {
		return promote.Snapshot{}, err
	}
	rss, err := replicaSetsOf(ctx, cs, d)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if o := ownerOf(d.ObjectMeta); o != nil && want.IsZero() {
		t.logf("managed by %s", o)
	}
	var applyAs string
	if !want.IsZero() {
		if applyAs, err = t.checkOwner("deployment "+d.Namespace+"/"+d.Name, d.ObjectMeta, slots); err != nil {
			return promote.Snapshot{}, err
		}
		if applyAs != "" && d.Spec.Paused {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("deployment %s/%s is paused: FERRY_ON_OWNED=apply-as-owner writes only the images, so ferry cannot unpause it; resume it first (kubectl rollout resume)", d.Namespace, d.Name))
		}
		switch wait, err := t.settled(d, rss); {
		case err != nil:
			return promote.Snapshot{}, err
		case wait:
			if err := t.waitInProgress(ctx, cs, d.Namespace+"/"+d.Name); err != nil {
				return promote.Snapshot{}, err
			}
			return t.snapshot(ctx, want)
		}
	}
	if slots, err = t.mapped(slots, want); err != nil {
		return promote.Snapshot{}, err
	}
	w := deploymentWorkload(d)
	st := snapshotStateOf(w, slots, applyAs)
	st.Paused = d.Spec.Paused
	if rs := currentReplicaSet(d, rss); rs != nil {
		st.ReplicaSet = rs.Name
	}
	return snapshotOf(w, slots, st, want)
}

// settled decides whether a promotion may start from d: an input error
// when it may not, wait when the rollout in progress is to be waited for
// (OnProgressing=wait).
func (t *Target) settled(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) (wait bool, err error) {
	if d.Spec.Paused {
		if t.opts.OnPaused == Resume {
			return false, nil
		}
		return false, promote.Input(fmt.Errorf("deployment %s/%s is paused: resume it first, or set FERRY_ON_PAUSED=resume to let ferry unpause it for the release", d.Namespace, d.Name))
	}
	switch v := Evaluate(d, currentReplicaSet(d, rss), nil); {
	case v.Failure != "":
		return false, promote.Input(fmt.Errorf("deployment %s/%s: its current rollout has failed (%s); settle it before promoting, so there is a healthy state to come back to", d.Namespace, d.Name, v.Failure))
	case !v.Done && t.opts.OnProgressing == Wait:
		t.logf("another rollout is in progress (%s); waiting for it to finish", v.Progress)
		return true, nil
	case !v.Done:
		return false, promote.Input(fmt.Errorf("deployment %s/%s: another rollout is in progress (%s); wait for it, or set FERRY_ON_PROGRESSING=wait", d.Namespace, d.Name, v.Progress))
	}
	return false, nil
}

// waitInProgress waits, up to the timeout, for the rollout in progress
// on the workload t names (what, in the error) to finish.
func (t *Target) waitInProgress(ctx context.Context, cs API, what string) error {
	wctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	if err := waitRollout(wctx, cs, kindOf(t.ref), t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return fmt.Errorf("waiting for the rollout in progress on %s: %w", what, err)
	}
	return nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// changeCausePath is the JSON pointer to the change-cause annotation.
const changeCausePath = "/metadata/annotations/kubernetes.io~1change-cause"

// Release points the container at img.Ref() and records the change cause,
// in one JSON patch that first tests that the Deployment, its generation
// and the container are what the snapshot saw: a Deployment someone
// changed in between is left alone. Under ApplyAsOwner it writes only the
// images, as st.ApplyAs's apply (see applyAsOwner); the change cause is
// not recorded: an annotation Helm's manager does not own would be taken
// from whoever set it, with a conflict if another manager holds it.
func (t *Target) Release(ctx context.Context, s promote.Snapshot, img image.Image) (promote.Change, error) {
	st, err := promote.DecodeState[snapshotState](s.State)
	if err != nil {
		return promote.Change{}, err
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return promote.Change{}, err
	}
	ref := runRef(img)
	ch := changeState{Asked: st.asked(ref)}
	var gen int64
	var left corev1.PodTemplateSpec
	as := ""
	if st.ApplyAs != "" {
		as = " as field manager " + st.ApplyAs
		gen, left, err = t.applyAsOwner(ctx, cs, st, st.Generation, imagesFor(st.slots(), ref), false)
	} else {
		if st.Paused {
			t.logf("unpausing (FERRY_ON_PAUSED=resume)")
		}
		var w *workload
		if w, err = t.patch(ctx, cs, t.releaseOps(st, img)); err == nil {
			gen, left = w.generation, w.template
		}
	}
	asked := askedFor(st.slots(), ref)
	if err == nil {
		ch.Left, ch.Generation = &left, gen
		t.logf("set container %s to %s%s (generation %d)", slotNames(st.slots()), asked, as, gen)
	}
	change, cerr := encodeChange(asked, ch)
	if err != nil {
		return change, fmt.Errorf("releasing: %w", err)
	}
	return change, cerr
}

func setChangeCause(hasAnnotations bool, cause string) patchOp {
	if hasAnnotations {
		return patchOp{Op: "add", Path: changeCausePath, Value: cause}
	}
	return patchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{changeCauseAnnotation: cause}}
}

func encodeChange(img string, ch changeState) (promote.Change, error) {
	raw, err := promote.EncodeState(ch)
	return promote.Change{Image: img, State: raw}, err
}

// patch sends ops as a JSON patch to the workload t names.
func (t *Target) patch(ctx context.Context, cs API, ops []patchOp) (*workload, error) {
	return t.patchWith(ctx, cs, ops, metav1.PatchOptions{FieldManager: fieldManager})
}

// fieldManager is the field manager of ferry's patches.
const fieldManager = "ferry"

func (t *Target) patchWith(ctx context.Context, cs API, ops []patchOp, opts metav1.PatchOptions) (*workload, error) {
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	w, err := patchWorkload(ctx, cs, kindOf(t.ref), t.ref.Namespace, t.ref.Name, types.JSONPatchType, body, opts)
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsConflict(err) || strings.Contains(err.Error(), "test operation") || strings.Contains(err.Error(), "test failed") {
			return nil, fmt.Errorf("the %s changed since ferry read it (someone else is rolling out?); nothing was changed: %w", strings.ToLower(kindName(t.ref.Kind)), err)
		}
		return nil, err
	}
	return w, nil
}

// Verify watches the rollout until it is complete, has failed, or
// TargetOptions.Timeout passes. It judges no copy older than the release
// (see waitRollout).
func (t *Target) Verify(ctx context.Context, _ promote.Snapshot, _ promote.Change) error {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, t.opts.Timeout, fmt.Errorf("timed out after %s (FERRY_TIMEOUT)", t.opts.Timeout))
	defer cancel()
	start := time.Now()
	if err := waitRollout(ctx, cs, kindOf(t.ref), t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	t.logf("rollout complete in %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// Describe says what the Deployment runs now: its containers' images,
// its revision and how its rollout stands (see promote.Describer).
func (t *Target) Describe(ctx context.Context) (string, error) {
	if k := kindOf(t.ref); k != nil {
		return t.describeWorkload(ctx, k)
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return "", err
	}
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading deployment: %w", err)
	}
	state := "rollout state unknown"
	if rss, err := replicaSetsOf(ctx, cs, d); err == nil {
		state = rolloutState(Evaluate(d, currentReplicaSet(d, rss), nil))
	}
	return fmt.Sprintf("%s (revision %s, generation %d, %s)", describeImages(d.Spec.Template), d.Annotations[revisionAnnotation], d.Generation, state), nil
}

// rolloutState is how v reads in a description.
func rolloutState(v Verdict) string {
	switch {
	case v.Failure != "":
		return "rollout failed: " + v.Failure
	case v.Done:
		return "rolled out"
	}
	return "rolling out: " + v.Progress
}

func describeImages(tmpl corev1.PodTemplateSpec) string {
	var parts []string
	for _, c := range tmpl.Spec.Containers {
		parts = append(parts, c.Name+"="+c.Image)
	}
	return strings.Join(parts, ", ")
}

// Interface checks.
var (
	_ promote.Target     = (*Target)(nil)
	_ promote.Describer  = (*Target)(nil)
	_ promote.RollBacker = (*Target)(nil)
	_ promote.Source     = (*Source)(nil)
)
