package kube

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	appsv1ac "k8s.io/client-go/applyconfigurations/apps/v1"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
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
		kind  string // "": a Deployment
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
		{name: "a Rollout Helm applied", kind: KindRollout, m: helmMeta(entry("helm", apply, "", helmApplied)),
			slots: app, err: []string{"is an Argo Rollout", "only Deployments, StatefulSets and DaemonSets", "FERRY_ON_OWNED=patch"}},
		{name: "an init container the chart does not set", m: helmMeta(entry("helm", apply, "", helmApplied)),
			slots: []slot{{Index: 0, Name: "app"}, {Init: true, Index: 0, Name: "migrate"}}, err: []string{"container migrate"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := planApplyAsOwner(c.kind, "deployment prod/shop", ownerOf(c.m), c.m, c.slots)
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
	body, err := ownedApply(deploymentWorkload(d), "helm", map[slot]string{{Index: 0, Name: "app"}: "registry.test/shop@sha256:abc"})
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
	if _, err := ownedApply(deploymentWorkload(d), "helm", map[slot]string{{Init: true, Name: "migrate"}: "x"}); err == nil {
		t.Error("a container Helm does not own: want an error")
	}
}

// richApplied are the fields Helm 4.3.1 applied for the chart
// e2e/testdata/charts/rich (keyed lists, atomic lists, maps, an init
// container), as the API server recorded them.
const richApplied = `{"f:metadata":{"f:annotations":{"f:example.com/team":{},"f:meta.helm.sh/release-name":{},"f:meta.helm.sh/release-namespace":{}},"f:labels":{"f:app.kubernetes.io/managed-by":{},"f:app.kubernetes.io/name":{}}},"f:spec":{"f:replicas":{},"f:revisionHistoryLimit":{},"f:selector":{},"f:strategy":{"f:rollingUpdate":{"f:maxSurge":{},"f:maxUnavailable":{}},"f:type":{}},"f:template":{"f:metadata":{"f:annotations":{"f:example.com/scrape":{}},"f:labels":{"f:app":{},"f:tier":{}}},"f:spec":{"f:containers":{"k:{\"name\":\"app\"}":{".":{},"f:args":{},"f:env":{"k:{\"name\":\"MODE\"}":{".":{},"f:name":{},"f:value":{}},"k:{\"name\":\"POD_NAME\"}":{".":{},"f:name":{},"f:valueFrom":{"f:fieldRef":{}}}},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":8080,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}},"k:{\"containerPort\":9090,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:name":{},"f:protocol":{}}},"f:readinessProbe":{"f:httpGet":{"f:path":{},"f:port":{}},"f:periodSeconds":{}},"f:resources":{"f:limits":{"f:memory":{}},"f:requests":{"f:cpu":{},"f:memory":{}}},"f:volumeMounts":{"k:{\"mountPath\":\"/cache\"}":{".":{},"f:mountPath":{},"f:name":{}},"k:{\"mountPath\":\"/etc/app\"}":{".":{},"f:mountPath":{},"f:name":{},"f:readOnly":{}}}},"k:{\"name\":\"sidecar\"}":{".":{},"f:image":{},"f:name":{},"f:ports":{"k:{\"containerPort\":15000,\"protocol\":\"TCP\"}":{".":{},"f:containerPort":{},"f:protocol":{}}}}},"f:imagePullSecrets":{"k:{\"name\":\"regcred\"}":{}},"f:initContainers":{"k:{\"name\":\"migrate\"}":{".":{},"f:args":{},"f:image":{},"f:name":{}}},"f:nodeSelector":{},"f:securityContext":{"f:runAsNonRoot":{},"f:runAsUser":{}},"f:tolerations":{},"f:volumes":{"k:{\"name\":\"cache\"}":{".":{},"f:emptyDir":{},"f:name":{}},"k:{\"name\":\"config\"}":{".":{},"f:configMap":{"f:name":{},"f:optional":{}},"f:name":{}}}}}}}`

// richDeployment is that chart's Deployment as the API server keeps it:
// defaults filled in, a status, the controller's annotation, and a field
// another manager set (the sidecar's pull policy).
func richDeployment() *appsv1.Deployment {
	port := func(name string, p int32) corev1.ContainerPort {
		return corev1.ContainerPort{Name: name, ContainerPort: p, Protocol: corev1.ProtocolTCP}
	}
	mount := func(name, path string, ro bool) corev1.VolumeMount {
		return corev1.VolumeMount{Name: name, MountPath: path, ReadOnly: ro}
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Name: "rich", Namespace: "prod", ResourceVersion: "77", Generation: 3,
			Labels:      map[string]string{helmManagedBy: "Helm", "app.kubernetes.io/name": "rich"},
			Annotations: map[string]string{"example.com/team": "payments", helmReleaseName: "rich", helmReleaseNS: "prod", revisionAnnotation: "2"},
			ManagedFields: []metav1.ManagedFieldsEntry{
				entry("helm", metav1.ManagedFieldsOperationApply, "", richApplied),
				entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, "", `{"f:spec":{"f:template":{"f:spec":{"f:containers":{"k:{\"name\":\"sidecar\"}":{"f:imagePullPolicy":{}}}}}}}`),
				entry("kube-controller-manager", metav1.ManagedFieldsOperationUpdate, "status", byController),
			},
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](2), RevisionHistoryLimit: ptr.To[int32](5), ProgressDeadlineSeconds: ptr.To[int32](600),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "rich"}},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0))}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "rich", "tier": "web"}, Annotations: map[string]string{"example.com/scrape": "true"}},
				Spec: corev1.PodSpec{
					NodeSelector:     map[string]string{"kubernetes.io/os": "linux"},
					Tolerations:      []corev1.Toleration{{Key: "dedicated", Operator: corev1.TolerationOpEqual, Value: "web", Effect: corev1.TaintEffectNoSchedule}},
					ImagePullSecrets: []corev1.LocalObjectReference{{Name: "regcred"}},
					SecurityContext:  &corev1.PodSecurityContext{RunAsNonRoot: ptr.To(true), RunAsUser: ptr.To[int64](1000)},
					RestartPolicy:    corev1.RestartPolicyAlways, DNSPolicy: corev1.DNSClusterFirst, SchedulerName: "default-scheduler",
					Volumes: []corev1.Volume{
						{Name: "cache", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
						{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
							LocalObjectReference: corev1.LocalObjectReference{Name: "rich-config"}, Optional: ptr.To(true), DefaultMode: ptr.To[int32](0o644)}}},
					},
					InitContainers: []corev1.Container{{Name: "migrate", Image: "registry.test/shop-migrate:v1", Args: []string{"migrate", "--up"},
						TerminationMessagePath: "/dev/termination-log", ImagePullPolicy: corev1.PullIfNotPresent}},
					Containers: []corev1.Container{
						{Name: "app", Image: "registry.test/shop:v1", Args: []string{"serve", "--port=8080"},
							Ports: []corev1.ContainerPort{port("http", 8080), port("metrics", 9090)},
							Env: []corev1.EnvVar{{Name: "MODE", Value: "production"},
								{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.name"}}}},
							Resources: corev1.ResourceRequirements{
								Requests: corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("100m"), corev1.ResourceMemory: resource.MustParse("64Mi")},
								Limits:   corev1.ResourceList{corev1.ResourceMemory: resource.MustParse("128Mi")}},
							ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/healthz", Port: intstr.FromString("http"), Scheme: corev1.URISchemeHTTP}},
								PeriodSeconds: 5, TimeoutSeconds: 1, SuccessThreshold: 1, FailureThreshold: 3},
							VolumeMounts:           []corev1.VolumeMount{mount("cache", "/cache", false), mount("config", "/etc/app", true)},
							TerminationMessagePath: "/dev/termination-log", ImagePullPolicy: corev1.PullIfNotPresent},
						{Name: "sidecar", Image: "registry.test/proxy:v1", Ports: []corev1.ContainerPort{port("", 15000)},
							TerminationMessagePath: "/dev/termination-log", ImagePullPolicy: corev1.PullAlways},
					},
				},
			},
		},
		Status: appsv1.DeploymentStatus{Replicas: 2, ReadyReplicas: 2},
	}
}

// ownedApply gives what client-go's Extract functions give (the
// reference for "the fields a manager owns"), for every kind, with the
// images changed and the resourceVersion added.
func TestOwnedApplyIsClientGosExtract(t *testing.T) {
	app, migrate := slot{Index: 0, Name: "app"}, slot{Init: true, Index: 0, Name: "migrate"}
	imgs := map[slot]string{app: "registry.test/shop@sha256:abc", migrate: "registry.test/shop@sha256:abc"}
	d := richDeployment()
	s := &appsv1.StatefulSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.StatefulSetSpec{Replicas: d.Spec.Replicas, Selector: d.Spec.Selector, Template: d.Spec.Template, ServiceName: "rich"}}
	ds := &appsv1.DaemonSet{ObjectMeta: d.ObjectMeta, Spec: appsv1.DaemonSetSpec{Selector: d.Spec.Selector, Template: d.Spec.Template}}
	setImages := func(tmpl *corev1ac.PodTemplateSpecApplyConfiguration) {
		tmpl.Spec.Containers[0].WithImage(imgs[app])
		tmpl.Spec.InitContainers[0].WithImage(imgs[migrate])
	}
	cases := []struct {
		name string
		w    *workload
		want func() (any, error)
	}{
		{"deployment", deploymentWorkload(d), func() (any, error) {
			c, err := appsv1ac.ExtractDeployment(d, "helm")
			if err == nil {
				setImages(c.Spec.Template)
				c.WithResourceVersion(d.ResourceVersion)
			}
			return c, err
		}},
		{"statefulset", statefulSetWorkload(s), func() (any, error) {
			c, err := appsv1ac.ExtractStatefulSet(s, "helm")
			if err == nil {
				setImages(c.Spec.Template)
				c.WithResourceVersion(s.ResourceVersion)
			}
			return c, err
		}},
		{"daemonset", daemonSetWorkload(ds), func() (any, error) {
			c, err := appsv1ac.ExtractDaemonSet(ds, "helm")
			if err == nil {
				setImages(c.Spec.Template)
				c.WithResourceVersion(ds.ResourceVersion)
			}
			return c, err
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := c.want()
			if err != nil {
				t.Fatal(err)
			}
			body, err := ownedApply(c.w, "helm", imgs)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(want)
			var g, w any
			if err := json.Unmarshal(body, &g); err != nil {
				t.Fatal(err)
			}
			_ = json.Unmarshal(wantJSON, &w)
			if !reflect.DeepEqual(g, w) {
				t.Errorf("ownedApply:\n%s\nclient-go's Extract:\n%s", body, wantJSON)
			}
		})
	}
}

// helmTarget is a fake target whose Deployment Helm 4 applied.
func helmTarget(t *testing.T) (*Target, *fake.Clientset) {
	t.Helper()
	d := settled(false, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	d.Annotations[helmReleaseName], d.ResourceVersion = "web", "10"
	d.ManagedFields = []metav1.ManagedFieldsEntry{entry("helm", metav1.ManagedFieldsOperationApply, "", helmApplied)}
	return newFakeTarget(t, d, "", TargetOptions{OnOwned: ApplyAsOwner})
}

// applies are the server-side applies the fake saw, as their managers.
func applies(cs *fake.Clientset) []string {
	var out []string
	for _, a := range cs.Actions() {
		if p, ok := a.(k8stesting.PatchAction); ok && p.GetPatchType() == types.ApplyPatchType {
			out = append(out, p.GetResource().Resource)
		}
	}
	return out
}

// A release under ApplyAsOwner: a stale resourceVersion (a status update
// in between) is read again and applied once more; a conflict with
// another manager is not retried and names the way out; a Deployment
// whose generation moved since the snapshot gets no apply at all.
func TestReleaseAsOwner(t *testing.T) {
	img := promoted(t)
	stale := apierrors.NewConflict(appsv1.Resource("deployments"), "web", errors.New("the object has been modified"))
	owned := &apierrors.StatusError{ErrStatus: metav1.Status{Status: metav1.StatusFailure, Code: 409, Reason: metav1.StatusReasonConflict,
		Message: `Apply failed with 1 conflict: conflict with "kubectl": .spec.template.spec.containers[name="app"].image`,
		Details: &metav1.StatusDetails{Causes: []metav1.StatusCause{{Type: metav1.CauseTypeFieldManagerConflict, Field: ".spec.template.spec.containers[name=\"app\"].image"}}}}}
	cases := []struct {
		name    string
		answers []error // the fake's answers to successive applies; nil lets it through
		bump    bool    // the generation moves after the snapshot
		applies int
		err     string
	}{
		{name: "applied", applies: 1},
		{name: "stale resourceVersion read again", answers: []error{stale, stale}, applies: 3},
		{name: "conflict with another manager", answers: []error{owned}, applies: 1, err: "--force-conflicts"},
		{name: "generation moved", bump: true, applies: 0, err: "changed since ferry read it"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tg, cs := helmTarget(t)
			s, err := tg.Snapshot(t.Context(), img)
			if err != nil {
				t.Fatal(err)
			}
			if st, _ := promote.DecodeState[snapshotState](s.State); st.ApplyAs != "helm" {
				t.Fatalf("snapshot applies as %q, want helm", st.ApplyAs)
			}
			if c.bump {
				d, _ := cs.AppsV1().Deployments("shop").Get(t.Context(), "web", metav1.GetOptions{})
				d.Generation++
				if _, err := cs.AppsV1().Deployments("shop").Update(t.Context(), d, metav1.UpdateOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			answerApplies(cs, img.Ref(), c.answers)
			_, err = tg.Release(t.Context(), s, img)
			if got := len(applies(cs)); got != c.applies {
				t.Errorf("%d applies, want %d", got, c.applies)
			}
			switch {
			case c.err == "" && err != nil:
				t.Fatal(err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("err = %v, want %q in it", err, c.err)
			}
		})
	}
}

// answerApplies makes cs answer its server-side applies of deployment
// shop/web with answers, then by applying them; an apply that does not
// set the image to ref at resourceVersion 10 is an error.
func answerApplies(cs *fake.Clientset, ref string, answers []error) {
	n := 0
	cs.PrependReactor("patch", "deployments", func(a k8stesting.Action) (bool, runtime.Object, error) {
		p, _ := a.(k8stesting.PatchAction)
		if p.GetPatchType() != types.ApplyPatchType {
			return true, nil, fmt.Errorf("a %s patch under ApplyAsOwner", p.GetPatchType())
		}
		var body appsv1.Deployment
		if err := json.Unmarshal(p.GetPatch(), &body); err != nil || body.Spec.Template.Spec.Containers[0].Image != ref || body.ResourceVersion != "10" {
			return true, nil, fmt.Errorf("apply body %s (%v)", p.GetPatch(), err)
		}
		n++
		if n <= len(answers) {
			return true, nil, answers[n-1]
		}
		d, _ := cs.Tracker().Get(appsv1.SchemeGroupVersion.WithResource("deployments"), "shop", "web")
		out, _ := d.(*appsv1.Deployment)
		out = out.DeepCopy()
		out.Spec.Template.Spec.Containers[0].Image, out.Generation = ref, out.Generation+1
		return true, out, nil
	})
}

// ApplyAsOwner writes only images, so it cannot unpause: a paused
// Deployment is refused even with OnPaused=resume.
func TestApplyAsOwnerRefusesPaused(t *testing.T) {
	d := settled(true, corev1.Container{Name: "app", Image: "ghcr.io/acme/shop:v1"})
	d.Annotations[helmReleaseName] = "web"
	d.ManagedFields = []metav1.ManagedFieldsEntry{entry("helm", metav1.ManagedFieldsOperationApply, "", helmApplied)}
	tg, cs := newFakeTarget(t, d, "", TargetOptions{OnOwned: ApplyAsOwner, OnPaused: Resume})
	_, err := tg.Snapshot(t.Context(), promoted(t))
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "is paused") || !strings.Contains(err.Error(), "resume it first") {
		t.Fatalf("err = %v, want an input error saying to resume it first", err)
	}
	if n := len(applies(cs)); n != 0 {
		t.Errorf("%d applies", n)
	}
}

// An apply as the owner writes what a release would: a mapped container
// takes the image its mapping names, the others the promoted one.
func TestImagesForFollowsAMapping(t *testing.T) {
	app, proxy := slot{Index: 0, Name: "app"}, slot{Index: 1, Name: "proxy", From: "sidecar", Image: "ghcr.io/acme/proxy@" + digestM}
	got := imagesFor([]slot{app, proxy}, "ghcr.io/acme/shop@"+digestA)
	want := map[slot]string{app: "ghcr.io/acme/shop@" + digestA, proxy: "ghcr.io/acme/proxy@" + digestM}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("imagesFor = %v\nwant %v", got, want)
	}
}

// applyAsOwner reads and applies a StatefulSet and a DaemonSet through
// their own clients, as the manager that owns their images, and returns
// the generation and template the API server answered.
func TestApplyAsOwnerKinds(t *testing.T) {
	meta := metav1.ObjectMeta{Name: "web", Namespace: "shop", UID: "u1", Generation: 4, ResourceVersion: "10",
		ManagedFields: []metav1.ManagedFieldsEntry{entry("helm", metav1.ManagedFieldsOperationApply, "", helmApplied)}}
	tmpl := corev1.PodTemplateSpec{Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "ghcr.io/acme/shop:v1"}}}}
	cases := []struct {
		kind, resource string
		obj            runtime.Object
	}{
		{KindStatefulSet, "statefulsets", &appsv1.StatefulSet{ObjectMeta: meta, Spec: appsv1.StatefulSetSpec{Template: tmpl}}},
		{KindDaemonSet, "daemonsets", &appsv1.DaemonSet{ObjectMeta: meta, Spec: appsv1.DaemonSetSpec{Template: tmpl}}},
	}
	ref := promoted(t).Ref()
	for _, c := range cases {
		t.Run(c.kind, func(t *testing.T) {
			cs := fake.NewClientset(c.obj)
			var applied []string
			cs.PrependReactor("patch", "*", func(a k8stesting.Action) (bool, runtime.Object, error) {
				p, _ := a.(k8stesting.PatchActionImpl)
				applied = append(applied, p.GetResource().Resource+" "+string(p.GetPatchType())+" "+p.GetPatchOptions().FieldManager)
				var body struct {
					Spec struct{ Template corev1.PodTemplateSpec } `json:"spec"`
				}
				if err := json.Unmarshal(p.GetPatch(), &body); err != nil || len(body.Spec.Template.Spec.Containers) != 1 || body.Spec.Template.Spec.Containers[0].Image != ref {
					return true, nil, fmt.Errorf("apply body %s (%v)", p.GetPatch(), err)
				}
				out := c.obj.DeepCopyObject()
				switch o := out.(type) {
				case *appsv1.StatefulSet:
					o.Generation, o.Spec.Template = 5, body.Spec.Template
				case *appsv1.DaemonSet:
					o.Generation, o.Spec.Template = 5, body.Spec.Template
				}
				return true, out, nil
			})
			tg := NewTarget(NewClients(Kubeconfig{}), Ref{Address: "k8s:shop/" + c.kind + "/web", Namespace: "shop", Name: "web", Kind: c.kind}, TargetOptions{OnOwned: ApplyAsOwner})
			st := snapshotState{UID: "u1", Kind: c.kind, ApplyAs: "helm", Template: tmpl}
			gen, got, err := tg.applyAsOwner(t.Context(), clientsetAPI{cs}, st, 4, map[slot]string{{Name: "app"}: ref}, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := []string{c.resource + " " + string(types.ApplyPatchType) + " helm"}; !reflect.DeepEqual(applied, want) {
				t.Errorf("patches %q, want %q", applied, want)
			}
			if gen != 5 || got.Spec.Containers[0].Image != ref {
				t.Errorf("generation %d, image %s: want the answer's 5 and %s", gen, got.Spec.Containers[0].Image, ref)
			}
		})
	}
}
