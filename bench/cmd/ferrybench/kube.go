package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// progressDeadline is the Deployments' progressDeadlineSeconds, which is
// when `kubectl rollout status` reports a crashing rollout.
const progressDeadline = 60

// kubeScenarios starts the two control planes once for the crash and
// fan-out scenarios.
func (b *bench) kubeScenarios(ctx context.Context, crash, fanout bool) error {
	start := time.Now()
	staging, production, err := testenv.StartPair(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if b.cfg.keepLogs {
			b.log.Printf("control plane folders kept: %s %s", staging.KeepLogs(), production.KeepLogs())
		}
		if err := errors.Join(staging.Stop(), production.Stop()); err != nil {
			b.log.Printf("stopping the control planes: %v", err)
		}
	}()
	b.log.Printf("control planes ready in %s", time.Since(start).Round(time.Millisecond))
	kc := filepath.Join(b.cfg.work, "kubeconfig")
	if err := os.WriteFile(kc, testenv.Kubeconfig(map[string]*testenv.Cluster{"staging": staging, "production": production}), 0o600); err != nil {
		return err
	}
	k := &kubeBench{bench: b, staging: staging, production: production, kubeconfig: kc}
	var errs []error
	if crash {
		if err := k.crash(ctx); err != nil {
			errs = append(errs, fmt.Errorf("crash: %w", err))
		}
	}
	if fanout && ctx.Err() == nil {
		if err := k.fanout(ctx); err != nil {
			errs = append(errs, fmt.Errorf("fan-out: %w", err))
		}
	}
	return errors.Join(errs...)
}

type kubeBench struct {
	*bench
	staging, production *testenv.Cluster
	kubeconfig          string
}

func fakeDigest(s string) string { return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(s))) }

// ferryEnv is the environment of a ferry run.
func (k *kubeBench) ferryEnv(kv ...string) []string {
	return append(k.env(), append([]string{"KUBECONFIG=" + k.kubeconfig, "FERRY_OUTPUT=json", "FERRY_TIMEOUT=120s"}, kv...)...)
}

// crash measures how soon ferry puts a crashing Deployment back, against
// when `kubectl rollout status` reports the failure. Each run has its own
// namespace. The kubectl runs, which last the progress deadline, go on
// side by side on the staging plane while ferry's runs take turns on the
// production plane.
func (k *kubeBench) crash(ctx context.Context) error {
	runs := k.cfg.runs
	type kubectlResult struct {
		latency, total float64
		err            error
	}
	kres := make([]kubectlResult, runs)
	var wg sync.WaitGroup
	for i := range runs {
		wg.Go(func() {
			l, tot, err := k.kubectlCrash(ctx, i)
			kres[i] = kubectlResult{l, tot, err}
		})
	}

	var ferryLat, ferryWall, watchLag []float64
	for i := range runs {
		if ctx.Err() != nil {
			break
		}
		l, w, lag, err := k.ferryCrash(ctx, i)
		if err != nil {
			k.log.Printf("crash: ferry run %d failed: %v", i+1, err)
			k.note("crash: ferry run %d failed: %v", i+1, err)
			continue
		}
		k.log.Printf("crash: ferry run %d: restore patch %.3fs after the first CrashLoopBackOff status (ferry ran %.2fs)", i+1, l, w)
		ferryLat, ferryWall, watchLag = append(ferryLat, l), append(ferryWall, w), append(watchLag, lag)
	}
	wg.Wait()
	var kLat, kWall []float64
	for i, r := range kres {
		if r.err != nil {
			k.log.Printf("crash: kubectl run %d failed: %v", i+1, r.err)
			k.note("crash: kubectl run %d failed: %v", i+1, r.err)
			continue
		}
		k.log.Printf("crash: kubectl run %d: failure reported %.2fs after the first CrashLoopBackOff status", i+1, r.latency)
		kLat, kWall = append(kLat, r.latency), append(kWall, r.total)
	}
	anchor := fmt.Sprintf("kubectl rollout status (progressDeadlineSeconds %d)", progressDeadline)
	k.add(results.New("crash → restore: first CrashLoopBackOff status to ferry's restore patch", "s", ferryLat, anchor, kLat,
		&results.Bound{Text: "≤ 1 s", Max: 1}).
		WithNote("both times from the API server's audit log (status patch written; ferry's patch answered); anchor: when kubectl exits reporting the failure"))
	k.add(results.New("crash → failure acted on, ferry vs kubectl rollout status", "s", ferryLat, anchor, kLat,
		&results.Bound{Text: "≥ 10× sooner (ratio ≤ 0.1)", OnRatio: true, Max: 0.1}))
	k.add(results.New("crash: whole `ferry promote` (release, detect, restore, restored rollout)", "s", ferryWall, "", nil, nil))
	k.addRawValues("crash → restore patch (s)", "ferry promote", ferryLat)
	k.addRawValues("crash → failure reported (s)", "kubectl rollout status", kLat)
	k.addRawValues("crash: whole run, wall (s)", "ferry promote", ferryWall)
	k.addRawValues("crash: whole run, wall (s)", "kubectl set image + rollout status", kWall)
	if s := measure.Summarize(watchLag); s.Runs > 0 {
		k.note("crash: the harness's own pod watch saw the first CrashLoopBackOff status %.1f ms (median; %.1f to %.1f) after the audit log's time for it, so the audit times are the earlier, stricter start.",
			s.Median*1000, s.Min*1000, s.Max*1000)
	}
	k.addCommand("crash → restore", "KUBECONFIG=… FERRY_SOURCE=registry.test/shop-crash@sha256:… FERRY_TARGETS='k8s:NS/web?context=production' FERRY_OUTPUT=json FERRY_TIMEOUT=120s ferry promote   # expects exit 1")
	k.addCommand("crash → restore", "kubectl --context staging -n NS set image deployment/web app=registry.test/shop-crash@sha256:… && kubectl --context staging -n NS rollout status deployment/web --timeout=5m   # expects exit 1 after the progress deadline")
	return nil
}

// ferryCrash runs one ferry promotion of a crashing image and returns the
// time from the first CrashLoopBackOff status to ferry's restore patch,
// ferry's wall time, and how much later the harness's watch saw the
// crash than the audit log recorded it.
func (k *kubeBench) ferryCrash(ctx context.Context, i int) (latency, wallTime, watchLag float64, err error) {
	c := k.production
	ns := fmt.Sprintf("crash-ferry-%d", i)
	if err := k.deployment(ctx, c, ns, "web", "registry.test/shop:v1"); err != nil {
		return 0, 0, 0, err
	}
	w, err := watchCrash(ctx, c, ns)
	if err != nil {
		return 0, 0, 0, err
	}
	defer w.stop()
	cmd := exec.Command(k.cfg.ferry, "promote")
	cmd.Env = k.ferryEnv(
		"FERRY_SOURCE=registry.test/shop-crash@"+fakeDigest(fmt.Sprintf("crash-ferry-%d-%d", i, time.Now().UnixNano())),
		"FERRY_TARGETS=k8s:"+ns+"/web?context=production",
	)
	s, err := measure.Run(ctx, cmd)
	var ee *measure.ExitError
	if !errors.As(err, &ee) || ee.Code != 1 {
		return 0, 0, 0, fmt.Errorf("ferry promote: want exit 1 (failed, restored), got %v; stdout %s", err, s.Stdout)
	}
	var rep promote.Report
	if err := json.Unmarshal(s.Stdout, &rep); err != nil || len(rep.Targets) != 1 || rep.Targets[0].Status != promote.StatusRestored {
		return 0, 0, 0, fmt.Errorf("ferry promote: want the target restored, got %s (%v)", s.Stdout, err)
	}
	muts, err := c.Mutations(ctx)
	if err != nil {
		return 0, 0, 0, err
	}
	var patches []time.Time
	for _, m := range muts {
		if m.Namespace == ns && m.Resource == "deployments" && m.Verb == "patch" && m.Code == 200 {
			patches = append(patches, m.Time)
		}
	}
	if len(patches) < 2 {
		return 0, 0, 0, fmt.Errorf("want ferry's release and restore patches in the audit log, found %d patches", len(patches))
	}
	seen, pods := w.result()
	if len(pods) == 0 {
		return 0, 0, 0, errors.New("no pod reported CrashLoopBackOff")
	}
	first, err := firstStatusWrite(c, ns, pods)
	if err != nil {
		return 0, 0, 0, err
	}
	return patches[1].Sub(first).Seconds(), s.Wall.Seconds(), seen.Sub(first).Seconds(), nil
}

// kubectlCrash sets a crashing image with kubectl and waits with kubectl
// rollout status; it returns the time from the first CrashLoopBackOff
// status to kubectl's exit, and the whole time kubectl took.
func (k *kubeBench) kubectlCrash(ctx context.Context, i int) (latency, total float64, err error) {
	c := k.staging
	ns := fmt.Sprintf("crash-kubectl-%d", i)
	if err := k.deployment(ctx, c, ns, "web", "registry.test/shop:v1"); err != nil {
		return 0, 0, err
	}
	w, err := watchCrash(ctx, c, ns)
	if err != nil {
		return 0, 0, err
	}
	defer w.stop()
	kubectl := func(args ...string) *exec.Cmd {
		cmd := exec.Command(k.tool("kubectl"), append([]string{"--kubeconfig", k.kubeconfig, "--context", "staging", "-n", ns}, args...)...)
		cmd.Env = k.env()
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		return cmd
	}
	start := time.Now()
	img := "registry.test/shop-crash@" + fakeDigest(fmt.Sprintf("crash-kubectl-%d-%d", i, time.Now().UnixNano()))
	if out, err := kubectl("set", "image", "deployment/web", "app="+img).CombinedOutput(); err != nil {
		return 0, 0, fmt.Errorf("kubectl set image: %w: %s", err, out)
	}
	out, err := kubectl("rollout", "status", "deployment/web", "--timeout=5m").CombinedOutput()
	end := time.Now()
	if err == nil || !strings.Contains(string(out), "progress deadline") {
		return 0, 0, fmt.Errorf("kubectl rollout status: want a progress deadline failure, got %v: %s", err, out)
	}
	if _, err := c.Mutations(ctx); err != nil { // the audit barrier
		return 0, 0, err
	}
	_, pods := w.result()
	if len(pods) == 0 {
		return 0, 0, errors.New("no pod reported CrashLoopBackOff")
	}
	first, err := firstStatusWrite(c, ns, pods)
	if err != nil {
		return 0, 0, err
	}
	return end.Sub(first).Seconds(), end.Sub(start).Seconds(), nil
}

// deployment creates namespace ns with Deployment name (2 replicas, one
// container "app") and waits until it has rolled out.
func (k *kubeBench) deployment(ctx context.Context, c *testenv.Cluster, ns, name, img string) error {
	if err := namespace(ctx, c, ns); err != nil {
		return err
	}
	if err := createDeployment(ctx, c, ns, name, img); err != nil {
		return err
	}
	return waitRolledOut(ctx, c, ns, name)
}

func namespace(ctx context.Context, c *testenv.Cluster, ns string) error {
	_, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		return fmt.Errorf("creating namespace %s in %s: %w", ns, c.Name, err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for { // ServiceAccount admission rejects pods until "default" exists
		if _, err := c.Admin.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("namespace %s in %s: no default service account after 30s", ns, c.Name)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func createDeployment(ctx context.Context, c *testenv.Cluster, ns, name, img string) error {
	return createDeploymentReadyAfter(ctx, c, ns, name, img, 0)
}

// createDeploymentReadyAfter creates Deployment ns/name whose pods kwok
// makes Ready readyAfter after they start (at once when 0), as a readiness
// probe would.
func createDeploymentReadyAfter(ctx context.Context, c *testenv.Cluster, ns, name, img string, readyAfter time.Duration) error {
	replicas, deadline := int32(2), int32(progressDeadline)
	var annotations map[string]string
	if readyAfter > 0 {
		annotations = map[string]string{"pod-ready.stage.kwok.x-k8s.io/delay": readyAfter.String()}
	}
	labels := map[string]string{"app": name}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			ProgressDeadlineSeconds: &deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: img}}},
			},
		},
	}
	if _, err := c.Admin.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating deployment %s/%s in %s: %w", ns, name, c.Name, err)
	}
	return nil
}

// waitRolledOut polls until the rollout is complete by ferry's own rules.
func waitRolledOut(ctx context.Context, c *testenv.Cluster, ns, name string) error {
	deadline := time.Now().Add(90 * time.Second)
	var last kube.Verdict
	for time.Now().Before(deadline) {
		d, err := c.Admin.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		rss, err := c.Admin.AppsV1().ReplicaSets(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		var rs *appsv1.ReplicaSet
		for i := range rss.Items {
			if rss.Items[i].Annotations["deployment.kubernetes.io/revision"] == d.Annotations["deployment.kubernetes.io/revision"] {
				rs = &rss.Items[i]
			}
		}
		pods, err := c.Admin.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
		if err != nil {
			return err
		}
		v := kube.Evaluate(d, rs, pods.Items)
		if v.Done {
			return nil
		}
		if v.Failure != "" {
			return fmt.Errorf("deployment %s/%s in %s failed to roll out: %s", ns, name, c.Name, v.Failure)
		}
		last = v
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("deployment %s/%s in %s did not roll out in 90s: %s", ns, name, c.Name, last.Progress)
}

// crashWatch records when the harness first sees a pod of a namespace in
// CrashLoopBackOff, and which pods were.
type crashWatch struct {
	w    watch.Interface
	done chan struct{}

	mu    sync.Mutex
	first time.Time
	pods  map[string]bool
}

func watchCrash(ctx context.Context, c *testenv.Cluster, ns string) (*crashWatch, error) {
	w, err := c.Admin.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("watching pods in %s: %w", ns, err)
	}
	cw := &crashWatch{w: w, done: make(chan struct{}), pods: map[string]bool{}}
	go func() {
		defer close(cw.done)
		for ev := range w.ResultChan() {
			now := time.Now()
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			for _, s := range p.Status.ContainerStatuses {
				if s.State.Waiting != nil && s.State.Waiting.Reason == "CrashLoopBackOff" {
					cw.mu.Lock()
					if cw.first.IsZero() {
						cw.first = now
					}
					cw.pods[p.Name] = true
					cw.mu.Unlock()
				}
			}
		}
	}()
	return cw, nil
}

func (cw *crashWatch) result() (time.Time, map[string]bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	pods := make(map[string]bool, len(cw.pods))
	for p := range cw.pods {
		pods[p] = true
	}
	return cw.first, pods
}

func (cw *crashWatch) stop() {
	cw.w.Stop()
	<-cw.done
}

// firstStatusWrite finds, in the audit log, the earliest completed status
// write of any of pods in ns. kwok writes a crash pod's status once with
// CrashLoopBackOff right away and then again every 5 s; nothing else writes
// pod status here, so the first write is the first CrashLoopBackOff. Call
// it after Cluster.Mutations, which makes sure the log is written out.
func firstStatusWrite(c *testenv.Cluster, ns string, pods map[string]bool) (time.Time, error) {
	f, err := os.Open(filepath.Join(c.Dir, "audit.log"))
	if err != nil {
		return time.Time{}, err
	}
	defer f.Close()
	var first time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), `"subresource":"status"`) {
			continue
		}
		var e struct {
			Stage     string `json:"stage"`
			Verb      string `json:"verb"`
			ObjectRef struct {
				Resource, Subresource, Namespace, Name string
			} `json:"objectRef"`
			StageTimestamp time.Time `json:"stageTimestamp"`
		}
		if json.Unmarshal(line, &e) != nil || e.Stage != "ResponseComplete" {
			continue
		}
		o := e.ObjectRef
		if o.Resource != "pods" || o.Subresource != "status" || o.Namespace != ns || !pods[o.Name] || (e.Verb != "patch" && e.Verb != "update") {
			continue
		}
		if first.IsZero() || e.StageTimestamp.Before(first) {
			first = e.StageTimestamp
		}
	}
	if err := sc.Err(); err != nil {
		return time.Time{}, err
	}
	if first.IsZero() {
		return time.Time{}, fmt.Errorf("no status write of the crashing pods of %s in the audit log", ns)
	}
	return first, nil
}
