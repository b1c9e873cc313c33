package testenv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// startCluster starts a cluster for one test and stops it at the end
// (keeping the logs when the test failed).
func startCluster(t *testing.T, name string) *Cluster {
	t.Helper()
	begin := time.Now()
	c, err := StartCluster(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("cluster %s ready in %s at %s", name, time.Since(begin).Round(time.Millisecond), c.Server)
	c.StopOnCleanup(t)
	return c
}

// ferryClient is a client built from the kubeconfig handed to ferry, for
// its current context.
func ferryClient(t *testing.T, kubeconfig []byte) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

func digestOf(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// waitPod polls a pod until done returns true; on timeout it fails with the
// last status seen.
func waitPod(t *testing.T, c *Cluster, name string, timeout time.Duration, done func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
		pod, err := c.Admin.CoreV1().Pods("default").Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil
		}
		last = pod
		return done(pod), nil
	})
	if err != nil {
		var status any
		if last != nil {
			status = last.Status
		}
		t.Fatalf("pod %s: %v; last status: %+v", name, err, status)
	}
	return last
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func waitingReason(pod *corev1.Pod, container string) string {
	for _, s := range pod.Status.ContainerStatuses {
		if s.Name == container && s.State.Waiting != nil {
			return s.State.Waiting.Reason
		}
	}
	return ""
}

func createPod(t *testing.T, c *Cluster, name string, annotations map[string]string, images ...string) {
	t.Helper()
	pod := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: annotations}}
	for i, img := range images {
		pod.Spec.Containers = append(pod.Spec.Containers, corev1.Container{Name: "c" + strconv.Itoa(i), Image: img})
	}
	if _, err := c.Admin.CoreV1().Pods("default").Create(t.Context(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

func deployment(name, image string, replicas int32, annotations map[string]string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			ProgressDeadlineSeconds: new(int32(15)),
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: annotations},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: image}}},
			},
		},
	}
}

// TestCluster drives one cluster through the behaviour ferry relies on, then
// checks that Stop leaves nothing behind.
func TestCluster(t *testing.T) {
	c := startCluster(t, "staging")

	t.Run("workloads", func(t *testing.T) { clusterWorkloads(t, c) })

	t.Run("kwok rendered every stage", func(t *testing.T) { clusterKwokRendered(t, c) })

	t.Run("mutations are ferry's writes only", func(t *testing.T) { clusterMutations(t, c) })

	t.Run("apiserver restarts on the same port", func(t *testing.T) { clusterAPIServerRestart(t, c) })

	t.Run("stop frees ports and leaves no process", func(t *testing.T) { clusterStopCleans(t, c) })
}

// childrenMentioning lists this process's children whose command line
// mentions s.
func childrenMentioning(t *testing.T, s string) []string {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, stat := range stats {
		data, err := os.ReadFile(stat)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...: comm may hold spaces, so cut at the last ')'.
		fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
		if len(fields) < 2 || fields[1] != strconv.Itoa(os.Getpid()) {
			continue
		}
		cmdline, _ := os.ReadFile(filepath.Join(filepath.Dir(stat), "cmdline"))
		if strings.Contains(string(cmdline), s) {
			out = append(out, fmt.Sprintf("%s: %q", filepath.Dir(stat), cmdline))
		}
	}
	return out
}

// TestStartPair starts staging and production side by side, as the e2e
// tests do, and checks that they are two separate clusters that one
// kubeconfig reaches by context name.
func TestStartPair(t *testing.T) {
	begin := time.Now()
	staging, production, err := StartPair(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("staging and production ready in %s (side by side)", time.Since(begin).Round(time.Millisecond))
	staging.StopOnCleanup(t)
	production.StopOnCleanup(t)
	if staging.Server == production.Server || staging.Dir == production.Dir {
		t.Fatalf("clusters share server %s / dir %s", staging.Server, staging.Dir)
	}

	const (
		stagingCtx    = "arn:aws:eks:eu-west-1:111122223333:cluster/staging"
		productionCtx = "gke_acme_europe-west1_production@ops"
	)
	kubeconfig := Kubeconfig(map[string]*Cluster{stagingCtx: staging, productionCtx: production},
		CurrentContext(productionCtx))
	raw, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if raw.CurrentContext != productionCtx {
		t.Errorf("current-context %q, want %q", raw.CurrentContext, productionCtx)
	}
	clientFor := func(ctxName string) kubernetes.Interface {
		cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, ctxName, nil, nil).ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		cs, err := kubernetes.NewForConfig(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return cs
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-production"}}
	if _, err := clientFor(productionCtx).CoreV1().Namespaces().Create(t.Context(), ns, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := production.Admin.CoreV1().Namespaces().Get(t.Context(), ns.Name, metav1.GetOptions{}); err != nil {
		t.Errorf("production: %v", err)
	}
	if _, err := staging.Admin.CoreV1().Namespaces().Get(t.Context(), ns.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("staging: got %v, want NotFound", err)
	}
	if _, err := clientFor(stagingCtx).CoreV1().Namespaces().Get(t.Context(), ns.Name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("staging through kubeconfig: got %v, want NotFound", err)
	}

	sm, err := staging.Mutations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	pm, err := production.Mutations(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if len(sm) != 0 || len(pm) != 1 || pm[0].Verb != "create" || pm[0].Resource != "namespaces" || pm[0].Code != 201 {
		t.Errorf("mutations: staging %v, production %v; want none, one namespace create", sm, pm)
	}
}

func clusterAnnotatedImageID(t *testing.T, c *Cluster) {
	t.Parallel()
	const image = "registry.test/acme/shop:1.4.2"
	wantID := "registry.test/acme/shop@" + digestOf("pushed manifest")
	d := deployment("shop", image, 2, map[string]string{"imageid.testenv.ferry.dev/app": wantID})
	if _, err := c.Admin.AppsV1().Deployments("default").Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.Admin.AppsV1().Deployments("default").Get(ctx, "shop", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		s := d.Status
		return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == 2 && s.AvailableReplicas == 2 && s.ReadyReplicas == 2, nil
	})
	if err != nil {
		t.Fatalf("deployment shop not rolled out: %v", err)
	}
	pods, err := c.Admin.CoreV1().Pods("default").List(t.Context(), metav1.ListOptions{LabelSelector: "app=shop"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 2 {
		t.Fatalf("got %d pods, want 2", len(pods.Items))
	}
	for _, pod := range pods.Items {
		if !podReady(&pod) || pod.Spec.NodeName != NodeName || pod.Status.Phase != corev1.PodRunning {
			t.Errorf("pod %s: ready=%v node=%q phase=%s", pod.Name, podReady(&pod), pod.Spec.NodeName, pod.Status.Phase)
		}
		if len(pod.Status.ContainerStatuses) != 1 {
			t.Fatalf("pod %s: %d container statuses", pod.Name, len(pod.Status.ContainerStatuses))
		}
		if got := pod.Status.ContainerStatuses[0]; got.ImageID != wantID || got.Image != image || !got.Ready {
			t.Errorf("pod %s: image %q imageID %q ready %v, want %q %q true", pod.Name, got.Image, got.ImageID, got.Ready, image, wantID)
		}
	}
}

func clusterImageIDRules(t *testing.T, c *Cluster) {
	t.Parallel()
	digest := digestOf("another manifest")
	images := []string{
		"registry.test/acme/a:1@" + digest, // digest in the image
		"127.0.0.1:5000/acme/b:2",          // bare digest annotation
		"registry.test/acme/c:3",           // no annotation: derived
		"registry.test/acme/d",             // no tag, no annotation
	}
	createPod(t, c, "imageids", map[string]string{"imageid.testenv.ferry.dev/c1": digest}, images...)
	pod := waitPod(t, c, "imageids", time.Minute, podReady)
	want := map[string]string{
		"c0": "registry.test/acme/a@" + digest,
		"c1": "127.0.0.1:5000/acme/b@" + digest,
		"c2": "registry.test/acme/c@" + digestOf("registry.test/acme/c:3"),
		"c3": "registry.test/acme/d@" + digestOf("registry.test/acme/d"),
	}
	for _, s := range pod.Status.ContainerStatuses {
		if s.ImageID != want[s.Name] {
			t.Errorf("container %s: imageID %q, want %q", s.Name, s.ImageID, want[s.Name])
		}
		delete(want, s.Name)
	}
	if len(want) != 0 {
		t.Errorf("no status for containers %v", want)
	}
}

func clusterCrashLoop(t *testing.T, c *Cluster) {
	t.Parallel()
	d := deployment("crasher", "registry.test/acme/shop:2-crash", 1, nil)
	if _, err := c.Admin.AppsV1().Deployments("default").Create(t.Context(), d, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	var pod *corev1.Pod
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		pods, err := c.Admin.CoreV1().Pods("default").List(ctx, metav1.ListOptions{LabelSelector: "app=crasher"})
		if err != nil || len(pods.Items) == 0 {
			return false, nil
		}
		pod = &pods.Items[0]
		if len(pod.Status.ContainerStatuses) == 0 {
			return false, nil
		}
		s := pod.Status.ContainerStatuses[0]
		return waitingReason(pod, "app") == "CrashLoopBackOff" && s.RestartCount >= 2, nil
	})
	if err != nil {
		t.Fatalf("no CrashLoopBackOff with 2 restarts: %v (pod %+v)", err, pod)
	}
	s := pod.Status.ContainerStatuses[0]
	if s.LastTerminationState.Terminated == nil || s.LastTerminationState.Terminated.ExitCode != 1 {
		t.Errorf("lastState %+v, want terminated with exit code 1", s.LastTerminationState)
	}
	if want := "registry.test/acme/shop@" + digestOf("registry.test/acme/shop:2-crash"); s.ImageID != want {
		t.Errorf("imageID %q, want %q", s.ImageID, want)
	}
	if podReady(pod) || s.Ready || pod.Status.Phase != corev1.PodRunning {
		t.Errorf("pod ready=%v container ready=%v phase=%s, want not ready, Running", podReady(pod), s.Ready, pod.Status.Phase)
	}
	// The real deployment controller gives up after progressDeadlineSeconds.
	err = wait.PollUntilContextTimeout(t.Context(), 500*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := c.Admin.AppsV1().Deployments("default").Get(ctx, "crasher", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range d.Status.Conditions {
			if cond.Type == appsv1.DeploymentProgressing && cond.Status == corev1.ConditionFalse && cond.Reason == "ProgressDeadlineExceeded" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Fatalf("deployment crasher never reported ProgressDeadlineExceeded: %v", err)
	}
}

func clusterNoPull(t *testing.T, c *Cluster) {
	t.Parallel()
	createPod(t, c, "nopull", nil, "registry.test/acme/shop:3-nopull", "registry.test/acme/sidecar:1")
	seen := map[string]bool{}
	pod := waitPod(t, c, "nopull", time.Minute, func(p *corev1.Pod) bool {
		r := waitingReason(p, "c0")
		seen[r] = true
		return r == "ImagePullBackOff"
	})
	t.Logf("waiting reasons seen: %v", seen)
	if podReady(pod) || pod.Status.Phase != corev1.PodPending {
		t.Errorf("pod ready=%v phase=%s, want not ready, Pending", podReady(pod), pod.Status.Phase)
	}
	for _, s := range pod.Status.ContainerStatuses {
		switch s.Name {
		case "c0":
			if s.ImageID != "" || s.Ready || !strings.Contains(s.State.Waiting.Message, "registry.test/acme/shop:3-nopull") {
				t.Errorf("c0: imageID %q ready %v message %q", s.ImageID, s.Ready, s.State.Waiting.Message)
			}
		case "c1":
			if s.State.Running == nil || s.ImageID == "" {
				t.Errorf("c1 (pullable): state %+v imageID %q, want running with an imageID", s.State, s.ImageID)
			}
		}
	}
}

func clusterConfigErr(t *testing.T, c *Cluster) {
	t.Parallel()
	createPod(t, c, "configerr", nil, "registry.test/acme/shop:4-configerr")
	waitPod(t, c, "configerr", time.Minute, func(p *corev1.Pod) bool {
		return waitingReason(p, "c0") == "CreateContainerConfigError"
	})
	// It must stay that way.
	time.Sleep(2 * time.Second)
	pod := waitPod(t, c, "configerr", time.Second, func(*corev1.Pod) bool { return true })
	if r := waitingReason(pod, "c0"); r != "CreateContainerConfigError" || podReady(pod) || pod.Status.Phase != corev1.PodPending {
		t.Errorf("after 2s: reason %q ready %v phase %s", r, podReady(pod), pod.Status.Phase)
	}
}

func clusterJobCompletes(t *testing.T, c *Cluster) {
	t.Parallel()
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{Name: "migrate"},
		Spec: batchv1.JobSpec{Template: corev1.PodTemplateSpec{Spec: corev1.PodSpec{
			RestartPolicy: corev1.RestartPolicyNever,
			Containers:    []corev1.Container{{Name: "migrate", Image: "registry.test/acme/shop:1.4.2"}},
		}}},
	}
	if _, err := c.Admin.BatchV1().Jobs("default").Create(t.Context(), job, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		j, err := c.Admin.BatchV1().Jobs("default").Get(ctx, "migrate", metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return j.Status.Succeeded == 1, nil
	})
	if err != nil {
		t.Fatalf("job migrate did not succeed: %v", err)
	}
}

func clusterSlowReady(t *testing.T, c *Cluster) {
	t.Parallel()
	// 8s, longer than the 5s default, shows that the annotation counts.
	createPod(t, c, "slow", map[string]string{"slowready.testenv.ferry.dev/delay": "8s"}, "registry.test/acme/shop:5-slowready")
	waitPod(t, c, "slow", time.Minute, func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && !podReady(p) && len(p.Status.ContainerStatuses) == 1 &&
			p.Status.ContainerStatuses[0].State.Running != nil
	})
	unready := time.Now()
	pod := waitPod(t, c, "slow", time.Minute, podReady)
	if d := time.Since(unready); d < 7*time.Second {
		t.Errorf("ready %s after running unready, want about 8s", d)
	}
	if got := pod.Status.ContainerStatuses[0]; !got.Ready || got.ImageID == "" {
		t.Errorf("container ready=%v imageID %q", got.Ready, got.ImageID)
	}
}

func clusterWorkloads(t *testing.T, c *Cluster) {
	t.Run("deployment reports the annotated imageID", func(t *testing.T) { clusterAnnotatedImageID(t, c) })

	t.Run("imageID rules", func(t *testing.T) { clusterImageIDRules(t, c) })

	t.Run("crash image reaches CrashLoopBackOff and misses the progress deadline", func(t *testing.T) { clusterCrashLoop(t, c) })

	t.Run("nopull image reaches ImagePullBackOff", func(t *testing.T) { clusterNoPull(t, c) })

	t.Run("configerr image reaches CreateContainerConfigError", func(t *testing.T) { clusterConfigErr(t, c) })

	t.Run("job pods complete", func(t *testing.T) { clusterJobCompletes(t, c) })

	t.Run("crash image with a crash delay starts, then crashes", func(t *testing.T) { clusterLateCrash(t, c) })

	t.Run("slowready image runs unready until the delay", func(t *testing.T) { clusterSlowReady(t, c) })
}

func clusterKwokRendered(t *testing.T, c *Cluster) {
	data, err := os.ReadFile(filepath.Join(c.Dir, "kwok.log"))
	if err != nil {
		t.Fatal(err)
	}
	// kwok logs JSON lines; a stage that fails to render or apply is
	// logged at level ERROR. (Deleting an already deleted pod is also an
	// ERROR and harmless, but no test here deletes pods.)
	for line := range strings.Lines(string(data)) {
		if strings.Contains(line, `"level":"ERROR"`) {
			t.Errorf("kwok: %s", line)
		}
	}
}

func clusterMutations(t *testing.T, c *Cluster) {
	ctx := t.Context()
	before, err := c.Mutations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(before) != 0 {
		t.Fatalf("mutations before ferry wrote anything: %v", before)
	}
	const ctxName = "arn:aws:eks:eu-west-1:111122223333:cluster/staging"
	ferry := ferryClient(t, Kubeconfig(map[string]*Cluster{ctxName: c}))
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-ferry"}}
	if _, err := ferry.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ferry.CoreV1().ConfigMaps("default").Patch(ctx, "by-ferry", types.MergePatchType,
		[]byte(`{"data":{"k":"v"}}`), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ferry.CoreV1().ConfigMaps("default").Get(ctx, "by-ferry", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ferry.CoreV1().ConfigMaps("default").Create(ctx, cm, metav1.CreateOptions{}); !apierrors.IsAlreadyExists(err) {
		t.Fatalf("second create: %v, want AlreadyExists", err)
	}
	admin := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "by-admin"}}
	if _, err := c.Admin.CoreV1().ConfigMaps("default").Create(ctx, admin, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	got, err := c.Mutations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		verb, resource, ns, name string
		code                     int
	}
	want := []row{
		{"create", "configmaps", "default", "by-ferry", 201},
		{"patch", "configmaps", "default", "by-ferry", 200},
		{"create", "configmaps", "default", "by-ferry", 409},
	}
	var rows []row
	for _, e := range got {
		rows = append(rows, row{e.Verb, e.Resource, e.Namespace, e.Name, e.Code})
		if e.User != FerryUser || !strings.HasPrefix(e.RequestURI, "/api/v1/namespaces/default/configmaps") {
			t.Errorf("event %+v", e)
		}
	}
	if !slices.Equal(rows, want) {
		t.Errorf("mutations:\n got %+v\nwant %+v", rows, want)
	}
}

func clusterAPIServerRestart(t *testing.T, c *Cluster) {
	ctx := t.Context()
	if err := c.StopAPIServer(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Admin.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err == nil {
		t.Fatal("API answered while kube-apiserver was stopped")
	}
	begin := time.Now()
	if err := c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	t.Logf("kube-apiserver back in %s", time.Since(begin).Round(time.Millisecond))
	if err := c.RestartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	// The other components reconnect: a new pod is scheduled and made Ready.
	createPod(t, c, "after-restart", nil, "registry.test/acme/shop:1.4.2")
	waitPod(t, c, "after-restart", time.Minute, podReady)
}

func clusterStopCleans(t *testing.T, c *Cluster) {
	var pids []int
	c.mu.Lock()
	for _, p := range c.procs {
		pids = append(pids, p.pid())
	}
	c.mu.Unlock()
	if len(pids) != len(components) {
		t.Fatalf("%d processes running, want %d", len(pids), len(components))
	}
	ports := c.ports.list()
	for _, port := range []int{c.ports.etcd, c.ports.apiserver, c.ports.controllerManager, c.ports.scheduler} {
		conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second)
		if err != nil {
			t.Fatalf("port %d not listening before Stop: %v", port, err)
		}
		conn.Close()
	}
	if err := c.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, port := range ports {
		if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(port), time.Second); err == nil {
			conn.Close()
			t.Errorf("port %d still accepts connections after Stop", port)
		}
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err != syscall.ESRCH {
			t.Errorf("process %d still exists after Stop (kill 0: %v)", pid, err)
		}
	}
	if kids := childrenMentioning(t, c.Dir); len(kids) != 0 {
		t.Errorf("child processes left: %v", kids)
	}
	if _, err := os.Stat(c.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still there after Stop: %v", c.Dir, err)
	}
	if err := c.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func clusterLateCrash(t *testing.T, c *Cluster) {
	t.Parallel()
	created := time.Now()
	createPod(t, c, "late-crash", map[string]string{"crash.testenv.ferry.dev/delay": "4s"}, "registry.test/acme/shop:6-crash")
	pod := waitPod(t, c, "late-crash", time.Minute, func(p *corev1.Pod) bool { return waitingReason(p, "c0") == "CrashLoopBackOff" })
	if d := time.Since(created); d < 3500*time.Millisecond {
		t.Errorf("first crash %s after creation, want about 4s", d)
	}
	if podReady(pod) {
		t.Errorf("a crashing pod is ready")
	}
}
