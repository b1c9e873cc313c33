package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Workloads that Helm, Argo CD or Flux manage carry the labels and
// annotations their documentation gives; the tools themselves do not run
// here. ferry refuses them before any change, naming the owner, and
// patches them when FERRY_ON_OWNED=patch.
func TestOwnedWorkloadsRefusedThenPatchedOnRequest(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	owners := map[string]struct {
		labels, annotations map[string]string
		tool                string
	}{
		"helm": {labels: map[string]string{"app.kubernetes.io/managed-by": "Helm"},
			annotations: map[string]string{"meta.helm.sh/release-name": "shop", "meta.helm.sh/release-namespace": pns}, tool: "Helm (release " + pns + "/shop)"},
		"argo": {annotations: map[string]string{"argocd.argoproj.io/tracking-id": "shop:apps/Deployment:" + pns + "/argo"}, tool: "Argo CD"},
		"flux": {labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}, tool: "Flux (Kustomization flux-system/apps)"},
	}
	for name, o := range owners {
		d := create(t, production, pns, deploy{name: name, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
		d.Labels, d.Annotations = merge(d.Labels, o.labels), merge(d.Annotations, o.annotations)
		if _, err := production.Admin.AppsV1().Deployments(pns).Update(context.Background(), d, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(mutations(t, production, pns))
	src := "registry.test/shop@" + fakeDigest(t.Name())
	for name, o := range owners {
		e := baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, name, "production"))
		for _, cmd := range []string{"plan", "promote"} {
			r := ferry(t, e, cmd)
			out := r.stdout + r.stderr
			if r.code != 2 || !strings.Contains(out, "is managed by "+o.tool) || !strings.Contains(out, "FERRY_ON_OWNED=patch") {
				t.Fatalf("%s %s: want exit 2 naming %s and the way out\n%s", cmd, name, o.tool, r)
			}
		}
	}
	if got := len(mutations(t, production, pns)); got != before {
		t.Fatalf("refused promotions wrote %d times", got-before)
	}

	r := ferry(t, baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, "argo", "production"), "FERRY_ON_OWNED", "patch"), "promote")
	if r.code != 0 || !strings.Contains(r.stderr, "patching anyway") {
		t.Fatalf("FERRY_ON_OWNED=patch: want exit 0 and a warning\n%s", r)
	}
	if got := imageOf(get(t, production, pns, "argo"), "app"); got != src {
		t.Errorf("argo runs %s, want %s", got, src)
	}
	// status shows the owner.
	r = ferry(t, env{"KUBECONFIG": kubeconfigPath, "FERRY_TARGETS": target(pns, "flux", "production")}, "status")
	if r.code != 0 || !strings.Contains(r.stdout+r.stderr, "managed by Flux") {
		t.Fatalf("status: want the owner\n%s", r)
	}
}

func merge(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}
