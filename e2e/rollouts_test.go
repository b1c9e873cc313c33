package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Argo Rollouts' Rollouts run under Argo Rollouts' real controller,
// built from the module proxy at testenv.ArgoRolloutsVersion by
// hack/build-tool.sh (hack/tools/argo-rollouts pins it) and started
// against both clusters; kwok plays the kubelet of their pods.

var argo struct {
	once        sync.Once
	controllers []*testenv.ArgoRolloutsController
	err         error
}

// argoRollouts starts Argo Rollouts' controller on staging and production
// once (stopped by stopArgoRollouts after the run).
func argoRollouts(t *testing.T) {
	t.Helper()
	argo.once.Do(func() {
		start := time.Now()
		bin, err := testenv.BuildTool(context.Background(), "argo-rollouts")
		if err != nil {
			argo.err = err
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, c := range []*testenv.Cluster{staging, production} {
			a, err := c.StartArgoRollouts(ctx, bin)
			if err != nil {
				argo.err = err
				return
			}
			argo.controllers = append(argo.controllers, a)
		}
		t.Logf("argo rollouts controllers ready in %s", time.Since(start).Round(time.Millisecond))
	})
	if argo.err != nil {
		t.Fatalf("starting Argo Rollouts' controller %s: %v", testenv.ArgoRolloutsVersion, argo.err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, a := range argo.controllers {
				t.Logf("argo rollouts controller log %s (exited: %v), last lines:\n%s", a.Log, a.Exited(), a.Tail(40))
			}
		}
	})
}

// stopArgoRollouts stops the controllers argoRollouts started.
func stopArgoRollouts() error {
	var errs []error
	for _, a := range argo.controllers {
		errs = append(errs, a.Stop())
	}
	return errors.Join(errs...)
}

var kubeRollouts = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}

func rolloutClient(c *testenv.Cluster, ns string) dynamic.ResourceInterface {
	dc := dynamic.NewForConfigOrDie(c.AdminConfig())
	return dc.Resource(kubeRollouts).Namespace(ns)
}

// createRollout makes a canary Rollout of replicas pods whose steps are
// carried out by the controller (50 %, a one-second pause, then all),
// and waits until the controller reports it Healthy.
func createRollout(t *testing.T, c *testenv.Cluster, ns, name string, replicas int32, tmpl corev1.PodTemplateSpec) *kube.Rollout {
	t.Helper()
	return createRolloutWith(t, c, ns, name, replicas, tmpl, []any{
		map[string]any{"setWeight": int64(50)},
		map[string]any{"pause": map[string]any{"duration": "1s"}},
	})
}

// createRolloutWith is createRollout with the canary's steps.
func createRolloutWith(t *testing.T, c *testenv.Cluster, ns, name string, replicas int32, tmpl corev1.PodTemplateSpec, steps []any) *kube.Rollout {
	t.Helper()
	tm, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tmpl)
	if err != nil {
		t.Fatal(err)
	}
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1",
		"kind":       "Rollout",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"replicas": int64(replicas),
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": tm,
			"strategy": map[string]any{"canary": map[string]any{"steps": steps}},
		},
	}}
	if _, err := rolloutClient(c, ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating rollout %s/%s: %v", ns, name, err)
	}
	return waitRolloutHealthy(t, c, ns, name)
}

func getRollout(t *testing.T, c *testenv.Cluster, ns, name string) *kube.Rollout {
	t.Helper()
	u, err := rolloutClient(c, ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading rollout %s/%s: %v", ns, name, err)
	}
	var r kube.Rollout
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

// waitRolloutHealthy polls until the controller reports the Rollout
// Healthy on its current pod hash, which is stable (kube.EvaluateRollout
// without pods: what the controller says).
func waitRolloutHealthy(t *testing.T, c *testenv.Cluster, ns, name string) *kube.Rollout {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		r := getRollout(t, c, ns, name)
		if kube.EvaluateRollout(r, nil).Done {
			return r
		}
		if time.Now().After(deadline) {
			st, _ := json.Marshal(r.Status)
			t.Fatalf("rollout %s/%s not Healthy after 60s: %s", ns, name, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rolloutPodImages maps the Rollout's live pods to their pod hash and
// first container's image.
func rolloutPodImages(t *testing.T, c *testenv.Cluster, ns, app string) map[string]string {
	t.Helper()
	pods, err := c.Admin.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Labels["rollouts-pod-template-hash"] + " " + p.Spec.Containers[0].Image
		}
	}
	return out
}

// onlyPodsOf fails unless every live pod of the Rollout runs hash.
func onlyPodsOf(t *testing.T, c *testenv.Cluster, ns, app, hash string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		pods := rolloutPodImages(t, c, ns, app)
		ok := len(pods) > 0
		for _, v := range pods {
			ok = ok && strings.HasPrefix(v, hash+" ")
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods of rollout %s/%s: %v, want all on pod hash %s", ns, app, pods, hash)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// rolloutBackOn waits until the controller reports production's Rollout
// web in ns Healthy again and fails unless it is back on want: want's
// template, want's stable ReplicaSet current, not aborted, and only its
// pods live.
func rolloutBackOn(t *testing.T, ns string, want *kube.Rollout) {
	t.Helper()
	after := waitRolloutHealthy(t, production, ns, "web")
	if !equality.Semantic.DeepEqual(after.Spec.Template, want.Spec.Template) {
		t.Errorf("template not restored:\nwant %+v\ngot  %+v", want.Spec.Template, after.Spec.Template)
	}
	if after.Status.StableRS != want.Status.StableRS || after.Status.CurrentPodHash != want.Status.StableRS || after.Status.Abort || after.Status.Phase != kube.RolloutHealthy {
		t.Errorf("controller reports %+v, want Healthy on stable %s and not aborted", after.Status, want.Status.StableRS)
	}
	onlyPodsOf(t, production, ns, "web", want.Status.StableRS)
}

// A Rollout in staging is the source, a Rollout in production the target:
// the controller carries the canary through its steps to Healthy on the
// source's digest. A second promotion whose pods crash-loop is aborted as
// `kubectl argo rollouts abort` does and its template put back exactly;
// the controller reports the stable template Healthy again, not aborted.
func TestRolloutPromotedFromRolloutAndAbortedOnFailure(t *testing.T) {
	t.Parallel()
	argoRollouts(t)
	sns := namespace(t, staging)
	digest := fakeDigest(t.Name())
	createRollout(t, staging, sns, "web", 1, podTemplate("web",
		[]corev1.Container{container("app", "registry.test/shop:v2")},
		map[string]string{"imageid.testenv.ferry.dev/app": "registry.test/shop@" + digest}))

	pns := namespace(t, production)
	before := createRollout(t, production, pns, "web", 2, podTemplate("web",
		[]corev1.Container{container("app", "registry.test/shop:v1")}, nil))
	tgt := "k8s:" + pns + "/rollout/web?context=production"
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/ro/web?context=staging", "FERRY_TARGETS", tgt, "FERRY_OUTPUT", "json")

	// plan rehearses the release: access reviews and a dry-run patch,
	// and writes nothing.
	if r := ferry(t, e, "plan"); r.code != 0 || !strings.Contains(r.stdout+r.stderr, "dry run") {
		t.Fatalf("plan: want exit 0 and the dry run\n%s", r)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("plan wrote: %v", m)
	}

	r := ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	want := "registry.test/shop@" + digest
	if rep := r.report(t); rep.Outcome != promote.OutcomePromoted || rep.Image != want {
		t.Fatalf("report: %q %q, want promoted %s\n%s", rep.Outcome, rep.Image, want, r)
	}
	promoted := waitRolloutHealthy(t, production, pns, "web")
	if got := promoted.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Fatalf("rollout runs %s, want %s", got, want)
	}
	if promoted.Status.StableRS == before.Status.StableRS {
		t.Fatalf("the controller's stable ReplicaSet is still %s", promoted.Status.StableRS)
	}
	onlyPodsOf(t, production, pns, "web", promoted.Status.StableRS)
	if _, err := production.Admin.CoordinationV1().Leases(pns).Get(context.Background(), kube.LeaseNameFor(kube.KindRollout, "web"), metav1.GetOptions{}); err != nil {
		t.Errorf("no lease ferry.rollout.web: %v", err)
	}
	if r := ferry(t, env{"KUBECONFIG": kubeconfigPath, "FERRY_TARGETS": tgt}, "status"); r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "rollout") {
		t.Fatalf("status: want the rollout on %s\n%s", want, r)
	}

	start := time.Now()
	r = ferry(t, e.with("FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()+"bad")), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	for _, s := range []string{"CrashLoopBackOff", "aborted the rollout"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the failed run does not say %q\n%s", s, r)
		}
	}
	t.Logf("failed promotion aborted and restored in %s", time.Since(start).Round(time.Millisecond))
	rolloutBackOn(t, pns, promoted)
}

// A run killed while the controller rolls a Rollout out leaves its
// record on the Lease ferry.rollout.NAME; ferry recover aborts the
// rollout and puts the template back, and the controller brings the
// stable one back Healthy. The source is a Deployment.
func TestRolloutKilledMidRolloutIsRecovered(t *testing.T) {
	t.Parallel()
	argoRollouts(t)
	sns := namespace(t, staging)
	digest := fakeDigest(t.Name())
	create(t, staging, sns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop-slowready:v3")},
		podAnnotations: map[string]string{"imageid.testenv.ferry.dev/app": "registry.test/shop-slowready@" + digest}})

	pns := namespace(t, production)
	// New pods become ready 30 s after they start: the kill lands while
	// the controller waits for the canary.
	before := createRollout(t, production, pns, "web", 2, podTemplate("web",
		[]corev1.Container{container("app", "registry.test/shop:v1")},
		map[string]string{"slowready.testenv.ferry.dev/delay": "30s"}))
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", "k8s:"+pns+"/rollout/web?context=production", "FERRY_LOCK_TTL", "2s")
	img := "registry.test/shop-slowready@" + digest
	killAt(t, e, "verify: waiting")

	if left := recordOf(t, pns, kube.KindRollout, "web"); !left.Step.Unfinished() || left.Snapshot == nil || left.Image != img {
		t.Fatalf("the killed run left %+v, want an unfinished record of %s with its snapshot", left, img)
	}
	if mid := getRollout(t, production, pns, "web"); mid.Spec.Template.Spec.Containers[0].Image != img {
		t.Fatalf("the killed run had not changed the rollout: it runs %s", mid.Spec.Template.Spec.Containers[0].Image)
	}
	start := time.Now()
	r := ferry(t, e, "recover")
	if r.code != 0 || !strings.Contains(r.stderr, "recover: found an unfinished promotion of "+img) || !strings.Contains(r.stderr, "aborted the rollout") {
		t.Fatalf("recover: want exit 0, what it found, and the abort\n%s", r)
	}
	t.Logf("recovered in %s", time.Since(start).Round(time.Millisecond))
	rolloutBackOn(t, pns, before)
	if rec := recordOf(t, pns, kube.KindRollout, "web"); rec.Step != promote.StepDone {
		t.Errorf("the record after recover is at %s, want done", rec.Step)
	}
}

// A canary that pauses without a duration waits for someone to promote
// it: ferry says so before its release, waits up to FERRY_TIMEOUT, and
// when nobody promotes it, aborts the rollout and restores the template.
func TestRolloutPausedIndefinitelyTimesOutAndIsRestored(t *testing.T) {
	t.Parallel()
	argoRollouts(t)
	pns := namespace(t, production)
	before := createRolloutWith(t, production, pns, "web", 2, podTemplate("web",
		[]corev1.Container{container("app", "registry.test/shop:v1")}, nil),
		[]any{map[string]any{"setWeight": int64(50)}, map[string]any{"pause": map[string]any{}}})
	start := time.Now()
	r := ferry(t, baseEnv().with("FERRY_SOURCE", "registry.test/shop@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", "k8s:"+pns+"/rollout/web?context=production", "FERRY_TIMEOUT", "4s"), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	for _, s := range []string{"pauses without a duration at step [2]", "paused: waiting for the controller to resume it", "timed out after 4s", "aborted the rollout"} {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("the run does not say %q\n%s", s, r)
		}
	}
	t.Logf("timed out and restored in %s", time.Since(start).Round(time.Millisecond))
	rolloutBackOn(t, pns, before)
}

// plan and promote ask RBAC for every call a Rollout's release and
// restore make: without patch on rollouts/status (the restore's abort)
// both refuse with exit 2, naming it, before any write.
func TestRolloutPlanCatchesAForbiddenAbort(t *testing.T) {
	t.Parallel()
	argoRollouts(t)
	pns := namespace(t, production)
	createRollout(t, production, pns, "web", 1, podTemplate("web", []corev1.Container{container("app", "registry.test/shop:v1")}, nil))
	if _, err := kubeauth.Grant(context.Background(), production, pns, kubeauth.User("ferry-no-abort"), []rbacv1.PolicyRule{
		{APIGroups: []string{"argoproj.io"}, Resources: []string{"rollouts"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "update", "create"}},
	}); err != nil {
		t.Fatal(err)
	}
	kc := writeFile(t, "kubeconfig", testenv.Kubeconfig(map[string]*testenv.Cluster{"production": production}, testenv.Impersonate("ferry-no-abort")))
	e := env{
		"KUBECONFIG":    kc,
		"FERRY_SOURCE":  "registry.test/shop@" + fakeDigest(t.Name()),
		"FERRY_TARGETS": "k8s:" + pns + "/rollout/web?context=production",
	}
	for _, cmd := range []string{"plan", "promote"} {
		r := ferry(t, e, cmd)
		out := r.stdout + r.stderr
		if r.code != 2 || !strings.Contains(out, "ferry may not patch rollouts.argoproj.io/status web in namespace "+pns) {
			t.Fatalf("%s: want exit 2 naming only the refused patch of rollouts/status in %s\n%s", cmd, pns, r)
		}
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused plan and promote wrote: %v", m)
	}
	if w := leaseWrites(t, production, pns); len(w) != 0 {
		t.Fatalf("refused promote tried to take a lock: %v", w)
	}
}
