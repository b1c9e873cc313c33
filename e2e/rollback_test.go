package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// A promotion of a crashing build is restored; `ferry rollback` right
// after must not take the crashing build for "the revision before" (it was
// rolled away from): it goes back to the good build before the one
// running, and that rolls out healthy.
func TestRollbackAfterARestoredFailureKubernetes(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v2")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	dst := target(pns, "web", "production")
	good := baseEnv().with("FERRY_SOURCE", "k8s:"+sns+"/web?context=staging", "FERRY_TARGETS", dst)
	if r := ferry(t, good, "promote"); r.code != 0 { // revision 2: v2
		t.Fatalf("promote v2\n%s", r)
	}
	crash := baseEnv().with("FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()), "FERRY_TARGETS", dst)
	if r := ferry(t, crash, "promote"); r.code != 1 { // revision 3 crashes, v2 comes back as revision 4
		t.Fatalf("promote a crashing build: want exit 1 (restored)\n%s", r)
	}
	v2 := "registry.test/shop@" + digest
	if got := imageOf(get(t, production, pns, "web"), "app"); got != v2 {
		t.Fatalf("after the restore it runs %s, want %s", got, v2)
	}

	r := ferry(t, good, "rollback")
	if r.code != 0 {
		t.Fatalf("rollback: want exit 0\n%s", r)
	}
	rep := r.report(t)
	if rep.Outcome != promote.OutcomeRolledBack || rep.Targets[0].Status != promote.StatusRolledBack {
		t.Errorf("report: result %s, status %s; want rolled-back", rep.Outcome, rep.Targets[0].Status)
	}
	if rep.Targets[0].Before == nil || rep.Targets[0].Before.Image != v2 || rep.Targets[0].After == nil || rep.Targets[0].After.Image != "registry.test/shop:v1" {
		t.Errorf("report before %+v after %+v: want %s then registry.test/shop:v1", rep.Targets[0].Before, rep.Targets[0].After, v2)
	}
	if strings.Contains(r.stdout, "rollback promoted") {
		t.Errorf("the report calls a rollback a promotion:\n%s", r.stdout)
	}
	waitRolledOut(t, production, pns, "web")
	if got := imageOf(get(t, production, pns, "web"), "app"); got != "registry.test/shop:v1" {
		t.Fatalf("after rollback it runs %s, want the good build before, registry.test/shop:v1", got)
	}
}

// A rollback to a revision that turns out unhealthy is itself restored:
// production ends on what it ran before the rollback, and ferry says it
// failed (exit 1).
func TestRollbackThatFailsIsRestored(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	dst := target(pns, "web", "production")
	crash := baseEnv().with("FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()), "FERRY_TARGETS", dst)
	if r := ferry(t, crash, "promote"); r.code != 1 { // revision 2 crashes, v1 comes back as revision 3
		t.Fatalf("promote a crashing build: want exit 1 (restored)\n%s", r)
	}
	r := ferry(t, baseEnv().with("FERRY_TARGETS", dst), "rollback", "--to-revision", "2")
	if r.code != 1 {
		t.Fatalf("rollback to the crashing revision 2: want exit 1 (failed, restored)\n%s", r)
	}
	rep := r.report(t)
	if rep.Outcome != promote.OutcomeFailed || rep.Targets[0].Status != promote.StatusRestored || !strings.Contains(rep.Targets[0].Error, "CrashLoopBackOff") {
		t.Errorf("report: result %s, status %s, error %q", rep.Outcome, rep.Targets[0].Status, rep.Targets[0].Error)
	}
	waitRolledOut(t, production, pns, "web")
	if got := imageOf(get(t, production, pns, "web"), "app"); got != "registry.test/shop:v1" {
		t.Fatalf("after the failed rollback it runs %s, want what it ran before it", got)
	}
}

// The same on Heroku: after "Rollback to v2" undid a crashing v3, the
// release before is v1, not v3.
func TestRollbackAfterARestoredFailureHeroku(t *testing.T) {
	t.Parallel()
	app := herokuApp(t, "shop-rb")
	v1 := seedHeroku(t, app, nil, "web")
	v2 := seedHeroku(t, app, nil, "web")
	crash := push(t, "acme/crash", "v3", map[string]string{herokuemu.LabelDyno: "crash"})
	e := herokuEnv().with("FERRY_SOURCE", crash.ref(), "FERRY_TARGETS", "heroku:"+app+"/web")
	if r := ferry(t, e, "promote"); r.code != 1 {
		t.Fatalf("promote a crashing build: want exit 1 (restored)\n%s", r)
	}
	if cur := assertRuns(t, app, v2, "web"); cur.Description != "Rollback to v2" {
		t.Fatalf("after the restore v%d is %q, want a rollback to v2", cur.Version, cur.Description)
	}
	r := ferry(t, e, "rollback")
	if r.code != 0 {
		t.Fatalf("rollback: want exit 0\n%s", r)
	}
	if rep := r.report(t); rep.Outcome != promote.OutcomeRolledBack || rep.Targets[0].Status != promote.StatusRolledBack {
		t.Errorf("report: result %s, status %s; want rolled-back", rep.Outcome, rep.Targets[0].Status)
	}
	if cur := assertRuns(t, app, v1, "web"); cur.Description != "Rollback to v1" {
		t.Errorf("after rollback v%d is %q, want a rollback to v1", cur.Version, cur.Description)
	}
}
