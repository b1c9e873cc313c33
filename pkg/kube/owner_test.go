package kube

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestOwnerOf(t *testing.T) {
	applied := func(manager string) []metav1.ManagedFieldsEntry {
		return []metav1.ManagedFieldsEntry{{Manager: manager, Operation: metav1.ManagedFieldsOperationApply}}
	}
	cases := []struct {
		name string
		m    metav1.ObjectMeta
		want string // owner.String(); "" = none
		does string
	}{
		{name: "nobody", m: metav1.ObjectMeta{Labels: map[string]string{"app": "web"}}},
		{name: "kubectl apply is nobody's", m: metav1.ObjectMeta{ManagedFields: applied("kubectl")}},
		{name: "an update by helm is not an apply", m: metav1.ObjectMeta{ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "helm", Operation: metav1.ManagedFieldsOperationUpdate}}}},
		{name: "Helm 3 labels and annotations", m: metav1.ObjectMeta{
			Labels:      map[string]string{helmManagedBy: "Helm", argoInstance: "shop"},
			Annotations: map[string]string{helmReleaseName: "shop", helmReleaseNS: "prod"}},
			want: "Helm (release prod/shop)", does: "the next helm upgrade puts the chart's image back"},
		{name: "Helm label only", m: metav1.ObjectMeta{Labels: map[string]string{helmManagedBy: "Helm", argoInstance: "shop"}},
			want: "Helm (release shop)"},
		{name: "Helm 4 server-side apply", m: metav1.ObjectMeta{
			Annotations: map[string]string{helmReleaseName: "shop"}, ManagedFields: applied("helm")},
			want: "Helm (release shop)", does: "field-manager conflict"},
		{name: "Argo CD annotation wins over the Helm marks of a rendered chart", m: metav1.ObjectMeta{
			Labels:      map[string]string{helmManagedBy: "Helm"},
			Annotations: map[string]string{argoTrackingID: "shop:apps/Deployment:prod/web", helmReleaseName: "shop"}},
			want: "Argo CD (application shop:apps/Deployment:prod/web)", does: "self-heal"},
		{name: "Argo CD tracking label", m: metav1.ObjectMeta{Labels: map[string]string{argoInstance: "shop-prod"}},
			want: "Argo CD (application shop-prod)"},
		{name: "Flux Kustomization", m: metav1.ObjectMeta{Labels: map[string]string{fluxKustomization: "apps", fluxKustomizeNS: "flux-system"}},
			want: "Flux (Kustomization flux-system/apps)", does: "reconciliation"},
		{name: "Flux HelmRelease wins over Helm's marks", m: metav1.ObjectMeta{
			Labels:      map[string]string{fluxHelmRelease: "shop", fluxHelmReleaseNS: "prod", helmManagedBy: "Helm"},
			Annotations: map[string]string{helmReleaseName: "prod-shop"}},
			want: "Flux (HelmRelease prod/shop)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := ownerOf(c.m)
			got := ""
			if o != nil {
				got = o.String()
			}
			if got != c.want {
				t.Fatalf("owner = %q, want %q", got, c.want)
			}
			if o != nil && !strings.Contains(o.Does, c.does) {
				t.Errorf("does = %q, want %q in it", o.Does, c.does)
			}
		})
	}
}

func TestOwnedDeploymentRefusedUnlessPatch(t *testing.T) {
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	d.Annotations[argoTrackingID] = "shop:apps/Deployment:shop/web"
	tg, _ := newFakeTarget(t, d, "", TargetOptions{})
	img := promoted(t)
	_, err := tg.Snapshot(t.Context(), img)
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "managed by Argo CD") || !strings.Contains(err.Error(), "FERRY_ON_OWNED=patch") {
		t.Fatalf("err = %v, want an input error naming Argo CD and the setting", err)
	}
	tg, _ = newFakeTarget(t, d, "", TargetOptions{OnOwned: Patch})
	if _, err := tg.Snapshot(t.Context(), img); err != nil {
		t.Fatalf("with OnOwned=patch: %v", err)
	}
}
