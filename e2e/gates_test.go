package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Waves, metric gates and the soak, against a real Prometheus (Debian's
// package, see hack/install-deps.sh) scraping a test exporter whose
// values the tests change while ferry runs.

// gateLab is one test's Prometheus and exporter.
type gateLab struct {
	prom *testenv.Prometheus
	exp  *testenv.Exporter
}

func startGateLab(t *testing.T, gauges map[string]float64) gateLab {
	t.Helper()
	e, err := testenv.StartExporter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	for k, v := range gauges {
		e.Set(k, v)
	}
	p, err := testenv.StartPrometheus(context.Background(), t.TempDir(), e.Addr)
	if err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return gateLab{prom: p, exp: e}
}

// errorRateGate is FERRY_GATES with one prometheus metric.
func errorRateGate(address, extra string) string {
	return fmt.Sprintf(`- name: error-rate
  interval: 2s
  count: 3
  successCondition: result[0] < 0.01
%s  provider:
    prometheus:
      address: %s
      query: max(errors_ratio{app="web"})
`, extra, address)
}

// wavedProduction makes web-a (wave 1) and web-b (wave 2), each in a
// namespace of its own so that the audit log tells them apart.
func wavedProduction(t *testing.T) (nsA, nsB string, before map[string]*appsv1.Deployment, rs map[string]string) {
	t.Helper()
	nsA, nsB = namespace(t, production), namespace(t, production)
	before, rs = map[string]*appsv1.Deployment{}, map[string]string{}
	for n, ns := range map[string]string{"web-a": nsA, "web-b": nsB} {
		before[n] = create(t, production, ns, deploy{name: n, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
		rs[n] = activeReplicaSet(t, production.Admin, before[n]).Name
	}
	return nsA, nsB, before, rs
}

func measured(g promote.GateResult) string {
	var p []string
	for _, m := range g.Measurements {
		p = append(p, m.Phase)
	}
	return strings.Join(p, ",")
}

func TestTwoWavesPassTheirGates(t *testing.T) {
	t.Parallel()
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.002})
	sns, digest := stagingApp(t, "registry.test/shop", "v8")
	nsA, nsB, _, _ := wavedProduction(t)
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(nsA, "web-a", "production")+"  # wave 1: the canary\n---\n"+target(nsB, "web-b", "production"),
		"FERRY_GATES", errorRateGate(lab.prom.URL, ""),
		"FERRY_SOAK", "2s",
	), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	rep := r.report(t)
	if len(rep.Waves) != 2 {
		t.Fatalf("waves %+v", rep.Waves)
	}
	for _, w := range rep.Waves {
		if w.Status != promote.WavePassed || len(w.Gates) != 1 || measured(w.Gates[0]) != "Successful,Successful,Successful" || time.Duration(w.Soak) < 2*time.Second {
			t.Errorf("wave %d: %+v", w.Wave, w)
		}
		if v := w.Gates[0].Measurements[0].Value; v != "[0.002]" {
			t.Errorf("wave %d measured %s, want [0.002]", w.Wave, v)
		}
	}
	if rep.Targets[0].Wave != 1 || rep.Targets[1].Wave != 2 {
		t.Errorf("targets %+v", rep.Targets)
	}
	// Wave 2 started only after wave 1's gate: its first write comes
	// after wave 1's last measurement.
	last := rep.Waves[0].Gates[0].Measurements[2].At
	for _, m := range mutations(t, production, nsB) {
		if m.Time.Before(last) {
			t.Errorf("wave 2 was written at %s, before wave 1's gate ended (%s)", m.Time, last)
		}
	}
	for _, ns := range []string{nsA, nsB} {
		for _, n := range []string{"web-a", "web-b"} {
			if d, err := production.Admin.AppsV1().Deployments(ns).Get(context.Background(), n, metav1.GetOptions{}); err == nil && imageOf(d, "app") != "registry.test/shop@"+digest {
				t.Errorf("%s/%s runs %s", ns, n, imageOf(d, "app"))
			}
		}
	}
}

func TestGateFailsOnTheThirdMeasurementAndEveryWaveIsRestored(t *testing.T) {
	t.Parallel()
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.002})
	sns, _ := stagingApp(t, "registry.test/shop", "v9")
	nsA, nsB, before, rs := wavedProduction(t)
	cmd, out, errb := ferryCmd(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(nsA, "web-a", "production")+"\n---\n"+target(nsB, "web-b", "production"),
		"FERRY_GATES", errorRateGate(lab.prom.URL, ""),
	), "promote")
	// The error rate rises after wave 2's second measurement.
	startUntil(t, cmd, errb, "gate error-rate (wave 2): measurement 2:", 2*time.Minute)
	lab.exp.Set(`errors_ratio{app="web"}`, 0.2)
	r := wait(t, cmd, out, errb)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	rep := r.report(t)
	g := rep.Waves[1].Gates[0]
	if rep.Waves[0].Status != promote.WavePassed || rep.Waves[1].Status != promote.WaveFailed ||
		g.Phase != "Failed" || measured(g) != "Successful,Successful,Failed" || g.Measurements[2].Value != "[0.2]" {
		t.Fatalf("waves %+v", rep.Waves)
	}
	for i, n := range []string{"web-a", "web-b"} {
		if rep.Targets[i].Status != promote.StatusRestored {
			t.Errorf("%s: %+v", n, rep.Targets[i])
		}
		assertRestored(t, before[n], rs[n])
	}
	if g.Message != "failed (1) > failureLimit (0)" || !strings.Contains(r.stderr, "failed (1) > failureLimit (0)") {
		t.Errorf("the report does not say which limit decided: %q", g.Message)
	}
}

func TestFirstWaveFailsSecondIsNeverTouched(t *testing.T) {
	t.Parallel()
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.5})
	sns, _ := stagingApp(t, "registry.test/shop", "v10")
	nsA, nsB, before, rs := wavedProduction(t)
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(nsA, "web-a", "production")+"\n---\n"+target(nsB, "web-b", "production"),
		"FERRY_GATES", errorRateGate(lab.prom.URL, ""),
	), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	rep := r.report(t)
	if rep.Waves[0].Status != promote.WaveFailed || rep.Waves[1].Status != promote.WaveNotReached || measured(rep.Waves[0].Gates[0]) != "Failed" {
		t.Fatalf("waves %+v", rep.Waves)
	}
	if rep.Targets[0].Status != promote.StatusRestored || rep.Targets[1].Status != promote.StatusSkipped {
		t.Fatalf("targets %+v", rep.Targets)
	}
	assertRestored(t, before["web-a"], rs["web-a"])
	if m := mutations(t, production, nsB); len(m) != 0 {
		t.Fatalf("wave 2 was touched: %v", m)
	}
}

func TestInconclusiveGateRestores(t *testing.T) {
	t.Parallel()
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.03})
	sns, _ := stagingApp(t, "registry.test/shop", "v11")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production"),
		"FERRY_GATES", errorRateGate(lab.prom.URL, "  failureCondition: result[0] > 0.05\n"),
	), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	rep := r.report(t)
	if g := rep.Waves[0].Gates[0]; g.Phase != "Inconclusive" || measured(g) != "Inconclusive" || g.Message != "inconclusive (1) > inconclusiveLimit (0)" {
		t.Fatalf("gate %+v", g)
	}
	assertRestored(t, before, rs)
}

func TestGateProviderDownIsAnErrorNeverAPass(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + l.Addr().String()
	l.Close()
	sns, _ := stagingApp(t, "registry.test/shop", "v12")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production"),
		"FERRY_GATES", strings.Replace(errorRateGate(down, "  consecutiveErrorLimit: 2\n"), "interval: 2s", "interval: 200ms", 1),
	), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	g := r.report(t).Waves[0].Gates[0]
	if g.Phase != "Error" || measured(g) != "Error,Error,Error" || !strings.Contains(g.Measurements[0].Error, "could not reach the provider") {
		t.Fatalf("gate %+v", g)
	}
	assertRestored(t, before, rs)
}

func TestCrashDuringTheSoakRestores(t *testing.T) {
	t.Parallel()
	sns, _ := stagingApp(t, "registry.test/shop", "v13")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	cmd, out, errb := ferryCmd(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production"),
		"FERRY_SOAK", "3m",
	), "promote")
	startUntil(t, cmd, errb, "soak: 3m0s", 2*time.Minute)
	// A pod of the new ReplicaSet starts crash-looping, as a kubelet
	// reports it.
	ctx := context.Background()
	d := get(t, production, pns, "web")
	newRS := activeReplicaSet(t, production.Admin, d)
	pods, err := production.Admin.CoreV1().Pods(pns).List(ctx, metav1.ListOptions{LabelSelector: "pod-template-hash=" + newRS.Labels["pod-template-hash"]})
	if err != nil || len(pods.Items) == 0 {
		t.Fatalf("pods of %s: %v (%d)", newRS.Name, err, len(pods.Items))
	}
	p := pods.Items[0]
	p.Status.ContainerStatuses[0].LastTerminationState = corev1.ContainerState{Terminated: &corev1.ContainerStateTerminated{ExitCode: 137, Reason: "Error"}}
	crashLoop(t, &p)
	start := time.Now()
	r := wait(t, cmd, out, errb)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	if d := time.Since(start); d > time.Minute {
		t.Errorf("the crash ended the 3m soak only after %s", d)
	}
	rep := r.report(t)
	tr := rep.Targets[0]
	if tr.Status != promote.StatusRestored || !strings.Contains(tr.Error, "after its verification") || !strings.Contains(tr.Error, "CrashLoopBackOff") {
		t.Fatalf("target %+v", tr)
	}
	if rep.Waves[0].Status != promote.WaveFailed || time.Duration(rep.Waves[0].Soak) >= 3*time.Minute {
		t.Errorf("wave %+v", rep.Waves[0])
	}
	assertRestored(t, before, rs)
}

// crashLoop reports p's first container crash-looping, as a kubelet
// would: not ready, restarted once, waiting in CrashLoopBackOff.
func crashLoop(t *testing.T, p *corev1.Pod) {
	t.Helper()
	p.Status.ContainerStatuses[0].Ready = false
	p.Status.ContainerStatuses[0].RestartCount = 1
	p.Status.ContainerStatuses[0].State = corev1.ContainerState{Waiting: &corev1.ContainerStateWaiting{Reason: "CrashLoopBackOff", Message: "back-off 10s restarting failed container"}}
	if _, err := production.Admin.CoreV1().Pods(p.Namespace).UpdateStatus(context.Background(), p, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("making %s crash: %v", p.Name, err)
	}
}

func TestBadGatesAndEmptyWavesChangeNothing(t *testing.T) {
	t.Parallel()
	sns, _ := stagingApp(t, "registry.test/shop", "v14")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	writes := len(mutations(t, production, pns))
	for name, kv := range map[string][]string{
		"bad condition": {"FERRY_TARGETS", target(pns, "web", "production"), "FERRY_GATES", errorRateGate("http://127.0.0.1:1", "  failureCondition: result[0] >\n")},
		"bad query":     {"FERRY_TARGETS", target(pns, "web", "production"), "FERRY_GATES", strings.Replace(errorRateGate("http://127.0.0.1:1", ""), `max(errors_ratio{app="web"})`, `max(errors_ratio{app="web"}`, 1)},
		"unsupported":   {"FERRY_TARGETS", target(pns, "web", "production"), "FERRY_GATES", "- name: dd\n  provider:\n    datadog:\n      query: avg:errors\n"},
		"empty wave":    {"FERRY_TARGETS", target(pns, "web", "production") + "\n---\n"},
	} {
		r := ferry(t, baseEnv().with(append([]string{"FERRY_SOURCE", "k8s:" + sns + "/web?context=staging"}, kv...)...), "promote")
		if r.code != 2 || r.report(t).Outcome != promote.OutcomeBadInput {
			t.Errorf("%s: want exit 2\n%s", name, r)
		}
	}
	if got := len(mutations(t, production, pns)); got != writes {
		t.Fatalf("bad input wrote %d times to production", got-writes)
	}
}

func TestVersionAwareHealthRejectsAnOldPodsAnswer(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v15")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	var shown atomic.Pointer[string]
	old := "sha256:" + strings.Repeat("0", 64)
	shown.Store(&old) // what the old pods run
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Version", *shown.Load())
		fmt.Fprintln(w, "ok")
	}))
	defer srv.Close()
	e := baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production")+"&health="+srv.URL+"/healthz",
		"FERRY_HEALTH_VERSION", "header:X-Version",
		"FERRY_HEALTH_INTERVAL", "200ms",
		"FERRY_HEALTH_TIMEOUT", "10s",
	)
	// Old pods answer 200 with their own version: not healthy.
	r := ferry(t, e, "promote")
	if r.code != 1 || !strings.Contains(r.report(t).Targets[0].Error, "not the promoted version") {
		t.Fatalf("want exit 1 with the old version rejected\n%s", r)
	}
	assertRestored(t, before, rs)

	// The new pods answer with the promoted digest's short form.
	_, hex, _ := strings.Cut(digest, ":")
	short := hex[:12]
	shown.Store(&short)
	if r := ferry(t, e, "promote"); r.code != 0 {
		t.Fatalf("want exit 0 once the promoted version answers\n%s", r)
	}
}

// argoOnce installs Argo Rollouts' analysis CRDs into production once.
var argoOnce struct {
	sync.Once
	err error
}

func installArgoCRDs(t *testing.T) {
	t.Helper()
	argoOnce.Do(func() {
		ctx := context.Background()
		crds, err := testenv.ArgoRolloutsCRDs(ctx)
		if err == nil {
			err = production.InstallCRDs(ctx, crds)
		}
		argoOnce.err = err
	})
	if argoOnce.err != nil {
		t.Fatalf("installing Argo Rollouts %s CRDs: %v", testenv.ArgoRolloutsVersion, argoOnce.err)
	}
}

func TestAnalysisTemplateWithArgsFromTheCluster(t *testing.T) {
	t.Parallel()
	installArgoCRDs(t)
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.002, `errors_ratio{app="api"}`: 0.5})
	sns, _ := stagingApp(t, "registry.test/shop", "v16")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	dc, err := dynamic.NewForConfig(production.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	var tmpl map[string]any
	if err := yaml.Unmarshal([]byte(fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: AnalysisTemplate
metadata:
  name: error-rate
spec:
  args:
    - name: app
    - name: prometheus
      value: %s
  metrics:
    - name: errors
      interval: 1s
      count: 2
      successCondition: result[0] < 0.01
      provider:
        prometheus:
          address: "{{args.prometheus}}"
          query: max(errors_ratio{app="{{args.app}}"})
`, lab.prom.URL)), &tmpl); err != nil {
		t.Fatal(err)
	}
	gvr := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysistemplates"}
	if _, err := dc.Resource(gvr).Namespace(pns).Create(context.Background(), &unstructured.Unstructured{Object: tmpl}, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating the AnalysisTemplate: %v", err)
	}
	gates := func(app string) string {
		return fmt.Sprintf("- templateRef:\n    name: error-rate\n    namespace: %s\n    context: production\n    args:\n      - {name: app, value: %s}\n", pns, app)
	}
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", target(pns, "web", "production"))

	// The template's metric with app=web passes.
	r := ferry(t, e.with("FERRY_GATES", gates("web")), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	g := r.report(t).Waves[0].Gates[0]
	if g.Gate != "error-rate/errors" || g.Phase != "Successful" || measured(g) != "Successful,Successful" || g.Measurements[0].Value != "[0.002]" {
		t.Fatalf("gate %+v", g)
	}

	// A ClusterAnalysisTemplate with a web metric and a job metric: the job
	// provider is refused as unsupported (exit 2), never skipped; without
	// it, the web metric gates the promotion (already promoted: unchanged,
	// but a gate still runs after the wave).
	stats := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, `{"data":{"errorRate":0.001}}`)
	}))
	defer stats.Close()
	cgvr := schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "clusteranalysistemplates"}
	for name, extra := range map[string]string{
		"web-errors-" + pns: "",
		"with-job-" + pns:   "\n    - name: load\n      provider:\n        job:\n          spec:\n            template:\n              spec:\n                restartPolicy: Never\n                containers: [{name: load, image: load-tester}]",
	} {
		var ct map[string]any
		if err := yaml.Unmarshal([]byte(fmt.Sprintf(`apiVersion: argoproj.io/v1alpha1
kind: ClusterAnalysisTemplate
metadata:
  name: %s
spec:
  args:
    - name: url
  metrics:
    - name: errors
      successCondition: result < 0.01
      provider:
        web:
          url: "{{args.url}}"
          jsonPath: "{$.data.errorRate}"%s
`, name, extra)), &ct); err != nil {
			t.Fatal(err)
		}
		if _, err := dc.Resource(cgvr).Create(context.Background(), &unstructured.Unstructured{Object: ct}, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating the ClusterAnalysisTemplate: %v", err)
		}
		t.Cleanup(func() { _ = dc.Resource(cgvr).Delete(context.Background(), name, metav1.DeleteOptions{}) })
	}
	cluster := func(name string) string {
		return fmt.Sprintf("- templateRef:\n    name: %s\n    clusterScope: true\n    context: production\n    args:\n      - {name: url, value: %q}\n", name, stats.URL+"/stats")
	}
	r = ferry(t, e.with("FERRY_GATES", cluster("with-job-"+pns)), "promote")
	if r.code != 2 || !strings.Contains(r.stdout, `provider \"job\" is unsupported`) {
		t.Fatalf("want exit 2 for a job metric\n%s", r)
	}
	r = ferry(t, e.with("FERRY_GATES", cluster("web-errors-"+pns)), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	if g := r.report(t); len(g.Waves) != 1 || g.Waves[0].Gates[0].Gate != "web-errors-"+pns+"/errors" || g.Waves[0].Gates[0].Measurements[0].Value != "0.001" {
		t.Fatalf("waves %+v", g.Waves)
	}

	// An unknown template is bad input: nothing changes.
	writes := len(mutations(t, production, pns))
	r = ferry(t, e.with("FERRY_GATES", strings.Replace(gates("web"), "name: error-rate", "name: error-rat", 1)), "promote")
	if r.code != 2 || !strings.Contains(r.stdout, "AnalysisTemplate "+pns+"/error-rat not found") {
		t.Fatalf("want exit 2 for an unknown template\n%s", r)
	}
	if got := len(mutations(t, production, pns)); got != writes {
		t.Fatalf("an unknown template let ferry write %d times", got-writes)
	}
}

// The shape: a cluster first, then a Heroku app; a dyno that
// crashes while the Heroku wave soaks restores both waves.
func TestKubernetesWaveThenHerokuWaveDynoCrashDuringTheSoak(t *testing.T) {
	t.Parallel()
	lab := startGateLab(t, map[string]float64{`errors_ratio{app="web"}`: 0.001})
	img := push(t, "acme/shop", "v21", nil)
	app := herokuApp(t, "waves-prod")
	old := seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	cmd, out, errb := ferryCmd(t, herokuEnv().with(
		"FERRY_SOURCE", img.ref(),
		"FERRY_TARGETS", target(pns, "web", "production")+"\n---\nheroku:"+app+"/web",
		"FERRY_GATES", strings.Replace(errorRateGate(lab.prom.URL, ""), "count: 3", "count: 1", 1),
		"FERRY_SOAK", "20s",
	), "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The second soak is wave 2's: the Heroku app's dyno crashes in it.
	deadline := time.Now().Add(2 * time.Minute)
	for strings.Count(errb.String(), "soak: 20s, watching") < 2 {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("ferry never reached wave 2's soak:\n%s", errb.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := emu.Crash(app, "web.1"); err != nil {
		t.Fatal(err)
	}
	r := wait(t, cmd, out, errb)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	rep := r.report(t)
	if rep.Waves[0].Status != promote.WavePassed || rep.Waves[1].Status != promote.WaveFailed || time.Duration(rep.Waves[1].Soak) >= 20*time.Second {
		t.Fatalf("waves %+v", rep.Waves)
	}
	for _, tr := range rep.Targets {
		if tr.Status != promote.StatusRestored {
			t.Errorf("%s: %s, want restored", tr.Target, tr.Status)
		}
	}
	if !strings.Contains(rep.Targets[1].Error, "crashed: web.1") {
		t.Errorf("heroku target error %q", rep.Targets[1].Error)
	}
	assertRuns(t, app, old, "web")
	assertRestored(t, before, rs)
}
