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
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// twoImageSource creates Deployment name in staging namespace ns with
// containers app and sidecar running appRepo:tag and sideRepo:tag, whose
// pods report the digests given (as kwok is told to); it returns the
// pinned references.
func twoImageSource(t *testing.T, ns, name, appRepo, appDigest, sideRepo, sideDigest string) (app, side string) {
	t.Helper()
	app, side = appRepo+"@"+appDigest, sideRepo+"@"+sideDigest
	create(t, staging, ns, deploy{
		name:       name,
		containers: []corev1.Container{container("app", appRepo+":v2"), container("sidecar", sideRepo+":v2")},
		podAnnotations: map[string]string{
			"imageid.testenv.ferry.dev/app":     app,
			"imageid.testenv.ferry.dev/sidecar": side,
		},
	})
	return app, side
}

// mappedTarget creates production Deployment "web" in a fresh namespace
// with init container migrate and app containers app, proxy and log, and
// waits for it to roll out.
func mappedTarget(t *testing.T) (ns string, before *appsv1.Deployment) {
	t.Helper()
	ns = namespace(t, production)
	return ns, create(t, production, ns, deploy{name: "web",
		initContainers: []corev1.Container{container("migrate", "registry.test/shop:v1")},
		containers: []corev1.Container{
			container("app", "registry.test/shop:v1"),
			container("proxy", "registry.test/envoy:1.30"),
			container("log", "registry.test/fluent:1"),
		}})
}

func replicaSets(t *testing.T, c *testenv.Cluster, ns string) int {
	t.Helper()
	list, err := c.Admin.AppsV1().ReplicaSets(ns).List(context.Background(), metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	return len(list.Items)
}

// A source with two containers built from different images, mapped onto
// a target's init container and two of its three app containers: plan
// shows each container's image, promote changes all three in one patch,
// a crash restores them all, and a mapping naming a container either side
// lacks changes nothing.
func TestMappedContainersInOnePromotion(t *testing.T) {
	t.Parallel()
	sns := namespace(t, staging)
	app, side := twoImageSource(t, sns, "web", "registry.test/shop", fakeDigest(t.Name()+"app"), "registry.test/proxy", fakeDigest(t.Name()+"side"))
	pns, before := mappedTarget(t)
	tgt := target(pns, "web", "production") + "&container=migrate=app,app=app,proxy=sidecar"
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", tgt)
	writes := len(mutations(t, production, pns))

	// plan: each container's image, and a dry run of the patch; no write.
	start := time.Now()
	r := ferry(t, e, "plan")
	if r.code != 0 {
		t.Fatalf("plan: want exit 0\n%s", r)
	}
	t.Logf("plan in %s", time.Since(start).Round(time.Millisecond))
	rep := r.report(t)
	wantContainers := []promote.ContainerImage{{Container: "migrate", From: "app", Image: app}, {Container: "app", From: "app", Image: app}, {Container: "proxy", From: "sidecar", Image: side}}
	if rep.Outcome != promote.OutcomePlanned || rep.Image != "" || len(rep.Images) != 2 || rep.Images[1].Image != side ||
		!equality.Semantic.DeepEqual(rep.Targets[0].Containers, wantContainers) {
		t.Fatalf("plan report: outcome %s image %q images %+v containers %+v", rep.Outcome, rep.Image, rep.Images, rep.Targets[0].Containers)
	}
	if !strings.Contains(r.stderr, "dry run: the API server accepts the release") || !strings.Contains(r.stderr, "proxy="+side) {
		t.Errorf("plan does not show the dry run and the per-container images:\n%s", r.stderr)
	}
	if got := mutations(t, production, pns)[writes:]; len(got) != 0 {
		t.Fatalf("plan wrote: %+v", got)
	}

	missingContainersRefused(t, e, pns, writes)

	rsBefore := replicaSets(t, production, pns)
	start = time.Now()
	r = ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("promote: want exit 0\n%s", r)
	}
	t.Logf("promoted three containers from two source images in %s", time.Since(start).Round(time.Millisecond))
	after := get(t, production, pns, "web")
	if after.Generation != before.Generation+1 {
		t.Errorf("generation %d → %d: want one patch", before.Generation, after.Generation)
	}
	if patches := deploymentPatches(mutations(t, production, pns)[writes:]); patches != 1 {
		t.Errorf("%d patches of the deployment, want 1", patches)
	}
	if n := replicaSets(t, production, pns); n != rsBefore+1 {
		t.Errorf("%d replica sets after the promotion, %d before: want one new one", n, rsBefore)
	}
	if got := after.Spec.Template.Spec.InitContainers[0].Image; got != app {
		t.Errorf("migrate runs %s, want %s", got, app)
	}
	if imageOf(after, "app") != app || imageOf(after, "proxy") != side || imageOf(after, "log") != "registry.test/fluent:1" {
		t.Errorf("containers %+v", after.Spec.Template.Spec.Containers)
	}
	if cc := after.Annotations["kubernetes.io/change-cause"]; !strings.Contains(cc, "proxy="+side) {
		t.Errorf("change-cause %q does not say what each container got", cc)
	}
	if rep := r.report(t); rep.Outcome != promote.OutcomePromoted || !equality.Semantic.DeepEqual(rep.Targets[0].Containers, wantContainers) {
		t.Errorf("promote report: %s %+v", rep.Outcome, rep.Targets[0].Containers)
	}
	// Again: every container already runs its image.
	if r := ferry(t, e, "promote"); r.code != 0 || r.report(t).Outcome != promote.OutcomeUnchanged {
		t.Errorf("second promote: want unchanged\n%s", r)
	}

	crashRestoresEveryMappedContainer(t, e, sns, pns, after)
}

// missingContainersRefused: a source container the source does not have,
// and a target container the target does not have, are exit 2 with
// nothing written.
func missingContainersRefused(t *testing.T, e env, pns string, writes int) {
	t.Helper()
	for _, bad := range []struct{ containers, want string }{
		{"app=app,proxy=envoy", `no container "envoy"`},
		{"app=app,cron=sidecar", `no container "cron"`},
	} {
		r := ferry(t, e.with("FERRY_TARGETS", target(pns, "web", "production")+"&container="+bad.containers), "promote")
		if r.code != 2 || !strings.Contains(r.report(t).Error, bad.want) {
			t.Errorf("%s: want exit 2 naming %s\n%s", bad.containers, bad.want, r)
		}
		if got := mutations(t, production, pns)[writes:]; len(got) != 0 {
			t.Fatalf("%s: wrote %+v", bad.containers, got)
		}
	}
}

// crashRestoresEveryMappedContainer promotes a source build whose sidecar
// crashes onto the target that runs after.
func crashRestoresEveryMappedContainer(t *testing.T, e env, sns, pns string, after *appsv1.Deployment) {
	t.Helper()
	// The sidecar of a new source build crashes (kwok crashes it by its
	// name; in staging it runs no pod, its images pinned in its template):
	// all three containers go back together, exactly.
	crashApp, crashSide := "registry.test/shop@"+fakeDigest(t.Name()+"app3"), "registry.test/proxy-crash@"+fakeDigest(t.Name()+"side3")
	zero := int32(0)
	create(t, staging, sns, deploy{name: "web-next", replicas: &zero, containers: []corev1.Container{container("app", crashApp), container("sidecar", crashSide)}})
	start := time.Now()
	r := ferry(t, e.with("FERRY_SOURCE", "k8s:"+sns+"/web-next?context=staging"), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("crash: want exit 1 and restored\n%s", r)
	}
	t.Logf("crash of %s detected and the three containers restored in %s (app %s)", crashSide, time.Since(start).Round(time.Millisecond), crashApp)
	restored := waitRolledOut(t, production, pns, "web")
	if !equality.Semantic.DeepEqual(restored.Spec.Template, after.Spec.Template) {
		t.Errorf("template not restored:\nwant %+v\ngot  %+v", after.Spec.Template, restored.Spec.Template)
	}
	if restored.Annotations["kubernetes.io/change-cause"] != after.Annotations["kubernetes.io/change-cause"] {
		t.Errorf("change-cause %q, want %q", restored.Annotations["kubernetes.io/change-cause"], after.Annotations["kubernetes.io/change-cause"])
	}
}

// A signature policy checks each source image a mapping takes: one of
// the two unsigned refuses the run with exit 2 before anything is
// written; both signed, it promotes and reports each verification.
func TestMappedSignaturesCheckedPerImage(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	l := newSignLab(t)
	push := func(repo string) (ref string) {
		t.Helper()
		img, err := images.Build(images.Spec{Seed: seed.Add(1) * 7919})
		if err != nil {
			t.Fatal(err)
		}
		d, err := images.Push(ctx, l.host+"/"+repo+":v2", img)
		if err != nil {
			t.Fatal(err)
		}
		return l.host + "/" + repo + "@" + d.String()
	}
	app, side := push("acme/shop"), push("acme/proxy")
	must(t, l.key.Sign(ctx, app))
	sns := namespace(t, staging)
	_, appDigest, _ := strings.Cut(app, "@")
	_, sideDigest, _ := strings.Cut(side, "@")
	twoImageSource(t, sns, "web", l.host+"/acme/shop", appDigest, l.host+"/acme/proxy", sideDigest)
	pns, before := mappedTarget(t)
	e := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", target(pns, "web", "production")+"&container=app=app,proxy=sidecar",
		"FERRY_VERIFY_KEY", l.key.Pub, "FERRY_VERIFY_TLOG", "false")
	writes := len(mutations(t, production, pns))

	r := ferry(t, e, "promote")
	if r.code != 2 || !strings.Contains(r.report(t).Error, "checking "+side) || !strings.Contains(r.report(t).Error, "is not signed as required") {
		t.Fatalf("one image unsigned: want exit 2 naming %s\n%s", side, r)
	}
	rep := r.report(t)
	if len(rep.Verifications) != 2 || !rep.Verifications[0].Passed || rep.Verifications[0].Image != app || rep.Verifications[1].Passed || rep.Verifications[1].Image != side {
		t.Errorf("verifications %+v: want app's passed, then sidecar's failed", rep.Verifications)
	}
	if got := mutations(t, production, pns)[writes:]; len(got) != 0 {
		t.Fatalf("wrote with an unsigned image: %+v", got)
	}
	if now := get(t, production, pns, "web"); now.Generation != before.Generation {
		t.Fatalf("generation moved: %d → %d", before.Generation, now.Generation)
	}

	must(t, l.key.Sign(ctx, side))
	r = ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("both signed: want exit 0\n%s", r)
	}
	if rep := r.report(t); len(rep.Verifications) != 2 || !rep.Verifications[0].Passed || !rep.Verifications[1].Passed {
		t.Errorf("verifications %+v: want both passed", rep.Verifications)
	}
	after := get(t, production, pns, "web")
	if imageOf(after, "app") != app || imageOf(after, "proxy") != side || after.Generation != before.Generation+1 {
		t.Errorf("after: generation %d, containers %+v", after.Generation, after.Spec.Template.Spec.Containers)
	}
}

// A mapped promotion killed while its rollout runs leaves a Lease record
// from which `ferry recover`, another process, puts every container back.
func TestMappedPromotionKilledIsRecovered(t *testing.T) {
	t.Parallel()
	sns := namespace(t, staging)
	app, side := "registry.test/shop@"+fakeDigest(t.Name()+"app"), "registry.test/proxy-slowready@"+fakeDigest(t.Name()+"side")
	zero := int32(0)
	create(t, staging, sns, deploy{name: "web", replicas: &zero, containers: []corev1.Container{container("app", app), container("sidecar", side)}})
	pns, before := mappedTarget(t)
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production")+"&container=migrate=app,app=app,proxy=sidecar", "FERRY_LOCK_TTL", "2s")
	killAt(t, e.with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging"), "verify: waiting")

	rec := leaseRecord(t, pns, "web")
	want := "migrate=" + app + ", app=" + app + ", proxy=" + side
	if !rec.Step.Unfinished() || rec.Snapshot == nil || rec.Image != want || !strings.Contains(string(rec.Snapshot.State), `"from":"sidecar"`) {
		t.Fatalf("the killed run left %+v, want an unfinished record of %s whose snapshot maps the containers", rec, want)
	}
	if now := get(t, production, pns, "web"); imageOf(now, "proxy") != side {
		t.Fatalf("the killed run had not released: proxy runs %s", imageOf(now, "proxy"))
	}
	start := time.Now()
	r := ferry(t, e, "recover")
	if r.code != 0 || !strings.Contains(r.stderr, "recover: found an unfinished promotion of "+want) {
		t.Fatalf("recover: want exit 0 and what it found\n%s", r)
	}
	t.Logf("recovered in %s", time.Since(start).Round(time.Millisecond))
	after := waitRolledOut(t, production, pns, "web")
	if !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("not restored:\nbefore %+v\nafter  %+v", before.Spec.Template, after.Spec.Template)
	}
	if rec := leaseRecord(t, pns, "web"); rec.Step != promote.StepDone {
		t.Errorf("the record after recover is at %s, want done", rec.Step)
	}
}
