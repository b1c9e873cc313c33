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

// waitRollout watches Deployment ns/name, its ReplicaSets and pods until
// Evaluate says the rollout is done (nil) or failed (*RolloutError), or ctx
// ends. It uses informers, so a watch that breaks (an API server restart)
// is re-listed and resumed rather than lost. logf receives progress when it
// changes, at most every few seconds.
func waitRollout(ctx context.Context, cs API, ns, name string, logf func(format string, args ...any)) error {
	d, err := cs.Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment: %w", err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment selector: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	byName := func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }
	bySelector := func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }
	deploys := informerFor(cs.Deployments(ns), &appsv1.Deployment{}, byName)
	replicaSets := informerFor(cs.ReplicaSets(ns), &appsv1.ReplicaSet{}, bySelector)
	pods := informerFor(cs.Pods(ns), &corev1.Pod{}, bySelector)
	informers := []cache.SharedIndexInformer{deploys, replicaSets, pods}

	changed := make(chan struct{}, 1)
	poke := func() {
		select {
		case changed <- struct{}{}:
		default:
		}
	}
	var mu sync.Mutex
	var watchErr error
	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { poke() },
		UpdateFunc: func(any, any) { poke() },
		DeleteFunc: func(any) { poke() },
	}
	for _, inf := range informers {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watching rollout: %w", err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			mu.Lock()
			watchErr = err
			mu.Unlock()
		})
	}
	var running sync.WaitGroup
	for _, inf := range informers {
		running.Go(func() { inf.RunWithContext(ctx) })
	}
	defer running.Wait()
	defer cancel() // runs before Wait: the informers stop when ctx ends

	lastErr := func() error {
		mu.Lock()
		defer mu.Unlock()
		return watchErr
	}
	var last Verdict
	lastLog := time.Time{}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	synced := false
	for {
		if !synced {
			synced = deploys.HasSynced() && replicaSets.HasSynced() && pods.HasSynced()
		}
		if synced {
			v, err := evaluateFromStores(deploys.GetStore(), replicaSets.GetStore(), pods.GetStore(), ns, name)
			if err != nil {
				return err
			}
			if v.Failure != "" {
				return &RolloutError{Reason: v.Failure}
			}
			if v.Done {
				return nil
			}
			if v.Progress != last.Progress && time.Since(lastLog) >= 2*time.Second {
				logf("waiting: %s", v.Progress)
				lastLog = time.Now()
			}
			last = v
		}
		select {
		case <-ctx.Done():
			msg := last.Progress
			if !synced {
				msg = "could not read the rollout state"
			}
			if e := lastErr(); e != nil {
				msg += " (last API error: " + e.Error() + ")"
			}
			return fmt.Errorf("%w: %s", context.Cause(ctx), msg)
		case <-changed:
		case <-tick.C:
			if synced && last.Progress != "" && time.Since(lastLog) >= 15*time.Second {
				logf("waiting: %s", last.Progress)
				lastLog = time.Now()
			}
		}
	}
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
// and to its selector.
func evaluateFromStores(deploys, replicaSets, pods cache.Store, ns, name string) (Verdict, error) {
	obj, ok, err := deploys.GetByKey(ns + "/" + name)
	if err != nil {
		return Verdict{}, err
	}
	if !ok {
		return Verdict{}, fmt.Errorf("deployment %s/%s disappeared while watching its rollout", ns, name)
	}
	d := obj.(*appsv1.Deployment)
	rsObjs, podObjs := replicaSets.List(), pods.List()
	rss := make([]*appsv1.ReplicaSet, 0, len(rsObjs))
	for _, o := range rsObjs {
		rss = append(rss, o.(*appsv1.ReplicaSet))
	}
	ps := make([]corev1.Pod, 0, len(podObjs))
	for _, o := range podObjs {
		ps = append(ps, *o.(*corev1.Pod))
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
