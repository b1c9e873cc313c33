package kube

import (
	"context"
	"errors"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestLeaseHeldBy(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		s    leaseState
		want string
	}{
		{leaseState{}, ""},
		{leaseState{holder: "a", renewed: now.Add(-10 * time.Second), ttl: 30 * time.Second}, "a"},
		{leaseState{holder: "a", renewed: now.Add(-30 * time.Second), ttl: 30 * time.Second}, ""}, // expired: taken over
		{leaseState{holder: "a", ttl: 30 * time.Second}, ""},                                      // never renewed
		{leaseState{holder: "", renewed: now, ttl: 30 * time.Second}, ""},                         // given up
	}
	for _, c := range cases {
		if got := c.s.heldBy(now); got != c.want {
			t.Errorf("%+v: held by %q, want %q", c.s, got, c.want)
		}
	}
}

func TestLeaseLocksAndKeepsTheRecord(t *testing.T) {
	ctx := context.Background()
	tg, cs := newFakeTarget(t, settled(false, corev1.Container{Name: "app", Image: "shop:v1"}), "", TargetOptions{LockTTL: time.Second})
	first := promote.RunInfo{ID: "run-1", URL: "https://ci/1"}
	l, rec, err := tg.Lock(ctx, first, 0)
	if err != nil || rec != nil {
		t.Fatalf("first lock: %v, record %+v", err, rec)
	}
	snap := promote.Snapshot{Seen: promote.Seen{Image: "shop:v1"}}
	if err := l.Save(ctx, promote.Record{Run: first, Image: "shop@sha256:x", Step: promote.StepReleased, Snapshot: &snap}); err != nil {
		t.Fatal(err)
	}
	// A second run is refused at once while the first one renews.
	_, _, err = tg.Lock(ctx, promote.RunInfo{ID: "run-2"}, 0)
	var le *promote.LockedError
	if !errors.As(err, &le) || le.Holder.URL != "https://ci/1" {
		t.Fatalf("second lock: %v, want a LockedError naming run-1's URL", err)
	}
	// It waits while run-1 is alive and renewing (three renewals).
	time.Sleep(1500 * time.Millisecond)
	if _, _, err := tg.Lock(ctx, promote.RunInfo{ID: "run-2"}, 0); !errors.As(err, &le) {
		t.Fatalf("a renewed lock was taken over: %v", err)
	}
	// run-1 dies (its renewals stop, it never unlocks): run-2 waits for
	// the lease to expire, takes it over and gets the unfinished record.
	k, ok := l.(*leaseLock)
	if !ok {
		t.Fatalf("lock is a %T", l)
	}
	close(k.stop)
	<-k.done
	start := time.Now()
	l2, rec, err := tg.Lock(ctx, promote.RunInfo{ID: "run-2"}, 5*time.Second)
	if err != nil || rec == nil || rec.Step != promote.StepReleased || rec.Run.ID != "run-1" {
		t.Fatalf("take over: %v, record %+v", err, rec)
	}
	if waited := time.Since(start); waited > 3*time.Second {
		t.Errorf("waited %s for a 1s lease", waited)
	}
	if err := l2.Save(ctx, promote.Record{Run: promote.RunInfo{ID: "run-2"}, Step: promote.StepDone}); err != nil {
		t.Fatal(err)
	}
	if err := l2.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	// Given up: the next run takes it at once, and a finished record is
	// no news.
	l3, rec, err := tg.Lock(ctx, promote.RunInfo{ID: "run-3"}, 0)
	if err != nil || rec != nil {
		t.Fatalf("after unlock: %v, record %+v", err, rec)
	}
	_ = l3.Unlock(ctx)
	lease, err := cs.CoordinationV1().Leases("shop").Get(ctx, LeaseName("web"), metav1.GetOptions{})
	if err != nil || lease.Annotations[recordAnnotation] == "" || lease.Spec.HolderIdentity != nil {
		t.Fatalf("lease after all runs: %v %+v", err, lease)
	}
}

func TestAdopt(t *testing.T) {
	tmpl := func(img string) corev1.PodTemplateSpec {
		return corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: img}}}}
	}
	st := snapshotState{Template: tmpl("shop:v1")}
	asked := changeState{Asked: tmpl("shop@sha256:new")}
	left := tmpl("shop@sha256:new")
	left.Labels = map[string]string{"defaulted": "by-server"}
	cases := []struct {
		name    string
		sameUID bool
		now     corev1.PodTemplateSpec
		ch      changeState
		want    promote.Found
	}{
		{"runs the snapshot", true, tmpl("shop:v1"), asked, promote.FoundSnapshot},
		{"runs the release asked for", true, tmpl("shop@sha256:new"), asked, promote.FoundChange},
		{"runs the release as answered", true, left, changeState{Asked: tmpl("shop@sha256:new"), Left: &left}, promote.FoundChange},
		{"runs someone else's", true, tmpl("shop:hotfix"), asked, promote.FoundOther},
		{"re-created", false, tmpl("shop:v1"), asked, promote.FoundOther},
	}
	for _, c := range cases {
		if got := adopt(c.sameUID, c.now, st, c.ch); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}
