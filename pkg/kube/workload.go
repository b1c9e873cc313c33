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
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// workload is what ferry needs of a workload of any kind: the fields
// every kind has, and the object for its kind's evaluator. A Deployment
// is one too (deploymentWorkload) where it is read, patched and restored
// as the other kinds are; its snapshot, description and rollback keep
// their own code (target.go, rollback.go), which knows its ReplicaSets,
// pausing and revision history.
type workload struct {
	kind, namespace, name string
	uid                   types.UID
	generation            int64
	annotations           map[string]string
	// meta is the object's metadata (owners are found in it).
	meta     metav1.ObjectMeta
	selector *metav1.LabelSelector
	template corev1.PodTemplateSpec
	// onDelete is true for the OnDelete update strategy, which ferry
	// refuses: the pods change only when someone deletes them.
	onDelete bool
	// strategy is spec.updateStrategy, put back exactly by a restore.
	strategy any
	// revision is the revision the workload's status names (StatefulSet:
	// its update revision), for the report.
	revision string
	obj      runtime.Object
}

func (w *workload) what() string {
	return strings.ToLower(w.kind) + " " + w.namespace + "/" + w.name
}

// kindOps are the calls and the evaluator of one workload kind.
type kindOps interface {
	kind() string
	get(ctx context.Context, cs API, ns, name string) (*workload, error)
	patch(ctx context.Context, cs API, ns, name string, pt types.PatchType, body []byte, opts metav1.PatchOptions) (*workload, error)
	// evaluate judges the rollout (pure: see EvaluateStatefulSet,
	// EvaluateDaemonSet).
	evaluate(w *workload, pods []corev1.Pod, crs []*appsv1.ControllerRevision) Verdict
	// needsRevisions says whether evaluate and currentHash read
	// ControllerRevisions.
	needsRevisions() bool
	objectInformer(cs API, ns, name string) cache.SharedIndexInformer
	fromObject(o any) (*workload, bool)
	// currentHash is the controller-revision-hash label of the pods that
	// run the workload's current template.
	currentHash(w *workload, crs []*appsv1.ControllerRevision) string
}

// kindOf returns the ops of r's kind, nil for a Deployment.
func kindOf(r Ref) kindOps {
	switch r.Kind {
	case KindStatefulSet:
		return statefulSets{}
	case KindDaemonSet:
		return daemonSets{}
	case KindRollout:
		return rollouts{}
	}
	return nil
}

func byName(name string) func(*metav1.ListOptions) {
	return func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }
}

// getWorkload reads the workload r names, of kind k (nil for a
// Deployment), and picks its containers.
func getWorkload(ctx context.Context, cs API, k kindOps, r Ref) (*workload, []slot, error) {
	w, err := readWorkload(ctx, cs, k, r.Namespace, r.Name)
	if apierrors.IsNotFound(err) {
		return nil, nil, promote.Input(fmt.Errorf("%s %s/%s not found in context %s", strings.ToLower(kindName(r.Kind)), r.Namespace, r.Name, contextName(r.Context)))
	}
	if err != nil {
		return nil, nil, err
	}
	slots, err := findSlots(w.what(), w.template.Spec, address.SplitContainers(r.Container))
	if err != nil {
		return nil, nil, err
	}
	return w, slots, nil
}

// readWorkload reads workload ns/name of kind k (nil for a Deployment);
// its error names the workload.
func readWorkload(ctx context.Context, cs API, k kindOps, ns, name string) (*workload, error) {
	var w *workload
	var err error
	if k == nil {
		var d *appsv1.Deployment
		if d, err = cs.Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			w = deploymentWorkload(d)
		}
	} else {
		w, err = k.get(ctx, cs, ns, name)
	}
	if err != nil {
		kind := KindDeployment
		if k != nil {
			kind = k.kind()
		}
		return nil, fmt.Errorf("reading %s %s/%s: %w", strings.ToLower(kind), ns, name, err)
	}
	return w, nil
}

// patchWorkload sends body, a patch of type pt, to workload ns/name of
// kind k (nil for a Deployment).
func patchWorkload(ctx context.Context, cs API, k kindOps, ns, name string, pt types.PatchType, body []byte, opts metav1.PatchOptions) (*workload, error) {
	if k == nil {
		d, err := cs.Deployments(ns).Patch(ctx, name, pt, body, opts)
		if err != nil {
			return nil, err
		}
		return deploymentWorkload(d), nil
	}
	return k.patch(ctx, cs, ns, name, pt, body, opts)
}

// lookUp reads the workload t names, of whatever kind, and picks its
// containers: one that is not there, or whose containers are ambiguous,
// is an input error.
func (t *Target) lookUp(ctx context.Context, cs API) error {
	_, _, err := getWorkload(ctx, cs, kindOf(t.ref), t.ref)
	return err
}

// deploymentWorkload is what the workload code reads of Deployment d.
func deploymentWorkload(d *appsv1.Deployment) *workload {
	return &workload{
		kind: KindDeployment, namespace: d.Namespace, name: d.Name,
		uid: d.UID, generation: d.Generation, annotations: d.Annotations, meta: d.ObjectMeta,
		selector: d.Spec.Selector, template: d.Spec.Template,
		revision: d.Annotations[revisionAnnotation], obj: d,
	}
}

// workloadPods lists the pods of w, and its ControllerRevisions when its
// kind needs them.
func workloadPods(ctx context.Context, cs API, k kindOps, w *workload) ([]corev1.Pod, []*appsv1.ControllerRevision, error) {
	sel, err := metav1.LabelSelectorAsSelector(w.selector)
	if err != nil {
		return nil, nil, fmt.Errorf("%s selector: %w", w.what(), err)
	}
	list, err := cs.Pods(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("listing pods: %w", err)
	}
	var pods []corev1.Pod
	for _, p := range list.Items {
		if podOf(k, &p, w.uid) {
			pods = append(pods, p)
		}
	}
	if !k.needsRevisions() {
		return pods, nil, nil
	}
	crl, err := cs.ControllerRevisions(w.namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, nil, fmt.Errorf("listing controller revisions: %w", err)
	}
	var crs []*appsv1.ControllerRevision
	for i := range crl.Items {
		crs = append(crs, &crl.Items[i])
	}
	return pods, crs, nil
}

// checkStrategy refuses the OnDelete update strategy.
func checkStrategy(w *workload) error {
	if !w.onDelete {
		return nil
	}
	return promote.Input(fmt.Errorf("%s uses the OnDelete update strategy: its pods take a new template only when someone deletes them, so ferry could neither verify a release nor restore one; set spec.updateStrategy.type to RollingUpdate, or replace its pods yourself", w.what()))
}

func (t *Target) snapshotWorkload(ctx context.Context, k kindOps, want wanted) (promote.Snapshot, error) {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return promote.Snapshot{}, err
	}
	w, slots, err := getWorkload(ctx, cs, k, t.ref)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if o := ownerOf(w.meta); o != nil && want.IsZero() {
		t.logf("managed by %s", o)
	}
	var applyAs string
	if !want.IsZero() {
		if applyAs, err = t.checkOwner(w.what(), w.meta, slots); err != nil {
			return promote.Snapshot{}, err
		}
		if err := checkStrategy(w); err != nil {
			return promote.Snapshot{}, err
		}
		if note := pauseNote(w, t.opts.Timeout); note != "" {
			t.logf("%s", note)
		}
		pods, crs, err := workloadPods(ctx, cs, k, w)
		if err != nil {
			return promote.Snapshot{}, err
		}
		switch v := k.evaluate(w, pods, crs); {
		case v.Failure != "":
			return promote.Snapshot{}, promote.Input(fmt.Errorf("%s: its current rollout has failed (%s); settle it before promoting, so there is a healthy state to come back to", w.what(), v.Failure))
		case !v.Done && t.opts.OnProgressing == Wait:
			t.logf("another rollout is in progress (%s); waiting for it to finish", v.Progress)
			if err := t.waitInProgress(ctx, cs, w.what()); err != nil {
				return promote.Snapshot{}, err
			}
			return t.snapshotWorkload(ctx, k, want)
		case !v.Done:
			return promote.Snapshot{}, promote.Input(fmt.Errorf("%s: another rollout is in progress (%s); wait for it, or set FERRY_ON_PROGRESSING=wait", w.what(), v.Progress))
		}
	}
	if slots, err = t.mapped(slots, want); err != nil {
		return promote.Snapshot{}, err
	}
	st := snapshotStateOf(w, slots, applyAs)
	st.Kind = w.kind
	if st.Strategy, err = json.Marshal(w.strategy); err != nil {
		return promote.Snapshot{}, err
	}
	return snapshotOf(w, slots, st, want)
}

// snapshotStateOf is what a snapshot of w, of whatever kind, records: its
// identity, its template and containers slots, its change cause, and the
// field manager a release applies as ("" for a patch).
func snapshotStateOf(w *workload, slots []slot, applyAs string) snapshotState {
	st := newState(w.template, slots)
	st.UID, st.Generation, st.ApplyAs = w.uid, w.generation, applyAs
	st.HasAnnotations = w.annotations != nil
	if cc, ok := w.annotations[changeCauseAnnotation]; ok {
		st.ChangeCause = &cc
	}
	return st
}

// snapshotOf is the snapshot of w whose state is st.
func snapshotOf(w *workload, slots []slot, st snapshotState, want wanted) (promote.Snapshot, error) {
	raw, err := promote.EncodeState(st)
	if err != nil {
		return promote.Snapshot{}, err
	}
	return promote.Snapshot{
		Seen:     promote.Seen{Image: seenImage(w.template.Spec, slots), Revision: w.revision},
		UpToDate: !want.IsZero() && upToDate(w.template.Spec, slots, runRef(want.img)),
		State:    raw,
	}, nil
}

// releaseOps is the JSON patch a release sends: tests that the workload
// is what the snapshot saw, the images, the change cause, and unpausing
// a Deployment that the snapshot saw paused (FERRY_ON_PAUSED=resume).
func (t *Target) releaseOps(st snapshotState, img image.Image) []patchOp {
	ops := append([]patchOp{
		{Op: "test", Path: "/metadata/uid", Value: st.UID},
		{Op: "test", Path: "/metadata/generation", Value: st.Generation},
	}, imageOps(st.slots(), runRef(img))...)
	what := askedFor(st.slots(), runRef(img))
	cause := "ferry: promoted " + what
	if t.opts.ChangeCause != nil {
		cause = t.opts.ChangeCause(what)
	}
	ops = append(ops, setChangeCause(st.HasAnnotations, cause))
	if st.Paused {
		ops = append(ops, patchOp{Op: "replace", Path: "/spec/paused", Value: false})
	}
	return ops
}

// replaceBrokenPods waits for the StatefulSet controller to observe
// generation gen, then deletes the pods that are not ready and do not run
// its update revision (the restored one).
func (t *Target) replaceBrokenPods(ctx context.Context, cs API, k kindOps, gen int64) error {
	w, err := t.pollWorkload(ctx, cs, k, fmt.Sprintf("waiting for the statefulset controller to observe generation %d", gen), func(w *workload) bool {
		s, ok := w.obj.(*appsv1.StatefulSet)
		return ok && s.Status.ObservedGeneration >= gen
	})
	if err != nil {
		return err
	}
	pods, _, err := workloadPods(ctx, cs, k, w)
	if err != nil {
		return err
	}
	for _, p := range brokenPods(pods, w.revision) {
		t.logf("deleting pod %s: it runs the failed revision and is not ready, and the statefulset controller would wait for it forever", p)
		if err := cs.Pods(t.ref.Namespace).Delete(ctx, p, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("deleting pod %s: %w", p, err)
		}
	}
	return nil
}

// pollWorkload reads the workload t names, of kind k, every 200 ms until
// ready says its controller has caught up, and returns that copy; waiting
// says what for, in the error when ctx ends first.
func (t *Target) pollWorkload(ctx context.Context, cs API, k kindOps, waiting string, ready func(*workload) bool) (*workload, error) {
	for {
		w, err := k.get(ctx, cs, t.ref.Namespace, t.ref.Name)
		if err != nil {
			return nil, err
		}
		if ready(w) {
			return w, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s: %w", waiting, context.Cause(ctx))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// brokenPods are the names of the pods that are not ready and do not run
// revision. It only reads its arguments.
func brokenPods(pods []corev1.Pod, revision string) []string {
	var out []string
	for _, p := range pods {
		if p.DeletionTimestamp != nil || revision == "" || p.Labels[revisionHashLabel] == revision || podReady(p) {
			continue
		}
		out = append(out, p.Name)
	}
	return out
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (t *Target) describeWorkload(ctx context.Context, k kindOps) (string, error) {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return "", err
	}
	w, err := readWorkload(ctx, cs, k, t.ref.Namespace, t.ref.Name)
	if err != nil {
		return "", err
	}
	state := "rollout state unknown"
	if pods, crs, err := workloadPods(ctx, cs, k, w); err == nil {
		state = rolloutState(k.evaluate(w, pods, crs))
	}
	rev := ""
	if w.revision != "" {
		rev = "revision " + w.revision + ", "
	}
	return fmt.Sprintf("%s (%s, %sgeneration %d, %s)", describeImages(w.template), strings.ToLower(w.kind), rev, w.generation, state), nil
}

// workloadWatch watches workload first of kind k, its pods and (when
// the kind needs them) its ControllerRevisions (those bySelector lists),
// from first's generation on (see seen).
func workloadWatch(cs API, k kindOps, first *workload, bySelector func(*metav1.ListOptions)) *rolloutWatch {
	ns, name := first.namespace, first.name
	obj := k.objectInformer(cs, ns, name)
	pods := informerFor(cs.Pods(ns), &corev1.Pod{}, bySelector)
	infs := []cache.SharedIndexInformer{obj, pods}
	var crs cache.SharedIndexInformer
	if k.needsRevisions() {
		crs = informerFor(cs.ControllerRevisions(ns), &appsv1.ControllerRevision{}, bySelector)
		infs = append(infs, crs)
	}
	return newRolloutWatch(infs, func() (Verdict, error) {
		o, ok, err := obj.GetStore().GetByKey(ns + "/" + name)
		if err != nil {
			return Verdict{}, err
		}
		cur, isKind := k.fromObject(o)
		if !ok || !isKind {
			return Verdict{}, fmt.Errorf("%s %s/%s disappeared while watching its rollout", strings.ToLower(k.kind()), ns, name)
		}
		if v, ok := seen(cur.generation, first.generation); !ok {
			return v, nil
		}
		var ps []corev1.Pod
		for _, o := range pods.GetStore().List() {
			if p, ok := o.(*corev1.Pod); ok && podOf(k, p, cur.uid) {
				ps = append(ps, *p)
			}
		}
		var revs []*appsv1.ControllerRevision
		if crs != nil {
			for _, o := range crs.GetStore().List() {
				if cr, ok := o.(*appsv1.ControllerRevision); ok {
					revs = append(revs, cr)
				}
			}
		}
		return k.evaluate(cur, ps, revs), nil
	})
}
