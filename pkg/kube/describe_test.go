package kube

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

var _ promote.Describer = (*Target)(nil)

// Describe tells a human what a Deployment runs, in any state, including
// those Snapshot refuses.
func TestDescribe(t *testing.T) {
	app := corev1.Container{Name: "app", Image: "ghcr.io/acme/shop@" + digestA}
	proxy := corev1.Container{Name: "proxy", Image: "envoy:1.30"}
	progressing := settled(false, app, proxy)
	progressing.Status.UpdatedReplicas = 1
	cases := []struct {
		name string
		d    func() *appsv1.Deployment
		want string
	}{
		{"rolled out", func() *appsv1.Deployment { return settled(false, app, proxy) },
			"app=ghcr.io/acme/shop@" + digestA + ", proxy=envoy:1.30 (revision 3, generation 4, rolled out)"},
		{"rolling out", func() *appsv1.Deployment { return progressing },
			"(revision 3, generation 4, rolling out: 1/2 updated"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tgt, _ := newFakeTarget(t, c.d(), "app", TargetOptions{})
			got, err := tgt.Describe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("Describe = %q, want it to contain %q", got, c.want)
			}
		})
	}
	// A Deployment that cannot be read is an error, not a guess.
	tgt, cs := newFakeTarget(t, settled(false, app), "", TargetOptions{})
	if err := cs.AppsV1().Deployments("shop").Delete(context.Background(), "web", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, err := tgt.Describe(context.Background()); err == nil {
		t.Errorf("Describe of a missing deployment = %q, want an error", got)
	}
}
