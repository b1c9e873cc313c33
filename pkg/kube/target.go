package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
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
	// ChangeCause is recorded in the kubernetes.io/change-cause annotation.
	ChangeCause func(img image.Image) string
	// Logger receives progress lines.
	Logger promote.Logger
}

// Target is a Deployment container that receives the promoted image.
type Target struct {
	ref     Ref
	clients *Clients
	opts    TargetOptions

	mu       sync.Mutex
	snap     *state                  // the last snapshot; Release starts from it
	released *corev1.PodTemplateSpec // the template ferry's release left
	attempt  *corev1.PodTemplateSpec // the template ferry's release asked for
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

// state is the rollback point of a Deployment.
type state struct {
	UID            types.UID
	Generation     int64
	Template       corev1.PodTemplateSpec
	HasAnnotations bool
	ChangeCause    *string
	Paused         bool
	Container      int
	ReplicaSet     string
}

// Snapshot records the Deployment's revision, generation and whole pod
// template. A paused Deployment, or one whose rollout has not finished, is
// refused (or handled as OnPaused/OnProgressing say).
func (t *Target) Snapshot(ctx context.Context, want image.Image) (promote.Snapshot, error) {
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return promote.Snapshot{}, err
	}
	d, i, err := getDeployment(ctx, cs, t.ref)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if d.Spec.Paused && t.opts.OnPaused != Resume {
		return promote.Snapshot{}, promote.Input(fmt.Errorf("deployment %s/%s is paused: resume it first, or set FERRY_ON_PAUSED=resume to let ferry unpause it for the release", d.Namespace, d.Name))
	}
	rss, err := replicaSetsOf(ctx, cs, d)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if !d.Spec.Paused {
		v := Evaluate(d, currentReplicaSet(d, rss), nil)
		switch {
		case v.Failure != "":
			return promote.Snapshot{}, promote.Input(fmt.Errorf("deployment %s/%s: its current rollout has failed (%s); settle it before promoting, so there is a healthy state to come back to", d.Namespace, d.Name, v.Failure))
		case !v.Done && t.opts.OnProgressing == Wait:
			t.logf("another rollout is in progress (%s); waiting for it to finish", v.Progress)
			wctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
			err := waitRollout(wctx, cs, d.Namespace, d.Name, t.logf)
			cancel()
			if err != nil {
				return promote.Snapshot{}, fmt.Errorf("waiting for the rollout in progress on %s/%s: %w", d.Namespace, d.Name, err)
			}
			return t.Snapshot(ctx, want)
		case !v.Done:
			return promote.Snapshot{}, promote.Input(fmt.Errorf("deployment %s/%s: another rollout is in progress (%s); wait for it, or set FERRY_ON_PROGRESSING=wait", d.Namespace, d.Name, v.Progress))
		}
	}
	st := &state{
		UID:        d.UID,
		Generation: d.Generation,
		Template:   *d.Spec.Template.DeepCopy(),
		Paused:     d.Spec.Paused,
		Container:  i,

		HasAnnotations: d.Annotations != nil,
	}
	if cc, ok := d.Annotations[changeCauseAnnotation]; ok {
		st.ChangeCause = &cc
	}
	if rs := currentReplicaSet(d, rss); rs != nil {
		st.ReplicaSet = rs.Name
	}
	current := d.Spec.Template.Spec.Containers[i].Image
	t.mu.Lock()
	t.snap = st
	t.mu.Unlock()
	return promote.Snapshot{
		Image:    current,
		Revision: d.Annotations[revisionAnnotation],
		UpToDate: !want.IsZero() && current == want.Ref(),
		State:    st,
	}, nil
}

type patchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// Release points the container at img.Ref() and records the change cause,
// in one JSON patch that first tests that the Deployment, its generation
// and the container are what the last Snapshot saw: a Deployment someone
// changed in between is left alone.
func (t *Target) Release(ctx context.Context, img image.Image) error {
	t.mu.Lock()
	st := t.snap
	t.mu.Unlock()
	if st == nil {
		return fmt.Errorf("releasing %s: no snapshot taken first", t.ref)
	}
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return err
	}
	c := st.Template.Spec.Containers[st.Container]
	ops := []patchOp{
		{Op: "test", Path: "/metadata/uid", Value: st.UID},
		{Op: "test", Path: "/metadata/generation", Value: st.Generation},
		{Op: "test", Path: fmt.Sprintf("/spec/template/spec/containers/%d/name", st.Container), Value: c.Name},
		{Op: "replace", Path: fmt.Sprintf("/spec/template/spec/containers/%d/image", st.Container), Value: img.Ref()},
	}
	cause := "ferry: promoted " + img.Ref()
	if t.opts.ChangeCause != nil {
		cause = t.opts.ChangeCause(img)
	}
	if st.HasAnnotations {
		ops = append(ops, patchOp{Op: "add", Path: changeCausePath, Value: cause})
	} else {
		ops = append(ops, patchOp{Op: "add", Path: "/metadata/annotations", Value: map[string]string{changeCauseAnnotation: cause}})
	}
	if st.Paused {
		ops = append(ops, patchOp{Op: "replace", Path: "/spec/paused", Value: false})
		t.logf("unpausing (FERRY_ON_PAUSED=resume)")
	}
	attempt := st.Template.DeepCopy()
	attempt.Spec.Containers[st.Container].Image = img.Ref()
	t.mu.Lock()
	t.attempt, t.released = attempt, nil
	t.mu.Unlock()
	d, err := t.patch(ctx, cs, ops)
	if err != nil {
		return fmt.Errorf("releasing %s: %w", t.ref, err)
	}
	t.mu.Lock()
	t.released = d.Spec.Template.DeepCopy()
	t.mu.Unlock()
	t.logf("set container %s to %s (generation %d)", c.Name, img.Ref(), d.Generation)
	return nil
}

// changeCausePath is the JSON pointer to the change-cause annotation.
const changeCausePath = "/metadata/annotations/kubernetes.io~1change-cause"

func (t *Target) patch(ctx context.Context, cs API, ops []patchOp) (*appsv1.Deployment, error) {
	body, err := json.Marshal(ops)
	if err != nil {
		return nil, err
	}
	d, err := cs.Deployments(t.ref.Namespace).Patch(ctx, t.ref.Name, types.JSONPatchType, body, metav1.PatchOptions{FieldManager: "ferry"})
	if err != nil {
		if apierrors.IsInvalid(err) || apierrors.IsConflict(err) || strings.Contains(err.Error(), "test operation") || strings.Contains(err.Error(), "test failed") {
			return nil, fmt.Errorf("the deployment changed since ferry read it (someone else is rolling out?); nothing was changed: %w", err)
		}
		return nil, err
	}
	return d, nil
}

// Verify watches the rollout until it is complete, has failed, or
// TargetOptions.Timeout passes.
func (t *Target) Verify(ctx context.Context) error {
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeoutCause(ctx, t.opts.Timeout, fmt.Errorf("timed out after %s (FERRY_TIMEOUT)", t.opts.Timeout))
	defer cancel()
	start := time.Now()
	if err := waitRollout(ctx, cs, t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return fmt.Errorf("verifying %s: %w", t.ref, err)
	}
	t.logf("rollout complete in %s", time.Since(start).Round(100*time.Millisecond))
	return nil
}

// Restore puts the snapshot's pod template (and change cause, and pause)
// back, then waits until that has rolled out. It refuses to overwrite a
// Deployment that someone else changed after ferry's release.
func (t *Target) Restore(ctx context.Context, s promote.Snapshot) error {
	if err := t.restore(ctx, s); err != nil {
		return fmt.Errorf("restoring %s: %w", t.ref, err)
	}
	return nil
}

func (t *Target) restore(ctx context.Context, s promote.Snapshot) error {
	st, ok := s.State.(*state)
	if !ok {
		return errors.New("snapshot was not taken by this target")
	}
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return err
	}
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment: %w", err)
	}
	if d.UID != st.UID {
		return fmt.Errorf("the deployment was deleted and re-created since the snapshot (uid %s, was %s); not touching it", d.UID, st.UID)
	}
	t.mu.Lock()
	released, attempt := t.released, t.attempt
	t.mu.Unlock()
	ours := released
	if ours == nil && attempt != nil && equality.Semantic.DeepEqual(d.Spec.Template, *attempt) {
		// The release call failed (a timeout, say) but its change landed.
		ours = attempt
	}
	switch {
	case d.Generation == st.Generation:
		// The release never landed: nothing to put back.
		t.logf("restore: unchanged since the snapshot (generation %d)", d.Generation)
		return nil
	case equality.Semantic.DeepEqual(d.Spec.Template, st.Template):
		// Already as in the snapshot; still wait for it to roll out below.
	case ours == nil:
		// ferry's release did not land, and someone else changed the
		// Deployment: their rollout, not ferry's to undo.
		t.logf("restore: ferry's release did not land and the deployment was changed by someone else since the snapshot; leaving it as it is (it runs %s)", describeImages(d))
		return nil
	case !equality.Semantic.DeepEqual(d.Spec.Template, *ours):
		// Scaling (an HPA) is fine; a different template is someone
		// else's rollout, which ferry must not overwrite.
		return fmt.Errorf("its pod template changed after ferry's release; not overwriting someone else's change — it runs %s",
			describeImages(d))
	}
	if equality.Semantic.DeepEqual(d.Spec.Template, st.Template) && d.Spec.Paused == st.Paused {
		t.logf("restore: template already as in the snapshot")
	} else {
		ops := []patchOp{
			{Op: "test", Path: "/metadata/uid", Value: st.UID},
			{Op: "test", Path: "/metadata/generation", Value: d.Generation},
			{Op: "replace", Path: "/spec/template", Value: st.Template},
		}
		if st.ChangeCause != nil {
			ops = append(ops, patchOp{Op: "add", Path: changeCausePath, Value: *st.ChangeCause})
		} else if _, ok := d.Annotations[changeCauseAnnotation]; ok {
			ops = append(ops, patchOp{Op: "remove", Path: changeCausePath})
		}
		if _, err := t.patch(ctx, cs, ops); err != nil {
			return err
		}
		t.logf("put back the pod template of revision %s (%s)", s.Revision, s.Image)
	}
	if err := waitRollout(ctx, cs, t.ref.Namespace, t.ref.Name, t.logf); err != nil {
		return fmt.Errorf("waiting for the restored template to roll out: %w", err)
	}
	if st.Paused {
		if _, err := t.patch(ctx, cs, []patchOp{{Op: "replace", Path: "/spec/paused", Value: true}}); err != nil {
			return fmt.Errorf("pausing again: %w", err)
		}
	}
	t.logf("restored: %s rolled out again", s.Image)
	return nil
}

// Describe says what the Deployment runs now: its containers' images,
// its revision and how its rollout stands (see promote.Describer).
func (t *Target) Describe(ctx context.Context) (string, error) {
	cs, err := t.clients.Client(t.ref.Context)
	if err != nil {
		return "", err
	}
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading deployment: %w", err)
	}
	state := "rollout state unknown"
	if rss, err := replicaSetsOf(ctx, cs, d); err == nil {
		switch v := Evaluate(d, currentReplicaSet(d, rss), nil); {
		case v.Failure != "":
			state = "rollout failed: " + v.Failure
		case v.Done:
			state = "rolled out"
		default:
			state = "rolling out: " + v.Progress
		}
	}
	return fmt.Sprintf("%s (revision %s, generation %d, %s)", describeImages(d), d.Annotations[revisionAnnotation], d.Generation, state), nil
}

func describeImages(d *appsv1.Deployment) string {
	var parts []string
	for _, c := range d.Spec.Template.Spec.Containers {
		parts = append(parts, c.Name+"="+c.Image)
	}
	return strings.Join(parts, ", ")
}
