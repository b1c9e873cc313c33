package e2e

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// stagingApp creates Deployment "web" in a fresh staging namespace running
// repo:tag, whose pods report repo@digest as kwok is told to, and returns
// the namespace and the digest.
func stagingApp(t *testing.T, repo, tag string) (ns, digest string) {
	t.Helper()
	ns = namespace(t, staging)
	digest = fakeDigest(repo + ":" + tag + t.Name())
	create(t, staging, ns, deploy{
		name:           "web",
		containers:     []corev1.Container{container("app", repo+":"+tag)},
		podAnnotations: map[string]string{"imageid.testenv.ferry.dev/app": repo + "@" + digest},
	})
	return ns, digest
}

func target(ns, name, context string) string {
	return "k8s:" + ns + "/" + name + "?context=" + context
}

func TestPromoteTagToTwoProductionDeployments(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	before := map[string]*appsv1.Deployment{}
	for _, n := range []string{"web-eu", "web-us"} {
		before[n] = create(t, production, pns, deploy{name: n, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	}
	e := env{
		// CI style: the kubeconfig arrives base64-encoded in a secret.
		"FERRY_KUBECONFIG_DATA": b64(kubeconfigData),
		"FERRY_OUTPUT":          "json",
		"FERRY_SOURCE":          "k8s:" + sns + "/web?context=staging",
		"FERRY_TARGETS":         target(pns, "web-eu", prodARN) + "\n" + target(pns, "web-us", prodAt),
		"GITHUB_SHA":            "0123456789abcdef",
	}

	// plan changes nothing and says what would change.
	r := ferry(t, e, "plan")
	if r.code != 0 {
		t.Fatalf("plan: want exit 0\n%s", r)
	}
	if rep := r.report(t); rep.Outcome != promote.OutcomePlanned || rep.Digest != digest {
		t.Fatalf("plan: outcome %q digest %q, want planned %s", rep.Outcome, rep.Digest, digest)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("plan wrote to production: %v", m)
	}

	r = ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("promote: want exit 0\n%s", r)
	}
	rep := r.report(t)
	want := "registry.test/shop@" + digest
	if rep.Outcome != promote.OutcomePromoted || rep.Digest != digest || rep.Image != want {
		t.Fatalf("report: outcome %q image %q, want promoted %s", rep.Outcome, rep.Image, want)
	}
	for i, n := range []string{"web-eu", "web-us"} {
		tr := rep.Targets[i]
		if tr.Status != promote.StatusPromoted || tr.Before == nil || tr.After == nil {
			t.Fatalf("%s: report %+v", n, tr)
		}
		if tr.Before.Image != "registry.test/shop:v1" || tr.Before.Revision != "1" || tr.After.Image != want || tr.After.Revision != "2" {
			t.Errorf("%s: before %+v after %+v", n, *tr.Before, *tr.After)
		}
		d := get(t, production, pns, n)
		if got := imageOf(d, "app"); got != want {
			t.Errorf("%s runs %s, want %s (the digest staging's pods report)", n, got, want)
		}
		cause := d.Annotations["kubernetes.io/change-cause"]
		if !strings.Contains(cause, digest) || !strings.Contains(cause, "k8s:"+sns+"/web") || !strings.Contains(cause, "0123456789abcdef") {
			t.Errorf("%s change-cause %q does not say what was promoted from where", n, cause)
		}
		waitRolledOut(t, production, pns, n)
	}

	// Promoting again finds nothing to do and writes nothing.
	writes := len(mutations(t, production, pns))
	r = ferry(t, e, "promote")
	if r.code != 0 || r.report(t).Outcome != promote.OutcomeUnchanged {
		t.Fatalf("second promote: want exit 0 and unchanged\n%s", r)
	}
	if got := len(mutations(t, production, pns)); got != writes {
		t.Fatalf("second promote wrote %d times to production", got-writes)
	}

	// status, in text: one line per target with what it runs.
	r = ferry(t, env{"KUBECONFIG": kubeconfigPath, "FERRY_TARGETS": e["FERRY_TARGETS"]}, "status")
	if r.code != 0 || strings.Count(r.stdout, want) != 2 {
		t.Fatalf("status: want both targets on %s\n%s", want, r)
	}
}

func TestCrashRestoresEveryTarget(t *testing.T) {
	t.Parallel()
	// Staging is healthy in real life and production crashes (its
	// environment differs); kwok crashes by image, so the source here is
	// the crashing image's reference, pinned.
	src := "registry.test/shop-crash@" + fakeDigest(t.Name())
	pns := namespace(t, production)
	before := map[string]*appsv1.Deployment{}
	for _, n := range []string{"web-a", "web-b"} {
		before[n] = create(t, production, pns, deploy{name: n, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	}
	rsBefore := map[string]string{}
	for n, d := range before {
		rsBefore[n] = activeReplicaSet(t, production.Admin, d).Name
	}
	e := baseEnv().with(
		"FERRY_SOURCE", src,
		"FERRY_TARGETS", target(pns, "web-a", "production")+" "+target(pns, "web-b", "production"),
	)
	start := time.Now()
	r := ferry(t, e, "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1 (failed, restored)\n%s", r)
	}
	t.Logf("crash detected and both targets restored in %s", time.Since(start))
	rep := r.report(t)
	if rep.Outcome != promote.OutcomeFailed {
		t.Fatalf("outcome %q, want failed", rep.Outcome)
	}
	if !strings.Contains(r.stdout, "CrashLoopBackOff") {
		t.Errorf("report does not name CrashLoopBackOff")
	}
	for i, n := range []string{"web-a", "web-b"} {
		if rep.Targets[i].Status != promote.StatusRestored {
			t.Errorf("%s: status %q, want restored", n, rep.Targets[i].Status)
		}
		assertRestored(t, before[n], rsBefore[n])
	}
}

// assertRestored checks that a Deployment runs the template it had before,
// on the very ReplicaSet it had before. (The revision number moves on, as
// with kubectl rollout undo: the controller gives the re-adopted
// ReplicaSet the next revision.)
func assertRestored(t *testing.T, before *appsv1.Deployment, rsName string) {
	t.Helper()
	waitRolledOut(t, production, before.Namespace, before.Name)
	after := get(t, production, before.Namespace, before.Name)
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("%s: template not restored:\nbefore %+v\nafter  %+v", before.Name, before.Spec.Template, after.Spec.Template)
	}
	if rs := activeReplicaSet(t, production.Admin, after); rs == nil || rs.Name != rsName {
		t.Errorf("%s: active replica set %v, want %s", before.Name, rs, rsName)
	}
	if after.Annotations["kubernetes.io/change-cause"] != before.Annotations["kubernetes.io/change-cause"] {
		t.Errorf("%s: change-cause %q, want %q", before.Name, after.Annotations["kubernetes.io/change-cause"], before.Annotations["kubernetes.io/change-cause"])
	}
}

func TestOnlyTheNamedContainerChanges(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{
		container("app", "registry.test/shop:v1"),
		container("proxy", "registry.test/envoy:1.30"),
	}})
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging")

	// Without ?container= the choice is ambiguous: refused, nothing written.
	r := ferry(t, e.with("FERRY_TARGETS", target(pns, "web", "production")), "promote")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "container=") {
		t.Fatalf("want exit 2 asking for ?container=\n%s", r)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused promotion wrote: %v", m)
	}

	r = ferry(t, e.with("FERRY_TARGETS", target(pns, "web", "production")+"&container=app"), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	d := get(t, production, pns, "web")
	if got := imageOf(d, "app"); got != "registry.test/shop@"+digest {
		t.Errorf("app runs %s", got)
	}
	if got := imageOf(d, "proxy"); got != "registry.test/envoy:1.30" {
		t.Errorf("proxy changed to %s", got)
	}
}

func TestRestoreWithoutRevisionHistory(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	zero := int32(0)
	before := create(t, production, pns, deploy{name: "web", history: &zero, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", target(pns, "web", "production"),
	), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	// With revisionHistoryLimit 0 the old ReplicaSet may be gone; the
	// template is what counts.
	waitRolledOut(t, production, pns, "web")
	after := get(t, production, pns, "web")
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("template not restored (old replica set was %s)", rs)
	}
}

func TestPausedDeployment(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", paused: true, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", target(pns, "web", "production"))

	r := ferry(t, e, "promote")
	if r.code != 2 || !strings.Contains(r.stdout, "paused") || !strings.Contains(r.stdout, "FERRY_ON_PAUSED") {
		t.Fatalf("want exit 2 naming the pause and FERRY_ON_PAUSED\n%s", r)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused promotion wrote: %v", m)
	}

	r = ferry(t, e.with("FERRY_ON_PAUSED", "resume"), "promote")
	if r.code != 0 {
		t.Fatalf("with FERRY_ON_PAUSED=resume: want exit 0\n%s", r)
	}
	d := get(t, production, pns, "web")
	if d.Spec.Paused || imageOf(d, "app") != "registry.test/shop@"+digest {
		t.Errorf("paused=%v image=%s", d.Spec.Paused, imageOf(d, "app"))
	}
}

func TestSIGTERMDuringVerifyRestores(t *testing.T) {
	t.Parallel()
	sns, _ := stagingApp(t, "registry.test/shop-slowready", "v4")
	pns := namespace(t, production)
	// kwok keeps slowready pods unready for this long.
	before := create(t, production, pns, deploy{name: "web",
		containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
		podAnnotations: map[string]string{slowReadyAnnotation: "10m"},
	})
	rs := activeReplicaSet(t, production.Admin, before).Name
	cmd, out, errb := ferryCmd(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production"),
	), "promote")
	startUntil(t, cmd, errb, "verify:", 60*time.Second)
	time.Sleep(500 * time.Millisecond)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := wait(t, cmd, out, errb)
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored after SIGTERM\n%s", r)
	}
	assertRestored(t, before, rs)
}

func TestProgressDeadlineExceeded(t *testing.T) {
	t.Parallel()
	sns, _ := stagingApp(t, "registry.test/shop-slowready", "v5")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", deadline: 3,
		containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
		podAnnotations: map[string]string{slowReadyAnnotation: "10m"},
	})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r := ferry(t, baseEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production"),
	), "promote")
	if r.code != 1 || !strings.Contains(r.stdout, "progress deadline exceeded") {
		t.Fatalf("want exit 1 with progress deadline exceeded\n%s", r)
	}
	assertRestored(t, before, rs)
}

func TestRollbackCommand(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", target(pns, "web", "production"))
	if r := ferry(t, e, "promote"); r.code != 0 {
		t.Fatalf("promote\n%s", r)
	}
	if r := ferry(t, e, "rollback"); r.code != 0 {
		t.Fatalf("rollback\n%s", r)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != "registry.test/shop:v1" {
		t.Fatalf("after rollback runs %s", got)
	}
	if r := ferry(t, e, "rollback", "--to-revision", "2"); r.code != 0 {
		t.Fatalf("rollback --to-revision 2\n%s", r)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != "registry.test/shop@"+digest {
		t.Fatalf("after rollback to revision 2 runs %s", got)
	}
	if r := ferry(t, e, "rollback", "--to-revision", "99"); r.code != 2 {
		t.Fatalf("rollback to a revision that does not exist: want exit 2\n%s", r)
	}
}

// TestBadConfigurationChangesNothing runs ferry with broken settings and
// checks that each exits 2 naming the variable, and that not one write
// reached either API server.
func TestBadConfigurationChangesNothing(t *testing.T) {
	t.Parallel()
	sns, _ := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	src, dst := "k8s:"+sns+"/web?context=staging", target(pns, "web", "production")
	ctx := context.Background()
	writes := func() int {
		n := 0
		for _, c := range []*testenv.Cluster{staging, production} {
			m, err := c.Mutations(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range m {
				if e.Namespace == sns || e.Namespace == pns {
					n++
				}
			}
		}
		return n
	}
	before := writes()
	cases := []struct {
		name string
		env  env
		want []string
	}{
		{"nothing set", env{}, []string{"FERRY_SOURCE", "FERRY_TARGETS"}},
		{"bad target address", baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", "k8:"+pns+"/web"), []string{"FERRY_TARGETS", "k8s:"}},
		{"unknown context", baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, "web", "prod-typo")), []string{"prod-typo", "production"}},
		{"source is a target", baseEnv().with("FERRY_SOURCE", dst, "FERRY_TARGETS", dst), []string{"FERRY_TARGETS"}},
		{"bad kubeconfig data", env{"FERRY_KUBECONFIG_DATA": "%%%not-base64%%%", "FERRY_SOURCE": src, "FERRY_TARGETS": dst}, []string{"FERRY_KUBECONFIG_DATA"}},
		{"bad timeout", baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", dst, "FERRY_TIMEOUT", "soon"), []string{"FERRY_TIMEOUT"}},
		{"unknown deployment", baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, "nope", "production")), []string{"not found"}},
		{"unknown container", baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", dst+"&container=sidecar"), []string{"sidecar"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := ferry(t, c.env, "promote")
			if r.code != 2 {
				t.Fatalf("want exit 2\n%s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stdout+r.stderr, w) {
					t.Errorf("output does not mention %q\n%s", w, r)
				}
			}
		})
	}
	if after := writes(); after != before {
		t.Fatalf("bad configurations made %d writes", after-before)
	}
	if got := get(t, production, pns, "web"); imageOf(got, "app") != "registry.test/shop:v1" {
		t.Fatalf("production changed to %s", imageOf(got, "app"))
	}
}

// A tag-referenced source with no running pod cannot say which digest it
// runs: ferry refuses, unless FERRY_RESOLVE_TAGS lets it ask the registry.
func TestResolveTagInRegistryWhenNoPodRuns(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/idle", "v3", nil)
	sns := namespace(t, staging)
	none := int32(0)
	create(t, staging, sns, deploy{name: "web", replicas: &none, containers: []corev1.Container{container("app", img.repo+":v3")}})
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", target(pns, "web", "production"))

	r := ferry(t, e, "promote")
	if r.code != 2 || !strings.Contains(r.stdout, "FERRY_RESOLVE_TAGS") {
		t.Fatalf("want exit 2 pointing at FERRY_RESOLVE_TAGS\n%s", r)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused promotion wrote: %v", m)
	}
	r = ferry(t, e.with("FERRY_RESOLVE_TAGS", "true"), "promote")
	if r.code != 0 {
		t.Fatalf("with FERRY_RESOLVE_TAGS=true: want exit 0\n%s", r)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != img.ref() {
		t.Fatalf("production runs %s, want the registry's digest %s", got, img.ref())
	}
}
