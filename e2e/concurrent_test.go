package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Two ferry runs against the same target at once: they serialize, or the
// later one refuses clearly; neither ever restores to a state that is not
// its own snapshot, nor undoes the other's release.

// Both runs start at the same instant against one Deployment: one takes
// the Deployment's lock and promotes; the other waits for it, then
// promotes on top of it, taking the first one's result as its snapshot.
// One release at a time, two releases in all, both runs exit 0.
func TestFaultConcurrentRunsOneDeployment(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	imgs := []string{
		"registry.test/shop-slowready@" + fakeDigest(t.Name()+"a"),
		"registry.test/shop@" + fakeDigest(t.Name()+"b"),
	}
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range imgs {
		wg.Go(func() {
			results[i] = ferry(t, baseEnv().with("FERRY_SOURCE", imgs[i], "FERRY_TARGETS", target(pns, "web", "production")), "promote")
		})
	}
	wg.Wait()
	waiter := -1
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0 (the later run waits for the lock)\n%s", i, r)
		}
		if strings.Contains(r.stderr, "waiting up to") {
			if waiter >= 0 {
				t.Fatalf("both runs waited for each other:\n%s\n%s", results[0], results[1])
			}
			waiter = i
		}
	}
	if waiter < 0 {
		t.Fatalf("neither run waited for the other's lock:\n%s\n%s", results[0], results[1])
	}
	if before := results[waiter].report(t).Targets[0].Before; before == nil || before.Image != imgs[1-waiter] {
		t.Errorf("the waiting run's snapshot is %+v, want the first run's image %s", before, imgs[1-waiter])
	}
	waitRolledOut(t, production, pns, "web")
	if got := imageOf(get(t, production, pns, "web"), "app"); got != imgs[waiter] {
		t.Errorf("runs %s, want the later run's %s", got, imgs[waiter])
	}
	landed := 0
	for _, m := range mutations(t, production, pns) {
		if m.Verb == "patch" && m.Code == 200 {
			landed++
		}
	}
	if landed != 2 {
		t.Errorf("%d patches landed, want one release per run", landed)
	}
}

// A second run starts while the first one verifies: with FERRY_LOCK_WAIT=0
// it refuses at once, naming the run holding the lock, and writes
// nothing; by default it waits for the first run and promotes on top of
// it, taking that as its snapshot.
func TestFaultConcurrentRunsSerialize(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web",
		containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
		podAnnotations: map[string]string{slowReadyAnnotation: "3s"},
	})
	first := "registry.test/shop-slowready@" + fakeDigest(t.Name()+"first")
	second := "registry.test/shop@" + fakeDigest(t.Name()+"second")
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"))
	cmd, out, errb := ferryCmd(t, e.with("FERRY_SOURCE", first), "promote")
	startUntil(t, cmd, errb, "verify:", time.Minute)
	writes, leases := len(mutations(t, production, pns)), len(leaseWrites(t, production, pns))
	refused := ferry(t, e.with("FERRY_SOURCE", second, "FERRY_LOCK_WAIT", "0s"), "promote")
	if refused.code != 2 || !strings.Contains(refused.stdout, "another promotion holds the lock") || !strings.Contains(refused.stdout, "FERRY_LOCK_WAIT") {
		t.Errorf("second run during the first one's rollout, FERRY_LOCK_WAIT=0: want exit 2 naming the lock\n%s", refused)
	}
	if n := len(mutations(t, production, pns)) - writes; n != 0 {
		t.Errorf("the refused run wrote %d times", n)
	}
	// The refused run takes no lease; the first run may renew its own
	// meanwhile (every 10 s with the default FERRY_LOCK_TTL).
	if n := len(leaseWrites(t, production, pns)) - leases; n > 2 {
		t.Errorf("%d lease writes while the refused run ran", n)
	}
	waited := ferry(t, e.with("FERRY_SOURCE", second), "promote")
	r := wait(t, cmd, out, errb)
	if r.code != 0 {
		t.Fatalf("first run: want exit 0\n%s", r)
	}
	if waited.code != 0 || !strings.Contains(waited.stderr, "waiting up to") {
		t.Fatalf("second run: want it to wait for the lock, then exit 0\n%s", waited)
	}
	if before := waited.report(t).Targets[0].Before; before == nil || before.Image != first {
		t.Errorf("the waiting run's snapshot is %+v, want the first run's image %s", before, first)
	}
	waitRolledOut(t, production, pns, "web")
	if got := imageOf(get(t, production, pns, "web"), "app"); got != second {
		t.Errorf("runs %s, want %s", got, second)
	}
}

// A second run against a Heroku app whose release is in its release phase:
// with FERRY_LOCK_WAIT=0 it refuses at once, naming the run that holds the
// app's promotion record, and changes nothing; by default it waits for the
// first run and promotes after it.
func TestFaultConcurrentRunsHerokuReleaseInProgress(t *testing.T) {
	t.Parallel()
	imgA := push(t, "acme/shop", "phase-a", nil)
	imgB := push(t, "acme/shop", "phase-b", nil)
	e := ownEmulator(t, herokuemu.Options{ReleasePhase: 4 * time.Second})
	app := ownApp(t, e, "inprogress")
	seedOn(t, e, app, nil, "web", "release")
	env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web,release")
	cmd, out, errb := ferryCmd(t, env.with("FERRY_SOURCE", imgA.ref()), "promote")
	startUntil(t, cmd, errb, "following it", time.Minute)
	writes := len(appMutations(e, app))
	refused := ferry(t, env.with("FERRY_SOURCE", imgB.ref(), "FERRY_LOCK_WAIT", "0s"), "promote")
	if refused.code != 2 || !strings.Contains(refused.stdout, "another promotion holds the lock") {
		t.Errorf("second run during the release phase, FERRY_LOCK_WAIT=0: want exit 2 naming the lock\n%s", refused)
	}
	if n := len(appMutations(e, app)) - writes; n != 0 {
		t.Errorf("the refused run made %d changes", n)
	}
	waited := ferry(t, env.with("FERRY_SOURCE", imgB.ref()), "promote")
	if r := wait(t, cmd, out, errb); r.code != 0 {
		t.Fatalf("first run: want exit 0\n%s", r)
	}
	if waited.code != 0 || !strings.Contains(waited.stderr, "waiting up to") {
		t.Fatalf("second run: want it to wait, then exit 0\n%s", waited)
	}
	if cur := currentOn(t, e, app); cur.Images["web"] != imgB.config.String() {
		t.Errorf("current release %+v, want the second run's image", cur)
	}
}

// Two runs promote different images to one Heroku app at once, in both
// orders of arrival: they queue on the app's promotion record, or, should
// both get past it, the formation PATCH is guarded and a replaced run is
// reported superseded. Never exit 3 while the app is healthy, never a
// rollback of the other run's release.
func TestFaultConcurrentRunsHerokuBothOrders(t *testing.T) {
	t.Parallel()
	for _, order := range []string{"a-first", "b-first"} {
		t.Run(order, func(t *testing.T) {
			t.Parallel()
			twoHerokuRuns(t, order)
		})
	}
}

// twoHerokuRuns promotes two images to one app at once, in order.
func twoHerokuRuns(t *testing.T, order string) {
	t.Helper()
	imgs := []pushed{push(t, "acme/shop", "both-a-"+order, nil), push(t, "acme/shop", "both-b-"+order, nil)}
	if order == "b-first" {
		imgs[0], imgs[1] = imgs[1], imgs[0]
	}
	e := ownEmulator(t, herokuemu.Options{BootTime: 2 * time.Second})
	app := ownApp(t, e, "both")
	seedOn(t, e, app, nil, "web")
	env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web")
	results := make([]result, 2)
	var wg sync.WaitGroup
	for i := range imgs {
		wg.Go(func() {
			time.Sleep(time.Duration(i) * 50 * time.Millisecond)
			results[i] = ferry(t, env.with("FERRY_SOURCE", imgs[i].ref()), "promote")
		})
	}
	wg.Wait()
	promoted := map[string]bool{}
	for i, r := range results {
		if r.code != 0 {
			t.Fatalf("run %d: want exit 0\n%s", i, r)
		}
		switch rep := r.report(t); rep.Outcome {
		case promote.OutcomePromoted:
			promoted[imgs[i].config.String()] = true
		case promote.OutcomeSuperseded:
		default:
			t.Errorf("run %d: outcome %s, want promoted or superseded", i, rep.Outcome)
		}
	}
	if err := e.WaitIdle(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	cur := currentOn(t, e, app)
	if !promoted[cur.Images["web"]] {
		t.Errorf("the app runs %s, which no run reports promoted", cur.Images["web"])
	}
	for _, rel := range e.Releases(app) {
		if rel.RollbackOf != 0 {
			t.Errorf("a rollback was made: %+v", rel)
		}
	}
}
