package kube

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

const digestM = "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

func pinned(t *testing.T, repo, digest string) image.Image {
	t.Helper()
	h, err := v1.NewHash(digest)
	if err != nil {
		t.Fatal(err)
	}
	return image.Image{Repository: repo, Digest: h}
}

func TestMapSlotsAndUpToDate(t *testing.T) {
	a, b := pinned(t, "ghcr.io/acme/shop", digestA), pinned(t, "ghcr.io/acme/proxy", digestM)
	imgs := map[string]image.Image{"app": a, "sidecar": b}
	slots := []slot{{Init: true, Index: 0, Name: "migrate"}, {Index: 0, Name: "app"}, {Index: 1, Name: "proxy"}}
	m := []promote.ContainerMap{{Container: "migrate", From: "app"}, {Container: "app", From: "app"}, {Container: "proxy", From: "sidecar"}}
	got, err := mapSlots(slots, m, imgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []slot{{Init: true, Index: 0, Name: "migrate", From: "app", Image: a.Ref()}, {Index: 0, Name: "app", From: "app", Image: a.Ref()}, {Index: 1, Name: "proxy", From: "sidecar", Image: b.Ref()}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("mapSlots = %+v\nwant %+v", got, want)
	}
	if slots[0].Image != "" {
		t.Error("mapSlots changed its argument")
	}
	if _, err := mapSlots(slots, m, map[string]image.Image{"app": a}); err == nil || !strings.Contains(err.Error(), `"sidecar"`) {
		t.Errorf("a source container without an image: err = %v", err)
	}
	if s := askedFor(got, ""); s != "migrate="+a.Ref()+", app="+a.Ref()+", proxy="+b.Ref() {
		t.Errorf("askedFor = %q", s)
	}
	if s := askedFor(slots, a.Ref()); s != a.Ref() {
		t.Errorf("askedFor without a mapping = %q", s)
	}
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: a.Ref()}},
		Containers:     []corev1.Container{{Name: "app", Image: a.Ref()}, {Name: "proxy", Image: "envoy:1.30"}},
	}
	if upToDate(spec, got, "") {
		t.Error("up to date while proxy runs envoy")
	}
	spec.Containers[1].Image = b.Ref()
	if !upToDate(spec, got, "") {
		t.Error("not up to date while every container runs its image")
	}
	if upToDate(spec, slots, "") {
		t.Error("up to date for no image")
	}
	if !upToDate(corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: a.Ref()}}}, []slot{{Name: "app"}}, a.Ref()) {
		t.Error("one container running the run's image is not up to date")
	}
}

// A mapped release: every container gets its own source image in one
// patch, from a snapshot that went through JSON (a Lease record), and a
// record without the release's answer is adopted.
func TestMappedReleaseFromARecordedSnapshot(t *testing.T) {
	a, b := pinned(t, "ghcr.io/acme/shop", digestA), pinned(t, "ghcr.io/acme/proxy", digestM)
	imgs := map[string]image.Image{"app": a, "sidecar": b}
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"}, corev1.Container{Name: "proxy", Image: "envoy:1.30"}, corev1.Container{Name: "log", Image: "fluent:1"})
	d.Spec.Template.Spec.InitContainers = []corev1.Container{{Name: "migrate", Image: "ghcr.io/acme/shop:v1"}}
	tg, cs := newFakeTarget(t, d, "migrate=app,app=app,proxy=sidecar", TargetOptions{ChangeCause: func(p string) string { return "because " + p }})
	ctx := context.Background()
	if got := tg.Mapping(); len(got) != 3 || got[2] != (promote.ContainerMap{Container: "proxy", From: "sidecar"}) {
		t.Fatalf("Mapping = %v", got)
	}
	snap, err := tg.SnapshotMapped(ctx, imgs)
	if err != nil {
		t.Fatal(err)
	}
	if snap.UpToDate {
		t.Fatal("up to date before the release")
	}
	raw, err := json.Marshal(snap)
	if err != nil {
		t.Fatal(err)
	}
	var back promote.Snapshot
	if err := json.Unmarshal(raw, &back); err != nil {
		t.Fatal(err)
	}
	if err := tg.Rehearse(ctx, back, image.Image{}); err != nil {
		t.Fatalf("rehearse: %v", err)
	}
	c, err := tg.Release(ctx, back, image.Image{})
	if err != nil {
		t.Fatal(err)
	}
	wantImage := "migrate=" + a.Ref() + ", app=" + a.Ref() + ", proxy=" + b.Ref()
	if c.Image != wantImage {
		t.Errorf("change image %q, want %q", c.Image, wantImage)
	}
	var patches int
	for _, act := range cs.Actions() {
		if act.GetVerb() == "patch" {
			patches++
		}
	}
	if patches != 2 { // the dry run and the release
		t.Errorf("%d patches, want the dry run and one release", patches)
	}
	got, err := cs.AppsV1().Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	spec := got.Spec.Template.Spec
	if spec.InitContainers[0].Image != a.Ref() || spec.Containers[0].Image != a.Ref() || spec.Containers[1].Image != b.Ref() || spec.Containers[2].Image != "fluent:1" {
		t.Errorf("after the release: init %+v, containers %+v", spec.InitContainers, spec.Containers)
	}
	if cc := got.Annotations[changeCauseAnnotation]; cc != "because "+wantImage {
		t.Errorf("change-cause %q", cc)
	}
	// A record written before the release answered has no change state:
	// Adopt rebuilds what it asked for from the snapshot alone.
	found, _, _, err := tg.Adopt(ctx, back, promote.Change{})
	if err != nil || found != promote.FoundChange {
		t.Errorf("Adopt = %v, %v; want the release found", found, err)
	}
	got.Status.ObservedGeneration = got.Generation
	if _, err := cs.AppsV1().Deployments("shop").UpdateStatus(ctx, got, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	again, err := tg.SnapshotMapped(ctx, imgs)
	if err != nil || !again.UpToDate {
		t.Fatalf("second snapshot %+v, %v: want up to date", again, err)
	}
}

// TestResolveContainersReadsOnce: a mapping's source containers are
// pinned from one read of the workload and one of its current pods, so
// that every image comes from the same state of it.
func TestResolveContainersReadsOnce(t *testing.T) {

	d := settled(false,
		corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:1"},
		corev1.Container{Name: "sidecar", Image: "ghcr.io/acme/proxy:2"})
	running := corev1.ContainerState{Running: &corev1.ContainerStateRunning{}}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "web-abc-1", Namespace: "shop", Labels: map[string]string{"app": "web", podTemplateHashLabel: "abc"}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{
			{Name: "app", State: running, ImageID: "ghcr.io/acme/shop@" + digestA},
			{Name: "sidecar", State: running, ImageID: "ghcr.io/acme/proxy@" + digestM},
		}},
	}
	cs := fake.NewClientset(d, replicaSetFor(d), p)
	clients := NewClients(Kubeconfig{})
	clients.Set("staging", clientsetAPI{cs})
	src := NewSource(clients, Ref{Address: "k8s:shop/web?context=staging", Context: "staging", Namespace: "shop", Name: "web"}, nil)

	imgs, err := src.ResolveContainers(context.Background(), []string{"sidecar", "app"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ghcr.io/acme/proxy@" + digestM, "ghcr.io/acme/shop@" + digestA}
	if len(imgs) != 2 || imgs[0].Ref() != want[0] || imgs[1].Ref() != want[1] {
		t.Errorf("images %v, want %v", imgs, want)
	}
	reads := map[string]int{}
	for _, a := range cs.Actions() {
		reads[a.GetVerb()+" "+a.GetResource().Resource]++
	}
	if reads["get deployments"] != 1 || reads["list pods"] != 1 || reads["list replicasets"] != 1 {
		t.Errorf("reads %v, want one read of the deployment, its replica sets and its pods", reads)
	}

	if _, err := src.ResolveContainers(context.Background(), []string{"app", "migrate"}); err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), `no container "migrate"`) {
		t.Errorf("a missing container: %v, want an input error naming it", err)
	}
}
