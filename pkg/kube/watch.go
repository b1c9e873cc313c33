package kube

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	appslisters "k8s.io/client-go/listers/apps/v1"
	corelisters "k8s.io/client-go/listers/core/v1"
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
func waitRollout(ctx context.Context, cs kubernetes.Interface, ns, name string, logf func(format string, args ...any)) error {
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment: %w", err)
	}
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return fmt.Errorf("deployment selector: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	byName := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.FieldSelector = "metadata.name=" + name }))
	bySelector := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = sel.String() }))
	deploys := byName.Apps().V1().Deployments()
	replicaSets := bySelector.Apps().V1().ReplicaSets()
	pods := bySelector.Core().V1().Pods()

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
	for _, inf := range []cache.SharedIndexInformer{deploys.Informer(), replicaSets.Informer(), pods.Informer()} {
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watching rollout: %w", err)
		}
		_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			mu.Lock()
			watchErr = err
			mu.Unlock()
		})
	}
	byName.Start(ctx.Done())
	bySelector.Start(ctx.Done())
	defer byName.Shutdown()
	defer bySelector.Shutdown()
	defer cancel() // runs before Shutdown, which waits for the informers to stop

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
			synced = deploys.Informer().HasSynced() && replicaSets.Informer().HasSynced() && pods.Informer().HasSynced()
		}
		if synced {
			v, err := evaluateFromListers(deploys.Lister().Deployments(ns), replicaSets.Lister(), pods.Lister(), ns, name, sel)
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

func evaluateFromListers(deploys appslisters.DeploymentNamespaceLister, rsl appslisters.ReplicaSetLister, pl corelisters.PodLister, ns, name string, sel labels.Selector) (Verdict, error) {
	d, err := deploys.Get(name)
	if err != nil {
		return Verdict{}, fmt.Errorf("deployment %s/%s disappeared while watching its rollout: %w", ns, name, err)
	}
	rss, err := rsl.ReplicaSets(ns).List(sel)
	if err != nil {
		return Verdict{}, err
	}
	ps, err := pl.Pods(ns).List(sel)
	if err != nil {
		return Verdict{}, err
	}
	return Evaluate(d, currentReplicaSet(d, rss), derefPods(ps)), nil
}

func derefPods(ps []*corev1.Pod) []corev1.Pod {
	out := make([]corev1.Pod, 0, len(ps))
	for _, p := range ps {
		out = append(out, *p)
	}
	return out
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
