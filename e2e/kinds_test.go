package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// StatefulSets and DaemonSets run under the real controllers of
// kube-controller-manager; kwok plays the kubelet of their pods.

func podTemplate(name string, containers []corev1.Container, podAnnotations map[string]string) corev1.PodTemplateSpec {
	return corev1.PodTemplateSpec{
		ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}, Annotations: podAnnotations},
		Spec:       corev1.PodSpec{Containers: containers},
	}
}

// createStatefulSet makes a StatefulSet of replicas pods and waits until
// they all run its revision.
func createStatefulSet(t *testing.T, c *testenv.Cluster, ns, name string, replicas int32, strategy appsv1.StatefulSetUpdateStrategy, tmpl corev1.PodTemplateSpec) *appsv1.StatefulSet {
	t.Helper()
	obj := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:       &replicas,
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:       tmpl,
			UpdateStrategy: strategy,
		},
	}
	if _, err := c.Admin.AppsV1().StatefulSets(ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating statefulset %s/%s: %v", ns, name, err)
	}
	return waitStatefulSet(t, c, ns, name)
}

func getStatefulSet(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.StatefulSet {
	t.Helper()
	s, err := c.Admin.AppsV1().StatefulSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading statefulset %s/%s: %v", ns, name, err)
	}
	return s
}

// waitStatefulSet polls until every replica is ready on the update
// revision, which is current.
func waitStatefulSet(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.StatefulSet {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		s := getStatefulSet(t, c, ns, name)
		st := s.Status
		if st.ObservedGeneration >= s.Generation && st.ReadyReplicas == *s.Spec.Replicas && st.Replicas == *s.Spec.Replicas &&
			st.UpdatedReplicas == *s.Spec.Replicas && st.CurrentRevision == st.UpdateRevision {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("statefulset %s/%s did not roll out in 90s: %+v", ns, name, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func createDaemonSet(t *testing.T, c *testenv.Cluster, ns, name string, strategy appsv1.DaemonSetUpdateStrategy, tmpl corev1.PodTemplateSpec) *appsv1.DaemonSet {
	t.Helper()
	obj := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template:       tmpl,
			UpdateStrategy: strategy,
		},
	}
	if _, err := c.Admin.AppsV1().DaemonSets(ns).Create(context.Background(), obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating daemonset %s/%s: %v", ns, name, err)
	}
	return waitDaemonSet(t, c, ns, name)
}

func getDaemonSet(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.DaemonSet {
	t.Helper()
	d, err := c.Admin.AppsV1().DaemonSets(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading daemonset %s/%s: %v", ns, name, err)
	}
	return d
}

func waitDaemonSet(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.DaemonSet {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		d := getDaemonSet(t, c, ns, name)
		st := d.Status
		if st.ObservedGeneration >= d.Generation && st.DesiredNumberScheduled > 0 &&
			st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberAvailable == st.DesiredNumberScheduled &&
			st.CurrentNumberScheduled == st.DesiredNumberScheduled {
			return d
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemonset %s/%s did not roll out in 90s: %+v", ns, name, st)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func partition(p int32) appsv1.StatefulSetUpdateStrategy {
	return appsv1.StatefulSetUpdateStrategy{
		Type:          appsv1.RollingUpdateStatefulSetStrategyType,
		RollingUpdate: &appsv1.RollingUpdateStatefulSetStrategy{Partition: &p},
	}
}

// podRevisions maps each pod of a StatefulSet to its revision label.
func podRevisions(t *testing.T, c *testenv.Cluster, ns, app string) map[string]string {
	t.Helper()
	pods, err := c.Admin.CoreV1().Pods(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + app})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	out := map[string]string{}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			out[p.Name] = p.Labels[appsv1.ControllerRevisionHashLabelKey]
		}
	}
	return out
}

func TestStatefulSetPromotedHonouringPartitionAndAsSource(t *testing.T) {
	t.Parallel()
	// The source is a StatefulSet too: its pods report the digest.
	sns := namespace(t, staging)
	digest := fakeDigest(t.Name())
	createStatefulSet(t, staging, sns, "db", 1, partition(0), podTemplate("db",
		[]corev1.Container{container("app", "registry.test/db:v2")},
		map[string]string{"imageid.testenv.ferry.dev/app": "registry.test/db@" + digest}))

	pns := namespace(t, production)
	before := createStatefulSet(t, production, pns, "db", 3, partition(1), podTemplate("db",
		[]corev1.Container{container("app", "registry.test/db:v1")}, nil))
	oldRev := before.Status.CurrentRevision

	e := baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/statefulset/db?context=staging",
		"FERRY_TARGETS", "k8s:"+pns+"/sts/db?context=production",
		"FERRY_OUTPUT", "json",
	)
	r := ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	want := "registry.test/db@" + digest
	rep := r.report(t)
	if rep.Outcome != promote.OutcomePromoted || rep.Image != want {
		t.Fatalf("report: %q %q, want promoted %s", rep.Outcome, rep.Image, want)
	}
	after := getStatefulSet(t, production, pns, "db")
	if got := after.Spec.Template.Spec.Containers[0].Image; got != want {
		t.Errorf("statefulset runs %s, want %s", got, want)
	}
	if p := after.Spec.UpdateStrategy.RollingUpdate.Partition; p == nil || *p != 1 {
		t.Errorf("partition changed to %v, want 1 left alone", p)
	}
	// Only ordinals at or above the partition run the new revision.
	revs := podRevisions(t, production, pns, "db")
	if revs["db-0"] != oldRev || revs["db-1"] != after.Status.UpdateRevision || revs["db-2"] != after.Status.UpdateRevision || revs["db-1"] == oldRev {
		t.Errorf("pod revisions %v: want db-0 on %s, db-1 and db-2 on %s", revs, oldRev, after.Status.UpdateRevision)
	}

	// The lock and record is a Lease named after the kind.
	if _, err := production.Admin.CoordinationV1().Leases(pns).Get(context.Background(), kube.LeaseNameFor(kube.KindStatefulSet, "db"), metav1.GetOptions{}); err != nil {
		t.Errorf("no lease ferry.statefulset.db: %v", err)
	}
	if _, err := production.Admin.CoordinationV1().Leases(pns).Get(context.Background(), kube.LeaseName("db"), metav1.GetOptions{}); err == nil {
		t.Errorf("a deployment's lease was taken for a statefulset")
	}

	// status names the kind.
	r = ferry(t, env{"KUBECONFIG": kubeconfigPath, "FERRY_TARGETS": e["FERRY_TARGETS"]}, "status")
	if r.code != 0 || !strings.Contains(r.stdout, want) || !strings.Contains(r.stdout, "statefulset") {
		t.Fatalf("status: want the statefulset on %s\n%s", want, r)
	}
}

func TestStatefulSetCrashMidRolloutRestoresTemplateAndPartition(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	// Ordered rollout from the highest ordinal: db-2 takes the crashing
	// image first and never becomes ready, so db-1 and db-0 are never
	// reached; the restore must bring db-2 back (the controller alone
	// would wait for it forever).
	before := createStatefulSet(t, production, pns, "db", 3, partition(0), podTemplate("db",
		[]corev1.Container{container("app", "registry.test/db:v1")}, nil))
	oldRev := before.Status.CurrentRevision
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "registry.test/db-crash@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", "k8s:"+pns+"/statefulset/db?context=production",
	), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1 (failed, restored)\n%s", r)
	}
	if rep := r.report(t); rep.Targets[0].Status != promote.StatusRestored || !strings.Contains(r.stdout+r.stderr, "CrashLoopBackOff") {
		t.Fatalf("want restored after CrashLoopBackOff\n%s", r)
	}
	after := waitStatefulSet(t, production, pns, "db")
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("template not restored:\nbefore %+v\nafter  %+v", before.Spec.Template, after.Spec.Template)
	}
	if !equality.Semantic.DeepEqual(after.Spec.UpdateStrategy, before.Spec.UpdateStrategy) {
		t.Errorf("update strategy not restored: %+v, was %+v", after.Spec.UpdateStrategy, before.Spec.UpdateStrategy)
	}
	if after.Status.UpdateRevision != oldRev {
		t.Errorf("update revision %s, want the old %s back", after.Status.UpdateRevision, oldRev)
	}
	for p, rev := range podRevisions(t, production, pns, "db") {
		if rev != oldRev {
			t.Errorf("pod %s runs revision %s, want %s", p, rev, oldRev)
		}
	}
}

func TestDaemonSetPromotedAndRestored(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	rolling := appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}
	before := createDaemonSet(t, production, pns, "agent", rolling, podTemplate("agent",
		[]corev1.Container{container("agent", "registry.test/agent:v1")}, nil))
	tgt := "k8s:" + pns + "/daemonset/agent?context=production"

	// The source is a DaemonSet in staging whose pod reports the digest
	// of its tag.
	sns := namespace(t, staging)
	digest := fakeDigest(t.Name() + "good")
	createDaemonSet(t, staging, sns, "agent", rolling, podTemplate("agent",
		[]corev1.Container{container("agent", "registry.test/agent:v2")},
		map[string]string{"imageid.testenv.ferry.dev/agent": "registry.test/agent@" + digest}))
	good := "registry.test/agent@" + digest
	r := ferry(t, baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/ds/agent?context=staging", "FERRY_TARGETS", tgt), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	promoted := waitDaemonSet(t, production, pns, "agent")
	if _, err := production.Admin.CoordinationV1().Leases(pns).Get(context.Background(), "ferry.daemonset.agent", metav1.GetOptions{}); err != nil {
		t.Errorf("no lease ferry.daemonset.agent: %v", err)
	}
	if got := promoted.Spec.Template.Spec.Containers[0].Image; got != good {
		t.Fatalf("daemonset runs %s, want %s", got, good)
	}

	r = ferry(t, baseEnv().with("FERRY_SOURCE", "registry.test/agent-crash@"+fakeDigest(t.Name()), "FERRY_TARGETS", tgt), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	after := waitDaemonSet(t, production, pns, "agent")
	if !equality.Semantic.DeepEqual(after.Spec.Template, promoted.Spec.Template) {
		t.Errorf("template not restored:\nwant %+v\ngot  %+v", promoted.Spec.Template, after.Spec.Template)
	}
	if !equality.Semantic.DeepEqual(after.Spec.UpdateStrategy, before.Spec.UpdateStrategy) {
		t.Errorf("update strategy changed: %+v", after.Spec.UpdateStrategy)
	}
}

func TestOnDeleteRefusedWithoutWrites(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	createStatefulSet(t, production, pns, "db", 1, appsv1.StatefulSetUpdateStrategy{Type: appsv1.OnDeleteStatefulSetStrategyType},
		podTemplate("db", []corev1.Container{container("app", "registry.test/db:v1")}, nil))
	createDaemonSet(t, production, pns, "agent", appsv1.DaemonSetUpdateStrategy{Type: appsv1.OnDeleteDaemonSetStrategyType},
		podTemplate("agent", []corev1.Container{container("agent", "registry.test/agent:v1")}, nil))
	for _, tgt := range []string{"k8s:" + pns + "/statefulset/db?context=production", "k8s:" + pns + "/daemonset/agent?context=production"} {
		r := ferry(t, baseEnv().with("FERRY_SOURCE", "registry.test/x@"+fakeDigest(tgt), "FERRY_TARGETS", tgt), "promote")
		if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "OnDelete") || !strings.Contains(r.stdout+r.stderr, "RollingUpdate") {
			t.Fatalf("%s: want exit 2 explaining OnDelete\n%s", tgt, r)
		}
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused promotions wrote: %v", m)
	}
}

func TestInitAndTwoAppContainersInOnePromotion(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web",
		initContainers: []corev1.Container{container("migrate", "registry.test/shop:v1")},
		containers: []corev1.Container{
			container("app", "registry.test/shop:v1"),
			container("worker", "registry.test/shop:v1"),
			container("proxy", "registry.test/envoy:1.30"),
		}})
	writes := len(mutations(t, production, pns))

	tgt := target(pns, "web", "production") + "&container=migrate,app,worker"
	good := "registry.test/shop@" + fakeDigest(t.Name())
	r := ferry(t, baseEnv().with("FERRY_SOURCE", good, "FERRY_TARGETS", tgt), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	after := get(t, production, pns, "web")
	if after.Generation != before.Generation+1 {
		t.Errorf("generation %d → %d: want one patch", before.Generation, after.Generation)
	}
	if patches := deploymentPatches(mutations(t, production, pns)[writes:]); patches != 1 {
		t.Errorf("%d patches of the deployment, want 1", patches)
	}
	if got := after.Spec.Template.Spec.InitContainers[0].Image; got != good {
		t.Errorf("migrate runs %s", got)
	}
	if imageOf(after, "app") != good || imageOf(after, "worker") != good || imageOf(after, "proxy") != "registry.test/envoy:1.30" {
		t.Errorf("containers %+v", after.Spec.Template.Spec.Containers)
	}

	// A crash in one of them restores all three together.
	r = ferry(t, baseEnv().with("FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()+"crash"), "FERRY_TARGETS", tgt), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	waitRolledOut(t, production, pns, "web")
	if restored := get(t, production, pns, "web"); !equality.Semantic.DeepEqual(restored.Spec.Template, after.Spec.Template) {
		t.Errorf("template not restored:\nwant %+v\ngot  %+v", after.Spec.Template, restored.Spec.Template)
	}
}

// A DaemonSet keeps being watched through a wave's soak: a pod of its new
// revision that starts crash-looping ends the soak and is restored.
func TestDaemonSetCrashDuringTheSoakRestores(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	rolling := appsv1.DaemonSetUpdateStrategy{Type: appsv1.RollingUpdateDaemonSetStrategyType}
	before := createDaemonSet(t, production, pns, "agent", rolling, podTemplate("agent",
		[]corev1.Container{container("agent", "registry.test/agent:v1")}, nil))
	cmd, out, errb := ferryCmd(t, baseEnv().with(
		"FERRY_SOURCE", "registry.test/agent@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", "k8s:"+pns+"/daemonset/agent?context=production",
		"FERRY_SOAK", "3m",
	), "promote")
	startUntil(t, cmd, errb, "soak: 3m0s", 2*time.Minute)
	ctx := context.Background()
	promoted := getDaemonSet(t, production, pns, "agent")
	pods, err := production.Admin.CoreV1().Pods(pns).List(ctx, metav1.ListOptions{LabelSelector: "app=agent"})
	if err != nil || len(pods.Items) != 1 {
		t.Fatalf("pods of the daemonset: %v (%d)", err, len(pods.Items))
	}
	p := pods.Items[0]
	if p.Spec.Containers[0].Image != promoted.Spec.Template.Spec.Containers[0].Image {
		t.Fatalf("pod %s runs %s, not the promoted image", p.Name, p.Spec.Containers[0].Image)
	}
	crashLoop(t, &p)
	r := wait(t, cmd, out, errb)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	if tr := r.report(t).Targets[0]; tr.Status != promote.StatusRestored || !strings.Contains(tr.Error, "after its verification") {
		t.Fatalf("target %+v", tr)
	}
	after := waitDaemonSet(t, production, pns, "agent")
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("template not restored")
	}
}

// A run killed while it verifies a StatefulSet leaves its record on the
// Lease ferry.statefulset.NAME; ferry recover restores the snapshot from
// it, template and update strategy.
func TestStatefulSetKilledMidRolloutIsRecovered(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	before := createStatefulSet(t, production, pns, "db", 2, partition(0), podTemplate("db",
		[]corev1.Container{container("app", "registry.test/db:v1")},
		map[string]string{"slowready.testenv.ferry.dev/delay": "30s"}))
	img := "registry.test/db-slowready@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", "k8s:"+pns+"/statefulset/db?context=production", "FERRY_LOCK_TTL", "2s")
	killAt(t, e.with("FERRY_SOURCE", img), "verify: waiting")

	left := recordOf(t, pns, kube.KindStatefulSet, "db")
	if !left.Step.Unfinished() || left.Snapshot == nil || left.Image != img {
		t.Fatalf("the killed run left %+v, want an unfinished record with its snapshot", left)
	}
	r := ferry(t, e, "recover")
	if r.code != 0 || !strings.Contains(r.stderr, "recover: found an unfinished promotion of "+img) {
		t.Fatalf("recover: want exit 0 and what it found\n%s", r)
	}
	after := waitStatefulSet(t, production, pns, "db")
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) || !equality.Semantic.DeepEqual(after.Spec.UpdateStrategy, before.Spec.UpdateStrategy) {
		t.Errorf("not restored:\nbefore %+v %+v\nafter  %+v %+v", before.Spec.Template, before.Spec.UpdateStrategy, after.Spec.Template, after.Spec.UpdateStrategy)
	}
	if rec := recordOf(t, pns, kube.KindStatefulSet, "db"); rec.Step != promote.StepDone {
		t.Errorf("the record after recover is at %s, want done", rec.Step)
	}
}
