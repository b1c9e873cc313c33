package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/tools/cache"
)

// RolloutError is a rollout that failed (as opposed to one that ran out of
// time or was interrupted).
type RolloutError struct{ Reason string }

func (e *RolloutError) Error() string { return "rollout failed: " + e.Reason }

// waitRollout watches the workload ns/name of kind k (nil: a
// Deployment) and its children until its evaluator says the rollout is
// done (nil) or failed (*RolloutError), or ctx ends. It judges no copy of
// the workload older than the one it reads first, which is at least as
// new as any write the caller made before (see seen). It uses informers,
// so a watch that breaks (an API server restart) is re-listed and
// resumed rather than lost. logf receives progress when it changes, at
// most every few seconds.
func waitRollout(ctx context.Context, cs API, k kindOps, ns, name string, logf func(format string, args ...any)) error {
	return onRollout(ctx, cs, k, ns, name, func(ctx context.Context, w *rolloutWatch) error {
		return w.wait(ctx, logf)
	})
}

// watchRollout keeps watching the workload ns/name of kind k (nil: a
// Deployment) after its verification (see Target.Watch), judging no
// copy older than the one it reads first: a failure is a *RolloutError at
// once; nil when ctx ends.
func watchRollout(ctx context.Context, cs API, k kindOps, ns, name string, logf func(format string, args ...any)) error {
	return onRollout(ctx, cs, k, ns, name, func(ctx context.Context, w *rolloutWatch) error {
		return w.watch(ctx, logf)
	})
}

// onRollout runs the informers of the workload ns/name of kind k (nil: a
// Deployment) and of its children, which it reads first for their
// selector, and calls use with them.
func onRollout(ctx context.Context, cs API, k kindOps, ns, name string, use func(ctx context.Context, w *rolloutWatch) error) error {
	cur, err := readWorkload(ctx, cs, k, ns, name)
	if err != nil {
		return err
	}
	sel, err := metav1.LabelSelectorAsSelector(cur.selector)
	if err != nil {
		return fmt.Errorf("%s selector: %w", cur.what(), err)
	}
	bySelector := func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }
	var w *rolloutWatch
	if k == nil {
		w = deploymentWatch(cs, cur, bySelector)
	} else {
		w = workloadWatch(cs, k, cur, bySelector)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped, err := w.start(ctx)
	if err != nil {
		return err
	}
	defer func() {
		cancel() // the informers stop when ctx ends
		stopped()
	}()
	return use(ctx, w)
}

// rolloutWatch is one watch of a rollout: the informers of the workload
// and its children, what evaluates the rollout from their stores, and
// the last API error they saw.
type rolloutWatch struct {
	infs    []cache.SharedIndexInformer
	eval    func() (Verdict, error)
	changed chan struct{}

	mu       sync.Mutex
	watchErr error
}

func newRolloutWatch(infs []cache.SharedIndexInformer, eval func() (Verdict, error)) *rolloutWatch {
	return &rolloutWatch{infs: infs, eval: eval, changed: make(chan struct{}, 1)}
}

// deploymentWatch watches Deployment cur, its ReplicaSets and pods (those
// bySelector lists), from cur's generation on (see seen).
func deploymentWatch(cs API, cur *workload, bySelector func(*metav1.ListOptions)) *rolloutWatch {
	ns, name := cur.namespace, cur.name
	deploys := informerFor(cs.Deployments(ns), &appsv1.Deployment{}, byName(name))
	replicaSets := informerFor(cs.ReplicaSets(ns), &appsv1.ReplicaSet{}, bySelector)
	pods := informerFor(cs.Pods(ns), &corev1.Pod{}, bySelector)
	return newRolloutWatch([]cache.SharedIndexInformer{deploys, replicaSets, pods}, func() (Verdict, error) {
		return evaluateFromStores(deploys.GetStore(), replicaSets.GetStore(), pods.GetStore(), ns, name, cur.generation)
	})
}

// start runs the informers until ctx ends, poking w.changed at every
// event; stopped waits for them to have stopped (cancel ctx first).
func (w *rolloutWatch) start(ctx context.Context) (stopped func(), err error) {
	poke := func() {
		select {
		case w.changed <- struct{}{}:
		default:
		}
	}
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range w.infs {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return nil, fmt.Errorf("watching rollout: %w", err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			w.mu.Lock()
			w.watchErr = err
			w.mu.Unlock()
		})
	}
	var running sync.WaitGroup
	for _, inf := range w.infs {
		running.Go(func() { inf.RunWithContext(ctx) })
	}
	return running.Wait, nil
}

func (w *rolloutWatch) lastErr() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.watchErr
}

func (w *rolloutWatch) synced() bool {
	for _, inf := range w.infs {
		if !inf.HasSynced() {
			return false
		}
	}
	return true
}

// wait evaluates the rollout at every change, once the informers have
// synced, until it is done or failed.
func (w *rolloutWatch) wait(ctx context.Context, logf func(format string, args ...any)) error {
	var last Verdict
	lastLog := time.Time{}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	synced := false
	for {
		if synced = synced || w.synced(); synced {
			v, err := w.eval()
			switch {
			case err != nil:
				return err
			case v.Failure != "":
				return &RolloutError{Reason: v.Failure}
			case v.Done:
				return nil
			case v.Progress != last.Progress && time.Since(lastLog) >= 2*time.Second:
				logf("waiting: %s", v.Progress)
				lastLog = time.Now()
			}
			last = v
		}
		select {
		case <-ctx.Done():
			return w.interrupted(ctx, synced, last)
		case <-w.changed:
		case <-tick.C:
			if synced && last.Progress != "" && time.Since(lastLog) >= 15*time.Second {
				logf("waiting: %s", last.Progress)
				lastLog = time.Now()
			}
		}
	}
}

// watch evaluates the rollout at every change until it reports a failure
// (returned) or ctx ends (nil).
func (w *rolloutWatch) watch(ctx context.Context, logf func(format string, args ...any)) error {
	start := time.Now()
	for {
		if w.synced() {
			v, err := w.eval()
			switch {
			case err != nil:
				return err
			case v.Failure != "":
				logf("watch: failed %s after its verification: %s", time.Since(start).Round(100*time.Millisecond), v.Failure)
				return &RolloutError{Reason: v.Failure}
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-w.changed:
		}
	}
}

// interrupted says where the rollout stood when ctx ended.
func (w *rolloutWatch) interrupted(ctx context.Context, synced bool, last Verdict) error {
	msg := last.Progress
	if !synced {
		msg = "could not read the rollout state"
	}
	if e := w.lastErr(); e != nil {
		msg += " (last API error: " + e.Error() + ")"
	}
	return fmt.Errorf("%w: %s", context.Cause(ctx), msg)
}

// seen says whether a watch's copy of a workload, at generation, is at
// least as new as generation atLeast, the one the watch's own first read
// saw (a read without a resourceVersion, from etcd: it is at least as new
// as any write the caller made before the watch); when it is not, v says
// so. An informer's first list may be served from the API server's watch
// cache, which can lag a write that completed just before: judged, the
// copy from before a release would pass its verification, and the one
// from before a restore would fail it on the very pods the restore
// replaces.
func seen(generation, atLeast int64) (v Verdict, ok bool) {
	if generation >= atLeast {
		return Verdict{}, true
	}
	return Verdict{Progress: fmt.Sprintf("waiting for the watch to show generation %d (it shows %d)", atLeast, generation)}, false
}

// informerFor is an informer over one resource of one namespace, with the
// list and watch options narrowed by tweak.
func informerFor[L runtime.Object](c interface {
	List(context.Context, metav1.ListOptions) (L, error)
	Watch(context.Context, metav1.ListOptions) (watch.Interface, error)
}, example runtime.Object, tweak func(*metav1.ListOptions)) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			tweak(&o)
			return c.List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			tweak(&o)
			return c.Watch(ctx, o)
		},
	}
	return cache.NewSharedIndexInformer(lw, example, 0, cache.Indexers{})
}

// evaluateFromStores evaluates the rollout of Deployment ns/name from the
// informers' stores, which the server already narrowed to that Deployment
// and to its selector, once they hold generation atLeast (see seen).
func evaluateFromStores(deploys, replicaSets, pods cache.Store, ns, name string, atLeast int64) (Verdict, error) {
	obj, ok, err := deploys.GetByKey(ns + "/" + name)
	if err != nil {
		return Verdict{}, err
	}
	d, isDeployment := obj.(*appsv1.Deployment)
	if !ok || !isDeployment {
		return Verdict{}, fmt.Errorf("deployment %s/%s disappeared while watching its rollout", ns, name)
	}
	if v, ok := seen(d.Generation, atLeast); !ok {
		return v, nil
	}
	var rss []*appsv1.ReplicaSet
	for _, o := range replicaSets.List() {
		if rs, ok := o.(*appsv1.ReplicaSet); ok {
			rss = append(rss, rs)
		}
	}
	var ps []corev1.Pod
	for _, o := range pods.List() {
		if p, ok := o.(*corev1.Pod); ok {
			ps = append(ps, *p)
		}
	}
	return Evaluate(d, currentReplicaSet(d, rss), ps), nil
}

// currentReplicaSet is the ReplicaSet of d whose revision is d's revision.
func currentReplicaSet(d *appsv1.Deployment, rss []*appsv1.ReplicaSet) *appsv1.ReplicaSet {
	rev := d.Annotations[revisionAnnotation]
	if rev == "" {
		return nil
	}
	for _, rs := range rss {
		if ownedBy(rs, d.UID) && rs.Annotations[revisionAnnotation] == rev {
			return rs
		}
	}
	return nil
}

func ownedBy(rs *appsv1.ReplicaSet, uid types.UID) bool {
	for _, o := range rs.OwnerReferences {
		if o.UID == uid && o.Controller != nil && *o.Controller {
			return true
		}
	}
	return false
}
