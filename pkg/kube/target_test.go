package kube

import (
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

const digestA = "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

func settled(paused bool, containers ...corev1.Container) *appsv1.Deployment {
	replicas := int32(2)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "uid-1", Generation: 4,
			Annotations: map[string]string{revisionAnnotation: "3"}},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas, Paused: paused,
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}},
				Spec:       corev1.PodSpec{Containers: containers},
			},
		},
		Status: appsv1.DeploymentStatus{ObservedGeneration: 4, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 2, AvailableReplicas: 2},
	}
}

func replicaSetFor(d *appsv1.Deployment) *appsv1.ReplicaSet {
	yes := true
	return &appsv1.ReplicaSet{ObjectMeta: metav1.ObjectMeta{
		Name: "web-abc", Namespace: d.Namespace, Labels: map[string]string{"app": "web", podTemplateHashLabel: "abc"},
		Annotations:     map[string]string{revisionAnnotation: "3"},
		OwnerReferences: []metav1.OwnerReference{{UID: d.UID, Controller: &yes, Kind: "Deployment", Name: d.Name}},
	}}
}

func newFakeTarget(t *testing.T, d *appsv1.Deployment, container string, opts TargetOptions) (*Target, *fake.Clientset) {
	t.Helper()
	cs := fake.NewClientset(d, replicaSetFor(d))
	clients := NewClients(Kubeconfig{})
	clients.Set("prod", clientsetAPI{cs})
	r := Ref{Address: "k8s:shop/web?context=prod", Context: "prod", Namespace: "shop", Name: "web", Container: container}
	return NewTarget(clients, r, opts), cs
}

func promoted(t *testing.T) image.Image {
	t.Helper()
	h, err := v1.NewHash(digestA)
	if err != nil {
		t.Fatal(err)
	}
	return image.Image{Repository: "ghcr.io/acme/shop", Digest: h}
}

func TestSnapshotRefusals(t *testing.T) {
	app := corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"}
	proxy := corev1.Container{Name: "proxy", Image: "envoy:1.30"}
	progressing := settled(false, app)
	progressing.Status.UpdatedReplicas = 1
	cases := []struct {
		name      string
		d         *appsv1.Deployment
		container string
		opts      TargetOptions
		want      string
	}{
		{"paused", settled(true, app), "", TargetOptions{}, "FERRY_ON_PAUSED=resume"},
		{"progressing", progressing, "", TargetOptions{}, "FERRY_ON_PROGRESSING=wait"},
		{"ambiguous container", settled(false, app, proxy), "", TargetOptions{}, "has 2 containers (app, proxy): add ?container=NAME"},
		{"missing container", settled(false, app, proxy), "sidecar", TargetOptions{}, `no container "sidecar" (it has: app, proxy)`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg, cs := newFakeTarget(t, c.d, c.container, c.opts)
			_, err := tg.Snapshot(context.Background(), promoted(t))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want %q", err, c.want)
			}
			if !promote.IsInput(err) {
				t.Errorf("want an input error (exit 2), got %T", err)
			}
			for _, a := range cs.Actions() {
				if a.GetVerb() != "get" && a.GetVerb() != "list" {
					t.Errorf("snapshot wrote: %v", a)
				}
			}
		})
	}
}

func TestReleaseChangesOnlyTheNamedContainer(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"}, corev1.Container{Name: "proxy", Image: "envoy:1.30"})
	tg, cs := newFakeTarget(t, d, "app", TargetOptions{ChangeCause: func(promoted string) string { return "because " + promoted }})
	ctx := context.Background()
	img := promoted(t)
	snap, err := tg.Snapshot(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if snap.UpToDate || snap.Image != "ghcr.io/acme/shop:v1" || snap.Revision != "3" {
		t.Fatalf("snapshot %+v", snap)
	}
	if _, err := tg.Release(ctx, snap, img); err != nil {
		t.Fatal(err)
	}
	got, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if c := got.Spec.Template.Spec.Containers; c[0].Image != img.Ref() || c[1].Image != "envoy:1.30" {
		t.Errorf("containers after release: %+v", c)
	}
	if cc := got.Annotations[changeCauseAnnotation]; cc != "because "+img.Ref() {
		t.Errorf("change-cause %q", cc)
	}
	if got.Annotations[revisionAnnotation] != "3" {
		t.Errorf("other annotations lost: %v", got.Annotations)
	}
	// Now it runs the image: a new snapshot says so.
	got.Status.ObservedGeneration = got.Generation
	if _, err := cs.AppsV1().Deployments("shop").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := tg.Snapshot(ctx, img)
	if err != nil || !again.UpToDate {
		t.Fatalf("second snapshot %+v, %v: want up to date", again, err)
	}
}

func TestReleaseRefusesADeploymentChangedSinceTheSnapshot(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	tg, cs := newFakeTarget(t, d, "", TargetOptions{})
	ctx := context.Background()
	snap, err := tg.Snapshot(ctx, promoted(t))
	if err != nil {
		t.Fatal(err)
	}
	// Someone else rolls out in between.
	other := d.DeepCopy()
	other.Generation = 5
	other.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/shop:hotfix"
	if _, err := cs.AppsV1().Deployments("shop").Update(ctx, other, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = tg.Release(ctx, snap, promoted(t))
	if err == nil || !strings.Contains(err.Error(), "changed since ferry read it") {
		t.Fatalf("err = %v", err)
	}
	got, _ := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if img := got.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/acme/shop:hotfix" {
		t.Fatalf("someone else's change was overwritten: %s", img)
	}
}

func TestRestoreLeavesSomeoneElsesChangeAlone(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
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
	got, _ := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	got.Generation = 6
	got.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/shop:hotfix"
	if _, err := cs.AppsV1().Deployments("shop").Update(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	err = tg.Restore(ctx, snap, change)
	if err == nil || !strings.Contains(err.Error(), "not overwriting someone else's change") || !strings.Contains(err.Error(), "shop:hotfix") {
		t.Fatalf("err = %v", err)
	}
}

func TestRestoreWhenTheReleaseNeverLanded(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	tg, cs := newFakeTarget(t, d, "", TargetOptions{})
	ctx := context.Background()
	snap, err := tg.Snapshot(ctx, promoted(t))
	if err != nil {
		t.Fatal(err)
	}
	n := len(cs.Actions())
	if err := tg.Restore(ctx, snap, promote.Change{}); err != nil {
		t.Fatal(err)
	}
	for _, a := range cs.Actions()[n:] {
		if a.GetVerb() == "patch" || a.GetVerb() == "update" {
			t.Errorf("restore of an unchanged deployment wrote: %v", a)
		}
	}
}

// Two ferry runs at once: the second one's release fails its generation
// test, and its restore must not put back its (stale) snapshot over the
// first run's release.
func TestRestoreAfterAReleaseThatLostTheRace(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	tg, cs := newFakeTarget(t, d, "", TargetOptions{})
	ctx := context.Background()
	snap, err := tg.Snapshot(ctx, promoted(t))
	if err != nil {
		t.Fatal(err)
	}
	first := d.DeepCopy()
	first.Generation = 5
	first.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/shop@" + digestA
	if _, err := cs.AppsV1().Deployments("shop").Update(ctx, first, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	other := promoted(t)
	other.Digest.Hex = strings.Repeat("b", 64)
	change, err := tg.Release(ctx, snap, other)
	if err == nil {
		t.Fatal("release over a changed deployment succeeded")
	}
	n := len(cs.Actions())
	if err := tg.Restore(ctx, snap, change); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, a := range cs.Actions()[n:] {
		if a.GetVerb() == "patch" || a.GetVerb() == "update" {
			t.Errorf("restore overwrote the other run's release: %v", a)
		}
	}
}
