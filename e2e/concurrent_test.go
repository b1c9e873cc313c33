package e2e

import (
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
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
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !errb.waitFor("verify:", time.Minute) {
		_ = cmd.Process.Kill()
		t.Fatalf("the first run never verified:\n%s", errb.String())
	}
	writes := len(mutations(t, production, pns))
	refused := ferry(t, e.with("FERRY_SOURCE", second, "FERRY_LOCK_WAIT", "0s"), "promote")
	if refused.code != 2 || !strings.Contains(refused.stdout, "another promotion holds the lock") || !strings.Contains(refused.stdout, "FERRY_LOCK_WAIT") {
		t.Errorf("second run during the first one's rollout, FERRY_LOCK_WAIT=0: want exit 2 naming the lock\n%s", refused)
	}
	if n := len(mutations(t, production, pns)) - writes; n != 0 {
		t.Errorf("the refused run wrote %d times", n)
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

// A second run against a Heroku app whose release is in its release phase
// refuses before it writes anything.
func TestFaultConcurrentRunsHerokuReleaseInProgress(t *testing.T) {
	t.Parallel()
	imgA := push(t, "acme/shop", "phase-a", nil)
	imgB := push(t, "acme/shop", "phase-b", nil)
	e := ownEmulator(t, herokuemu.Options{ReleasePhase: 4 * time.Second})
	app := ownApp(t, e, "inprogress")
	seedOn(t, e, app, nil, "web", "release")
	env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web,release")
	cmd, out, errb := ferryCmd(t, env.with("FERRY_SOURCE", imgA.ref()), "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !errb.waitFor("following it", time.Minute) {
		_ = cmd.Process.Kill()
		t.Fatalf("the first run never released:\n%s", errb.String())
	}
	writes := len(appMutations(e, app))
	refused := ferry(t, env.with("FERRY_SOURCE", imgB.ref()), "promote")
	if refused.code != 2 || !strings.Contains(refused.stdout, "is in progress") {
		t.Errorf("second run during the release phase: want exit 2, release in progress\n%s", refused)
	}
	if n := len(appMutations(e, app)) - writes; n != 0 {
		t.Errorf("the refused run made %d changes", n)
	}
	if r := wait(t, cmd, out, errb); r.code != 0 {
		t.Fatalf("first run: want exit 0\n%s", r)
	}
	if cur := currentOn(t, e, app); cur.Images["web"] != imgA.config.String() {
		t.Errorf("current release %+v, want the first run's image", cur)
	}
}

// A second run releases to a Heroku app while the first run waits for its
// dynos: the first run sees its release replaced and fails, but it must
// not roll back the second run's release (it is not its own): it exits 3
// saying what the app runs, and the second run promotes.
func TestFaultConcurrentRunsHerokuNewerRelease(t *testing.T) {
	t.Parallel()
	imgA := push(t, "acme/shop", "boot-a", nil)
	imgB := push(t, "acme/shop", "boot-b", nil)
	e := ownEmulator(t, herokuemu.Options{BootTime: 4 * time.Second})
	app := ownApp(t, e, "newer")
	seedOn(t, e, app, nil, "web")
	env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web")
	cmd, out, errb := ferryCmd(t, env.with("FERRY_SOURCE", imgA.ref()), "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !errb.waitFor("waiting for dynos", time.Minute) {
		_ = cmd.Process.Kill()
		t.Fatalf("the first run never waited for dynos:\n%s", errb.String())
	}
	second := ferry(t, env.with("FERRY_SOURCE", imgB.ref()), "promote")
	first := wait(t, cmd, out, errb)
	if second.code != 0 {
		t.Errorf("second run: want exit 0\n%s", second)
	}
	if first.code != 3 {
		t.Errorf("first run: want exit 3 (its release was replaced by someone else's)\n%s", first)
	}
	if !strings.Contains(first.stdout, "not rolling back") {
		t.Errorf("the first run does not say why it left the app alone")
	}
	cur := currentOn(t, e, app)
	if cur.Images["web"] != imgB.config.String() || cur.RollbackOf != 0 {
		t.Errorf("current release %+v, want the second run's release", cur)
	}
	for _, rel := range e.Releases(app) {
		if rel.RollbackOf != 0 {
			t.Errorf("a rollback was made: %+v", rel)
		}
	}
}
