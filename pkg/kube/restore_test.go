package kube

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestPlanRestore(t *testing.T) {
	app := func(img string) corev1.Container { return corev1.Container{Name: "app", Image: img} }
	before := settled(false, app("shop:v1"))
	st := snapshotState{UID: before.UID, Generation: before.Generation, Template: before.Spec.Template}
	asked := *before.Spec.Template.DeepCopy()
	asked.Spec.Containers[0].Image = "shop@sha256:new"
	// now is the Deployment as it is at restore time.
	now := func(gen int64, img string, mutate ...func(*corev1.PodTemplateSpec)) *appsv1.Deployment {
		d := settled(false, app(img))
		d.Generation = gen
		for _, m := range mutate {
			m(&d.Spec.Template)
		}
		return d
	}
	cases := []struct {
		name string
		d    *appsv1.Deployment
		ch   changeState
		want restoreStep
	}{
		{"release never landed", now(4, "shop:v1"), changeState{Asked: asked}, restoreNothing},
		{"ours landed, answer seen", now(5, "shop@sha256:new"), changeState{Asked: asked, Left: &asked, Generation: 5}, restorePatch},
		{"ours landed, answer lost", now(5, "shop@sha256:new"), changeState{Asked: asked}, restorePatch},
		{"ours lost, someone else changed it", now(5, "shop:hotfix"), changeState{Asked: asked}, restoreLeave},
		{"someone else changed it after us", now(6, "shop:hotfix"), changeState{Asked: asked, Left: &asked, Generation: 5}, restoreRefuse},
		{"scaled after us (same template)", now(6, "shop@sha256:new"), changeState{Asked: asked, Left: &asked, Generation: 5}, restorePatch},
		{"template already back", now(6, "shop:v1"), changeState{Asked: asked, Left: &asked, Generation: 5}, restoreWait},
		{"someone changed a label after us", now(6, "shop@sha256:new", func(p *corev1.PodTemplateSpec) { p.Labels["x"] = "y" }),
			changeState{Asked: asked, Left: &asked, Generation: 5}, restoreRefuse},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := planRestore(c.d, st, c.ch)
			if got.step != c.want {
				t.Errorf("step %d (%s), want %d", got.step, got.why, c.want)
			}
		})
	}
	recreated := settled(false, app("shop:v1"))
	recreated.UID = "uid-2"
	if got := planRestore(recreated, st, changeState{}); got.step != restoreRefuse {
		t.Errorf("a re-created deployment: step %d (%s), want refuse", got.step, got.why)
	}
}

// A snapshot and a change written down as JSON and read back restore a
// Deployment through another Target value, as another process would.
func TestRestoreFromValuesReadBack(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	d.Annotations[changeCauseAnnotation] = "release 41"
	tg, cs := newFakeTarget(t, d, "", TargetOptions{})
	ctx := context.Background()
	snap, err := tg.Snapshot(ctx, promoted(t))
	if err != nil {
		t.Fatal(err)
	}
	change, err := tg.Release(ctx, snap, promoted(t))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal([]any{snap, change})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Snap   promote.Snapshot
		Change promote.Change
	}
	var parts []json.RawMessage
	if err := json.Unmarshal(b, &parts); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(parts[0], &back.Snap); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(parts[1], &back.Change); err != nil {
		t.Fatal(err)
	}
	// The fake API server does not bump generations: do what the real
	// one does to the release.
	got, _ := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	got.Generation++
	if _, err := cs.AppsV1().Deployments("shop").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// Nor does it run the deployment controller, so the restore's wait
	// for the rollout cannot end here (the e2e tests see it end): the
	// patch is what this test is about.
	other := NewTarget(tg.clients, tg.ref, TargetOptions{})
	wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := other.Restore(wctx, back.Snap, back.Change); err == nil || !strings.Contains(err.Error(), "waiting for the restored template to roll out") {
		t.Fatalf("restore from values read back: %v, want it to get as far as waiting for the rollout", err)
	}
	got, _ = cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/acme/shop:v1" {
		t.Errorf("restored image %s", img)
	}
	if cc := got.Annotations[changeCauseAnnotation]; cc != "release 41" {
		t.Errorf("restored change-cause %q", cc)
	}
}
