package kube

import (
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"
)

func TestSeen(t *testing.T) {
	cases := []struct {
		name              string
		generation, least int64
		ok                bool
	}{
		{name: "the write's own generation", generation: 5, least: 5, ok: true},
		{name: "newer than the write", generation: 6, least: 5, ok: true},
		{name: "no floor", generation: 1, least: 0, ok: true},
		{name: "a copy from before the write", generation: 4, least: 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v, ok := seen(c.generation, c.least)
			if ok != c.ok {
				t.Fatalf("seen(%d, %d) = %v, want %v", c.generation, c.least, ok, c.ok)
			}
			if ok {
				return
			}
			if v.Done || v.Failure != "" || !strings.Contains(v.Progress, "generation 5 (it shows 4)") {
				t.Errorf("verdict %+v, want progress naming both generations and neither done nor failed", v)
			}
		})
	}
}

// TestEvaluateFromStoresStaleCopy is the race CI found: an informer's
// first list, served from the API server's watch cache, returned the
// Deployment as it was before the restore's patch, and the crash-looping
// pods of the failed ReplicaSet failed the restore.
func TestEvaluateFromStoresStaleCopy(t *testing.T) {
	const uid = types.UID("u1")
	isController := true
	owned := func(r *appsv1.ReplicaSet, rev string) *appsv1.ReplicaSet {
		r.Namespace = "production"
		r.Annotations = map[string]string{revisionAnnotation: rev}
		r.OwnerReferences = []metav1.OwnerReference{{UID: uid, Controller: &isController}}
		return r
	}
	failed := owned(rs("bad"), "4")
	crashing := pod("web-bad-1", "bad", waiting("web", "CrashLoopBackOff", 1))
	crashing.Namespace = "production"
	complete := appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1, ReadyReplicas: 1, AvailableReplicas: 1}

	cases := []struct {
		name    string
		d       *appsv1.Deployment
		least   int64
		done    bool
		failure bool
	}{
		{name: "before the restore: waits", d: deployment(4, 4, 1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}), least: 5},
		{name: "the same copy judged without a floor fails", d: deployment(4, 4, 1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}), least: 0, failure: true},
		{name: "before the release: not done", d: deployment(3, 3, 1, complete), least: 4},
		{name: "the release's own generation is judged", d: deployment(4, 4, 1, appsv1.DeploymentStatus{Replicas: 1, UpdatedReplicas: 1}), least: 4, failure: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.d.Namespace, c.d.UID = "production", uid
			c.d.Annotations[revisionAnnotation] = "4"
			if c.d.Generation == 3 {
				c.d.Annotations[revisionAnnotation] = "3"
			}
			stores := []cache.Store{cache.NewStore(cache.MetaNamespaceKeyFunc), cache.NewStore(cache.MetaNamespaceKeyFunc), cache.NewStore(cache.MetaNamespaceKeyFunc)}
			for i, o := range []any{c.d, failed, &crashing} {
				if err := stores[i].Add(o); err != nil {
					t.Fatal(err)
				}
			}
			v, err := evaluateFromStores(stores[0], stores[1], stores[2], "production", "web", c.least)
			if err != nil {
				t.Fatal(err)
			}
			if v.Done != c.done || (v.Failure != "") != c.failure {
				t.Errorf("verdict %+v, want done %v, failure %v", v, c.done, c.failure)
			}
		})
	}
}
