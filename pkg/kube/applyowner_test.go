package kube

import (
	"encoding/json"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// helmApplied are the fields Helm 4.3.1's `helm install` applied to the
// e2e chart's Deployment (e2e/testdata/charts/shop), as the API server
// recorded them.
const helmApplied = `{"f:metadata":{"f:annotations":{"f:meta.helm.sh/release-name":{},"f:meta.helm.sh/release-namespace":{}},"f:labels":{"f:app.kubernetes.io/instance":{},"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{}}},"f:spec":{"f:replicas":{},"f:selector":{},"f:template":{"f:metadata":{"f:labels":{"f:app":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:image":{},"f:name":{}}}}}}}`

// byController is kube-controller-manager's status entry beside it.
const byController = `{"f:metadata":{"f:annotations":{"f:deployment.kubernetes.io/revision":{}}},"f:status":{"f:replicas":{}}}`

func entry(manager string, op metav1.ManagedFieldsOperationType, sub, fields string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, APIVersion: "apps/v1",
		FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(fields)}
}

func helmMeta(managed ...metav1.ManagedFieldsEntry) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: "shop", Namespace: "prod", ResourceVersion: "42",
		Labels:        map[string]string{helmManagedBy: "Helm", argoInstance: "shop", "app.kubernetes.io/name": "shop"},
		Annotations:   map[string]string{helmReleaseName: "shop", helmReleaseNS: "prod", revisionAnnotation: "1"},
		ManagedFields: managed,
	}
}

func TestPlanApplyAsOwner(t *testing.T) {
	const (
		apply  = metav1.ManagedFieldsOperationApply
		update = metav1.ManagedFieldsOperationUpdate
	)
	app := []slot{{Index: 0, Name: "app"}}
	imageOnly := `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}}}}}}`
	noImage := strings.Replace(helmApplied, `"f:image":{},`, "", 1)
	cases := []struct {
		name  string
		m     metav1.ObjectMeta
		slots []slot
		want  string // the manager; "" = refused
		err   []string
	}{
		{name: "Helm 4 applied it", m: helmMeta(entry("helm", apply, "", helmApplied), entry("kube-controller-manager", update, "status", byController)),
			slots: app, want: "helm"},
		{name: "a scale by an autoscaler is another subresource", m: helmMeta(entry("helm", apply, "", helmApplied),
			entry("hpa", update, "scale", `{"f:spec":{"f:replicas":{}}}`)), slots: app, want: "helm"},
		{name: "no owner", m: metav1.ObjectMeta{Name: "shop", ManagedFields: []metav1.ManagedFieldsEntry{entry("kubectl", apply, "", helmApplied)}},
			slots: app, err: []string{"not managed by Helm", "unset FERRY_ON_OWNED"}},
		{name: "Argo CD", m: metav1.ObjectMeta{Annotations: map[string]string{argoTrackingID: "shop:apps/Deployment:prod/shop"},
			ManagedFields: []metav1.ManagedFieldsEntry{entry("argocd-controller", apply, "", helmApplied)}},
			slots: app, err: []string{"managed by Argo CD", "FERRY_ON_OWNED=patch"}},
		{name: "Helm 3: client-side, labels only", m: helmMeta(entry("helm", update, "", helmApplied)),
			slots: app, err: []string{"without server-side apply", `field manager "helm"`, "FERRY_ON_OWNED=patch"}},
		{name: "kubectl co-owns the image", m: helmMeta(entry("helm", apply, "", helmApplied), entry("kubectl", apply, "", imageOnly)),
			slots: app, err: []string{"container app", "kubectl (Apply)", "helm upgrade --force-conflicts"}},
		{name: "ferry's earlier patch took the image", m: helmMeta(entry("helm", apply, "", noImage), entry("ferry", update, "", imageOnly)),
			slots: app, err: []string{"no longer manages the image of container app", "ferry (Update)", "--force-conflicts"}},
		{name: "the chart does not set the image", m: helmMeta(entry("helm", apply, "", noImage)),
			slots: app, err: []string{"does not manage the image of container app"}},
		{name: "an init container the chart sets", m: helmMeta(entry("helm", apply, "",
			`{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{"f:image":{}}},"f:initContainers":{"k:{\"name\":\"migrate\"}":{"f:image":{}}}}}}}`)),
			slots: []slot{{Index: 0, Name: "app"}, {Init: true, Index: 0, Name: "migrate"}}, want: "helm"},
		{name: "an init container the chart does not set", m: helmMeta(entry("helm", apply, "", helmApplied)),
			slots: []slot{{Index: 0, Name: "app"}, {Init: true, Index: 0, Name: "migrate"}}, err: []string{"container migrate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := planApplyAsOwner("deployment prod/shop", ownerOf(c.m), c.m, c.slots)
			if got != c.want {
				t.Fatalf("manager = %q (err %v), want %q", got, err, c.want)
			}
			if c.want != "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !promote.IsInput(err) {
				t.Fatalf("err = %v, want an input error", err)
			}
			for _, w := range append(c.err, "deployment prod/shop") {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("err = %v\nwant %q in it", err, w)
				}
			}
		})
	}
}

// The apply ferry sends as Helm's manager holds every field Helm applied,
// at its current value, with only the image changed: an apply that left
// one out would delete it. Fields Helm does not own (the controller's
// revision, status, an extra label) are not in it.
func TestOwnedApplyKeepsEveryFieldHelmOwns(t *testing.T) {
	d := &appsv1.Deployment{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "Deployment"},
		ObjectMeta: helmMeta(entry("helm", metav1.ManagedFieldsOperationApply, "", helmApplied), entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", byController)),
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](3),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "shop"}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "shop"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.test/shop:v1",
					ImagePullPolicy: corev1.PullIfNotPresent}}},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: 3},
	}
	body, err := ownedApply(d, "helm", map[slot]string{{Index: 0, Name: "app"}: "registry.test/shop@sha256:abc"})
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "shop", "namespace": "prod", "resourceVersion": "42",
			"labels":      map[string]any{helmManagedBy: "Helm", argoInstance: "shop", "app.kubernetes.io/name": "shop"},
			"annotations": map[string]any{helmReleaseName: "shop", helmReleaseNS: "prod"}},
		"spec": map[string]any{
			"replicas": 3.0,
			"selector": map[string]any{"matchLabels": map[string]any{"app": "shop"}},
			"template": map[string]any{
				"metadata": map[string]any{"labels": map[string]any{"app": "shop"}},
				"spec": map[string]any{"containers": []any{map[string]any{
					"name": "app", "image": "registry.test/shop@sha256:abc"}}},
			},
		},
	}
	g, _ := json.MarshalIndent(got, "", " ")
	w, _ := json.MarshalIndent(want, "", " ")
	if string(g) != string(w) {
		t.Errorf("apply body:\n%s\nwant:\n%s", g, w)
	}
	if _, err := ownedApply(d, "helm", map[slot]string{{Init: true, Name: "migrate"}: "x"}); err == nil {
		t.Error("a container Helm does not own: want an error")
	}
}
