package kube

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestFindSlots(t *testing.T) {
	spec := corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: "shop:v1"}},
		Containers:     []corev1.Container{{Name: "app", Image: "shop:v1"}, {Name: "sidecar", Image: "proxy:v1"}},
	}
	one := corev1.PodSpec{Containers: []corev1.Container{{Name: "app"}}}
	cases := []struct {
		name  string
		spec  corev1.PodSpec
		names []string
		want  []slot
		err   string
	}{
		{name: "the only container", spec: one, want: []slot{{Index: 0, Name: "app"}}},
		{name: "several, none named", spec: spec, err: "has 2 containers (app, sidecar, migrate (init)): add ?container=NAME"},
		{name: "one named", spec: spec, names: []string{"sidecar"}, want: []slot{{Index: 1, Name: "sidecar"}}},
		{name: "init and app containers", spec: spec, names: []string{"migrate", "app", "sidecar"},
			want: []slot{{Init: true, Index: 0, Name: "migrate"}, {Index: 0, Name: "app"}, {Index: 1, Name: "sidecar"}}},
		{name: "missing", spec: spec, names: []string{"app", "cron"}, err: `no container "cron" (it has: app, sidecar, migrate (init))`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := findSlots("deployment shop/web", c.spec, c.names)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) || !promote.IsInput(err) {
					t.Fatalf("err = %v, want input error with %q", err, c.err)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, c.want) {
				t.Fatalf("findSlots = %+v, %v; want %+v", got, err, c.want)
			}
		})
	}
}

func TestSeveralContainersOnePatch(t *testing.T) {
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{
		InitContainers: []corev1.Container{{Name: "migrate", Image: "shop:v1"}},
		Containers:     []corev1.Container{{Name: "app", Image: "shop:v1"}, {Name: "sidecar", Image: "proxy:v1"}},
	}}
	slots := []slot{{Init: true, Index: 0, Name: "migrate"}, {Index: 0, Name: "app"}}
	st := newState(tmpl, slots)
	if st.Container != 0 {
		t.Errorf("Container = %d, want the first app container's index", st.Container)
	}
	asked := st.asked("shop@sha256:1")
	if asked.Spec.InitContainers[0].Image != "shop@sha256:1" || asked.Spec.Containers[0].Image != "shop@sha256:1" || asked.Spec.Containers[1].Image != "proxy:v1" {
		t.Errorf("asked = %+v", asked.Spec)
	}
	if tmpl.Spec.Containers[0].Image != "shop:v1" {
		t.Error("asked changed the snapshot's template")
	}
	ops, _ := json.Marshal(imageOps(slots, "shop@sha256:1"))
	want := `[{"op":"test","path":"/spec/template/spec/initContainers/0/name","value":"migrate"},{"op":"test","path":"/spec/template/spec/containers/0/name","value":"app"},` +
		`{"op":"replace","path":"/spec/template/spec/initContainers/0/image","value":"shop@sha256:1"},{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"shop@sha256:1"}]`
	if string(ops) != want {
		t.Errorf("ops = %s\nwant %s", ops, want)
	}
	if got := seenImage(tmpl.Spec, slots); got != "shop:v1" {
		t.Errorf("seen = %q, want the one image both run", got)
	}
	if got := seenImage(tmpl.Spec, []slot{{Index: 0, Name: "app"}, {Index: 1, Name: "sidecar"}}); got != "app=shop:v1, sidecar=proxy:v1" {
		t.Errorf("seen = %q", got)
	}
	// A state written before several containers were possible still
	// names its one container.
	old := snapshotState{Template: tmpl, Container: 1}
	if got := old.slots(); !reflect.DeepEqual(got, []slot{{Index: 1, Name: "sidecar"}}) {
		t.Errorf("old state slots = %+v", got)
	}
}
