package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// kill -9 at every step of a promotion to a Heroku app, then the next run:
// the app's current release runs exactly its pre-run images or a build
// that was verified healthy, and the report says which.

func TestCrashHerokuKillAtEveryStep(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		// labels make the promoted image crash; bootTime is how long
		// dynos take to boot.
		labels   map[string]string
		bootTime time.Duration
		// kill kills the run at its step; it is given the app and the
		// running command's stderr.
		kill func(t *testing.T, e *herokuemu.Emulator, app string, errb *syncBuffer) bool
		then string // recover, promote-same, promote-other
		// verify is FERRY_RECOVER=verify.
		verify bool
		// want is "old" (the snapshot) or "new" (the killed run's image)
		// or "other".
		want string
	}{
		{name: "between the formation PATCH and its answer", bootTime: 200 * time.Millisecond,
			kill: func(t *testing.T, e *herokuemu.Emulator, app string, errb *syncBuffer) bool {
				e.Inject(herokuemu.Fault{Method: http.MethodPatch, Path: "/apps/" + app + "/formation", Apply: true, Delay: time.Minute})
				eventually(t, time.Minute, "the formation PATCH held", func() bool { return e.FormationPatches(app) > 0 })
				return true
			}, then: "recover", want: "old"},
		{name: "right after the release was made", bootTime: 200 * time.Millisecond,
			kill: func(t *testing.T, _ *herokuemu.Emulator, _ string, errb *syncBuffer) bool {
				return errb.waitFor("following it", time.Minute)
			}, then: "promote-other", want: "other"},
		{name: "during verification", bootTime: 4 * time.Second,
			kill: func(t *testing.T, _ *herokuemu.Emulator, _ string, errb *syncBuffer) bool {
				return errb.waitFor("waiting for dynos", time.Minute)
			}, then: "promote-same", want: "new"},
		{name: "during verification then verified on recovery", bootTime: 3 * time.Second,
			kill: func(t *testing.T, _ *herokuemu.Emulator, _ string, errb *syncBuffer) bool {
				return errb.waitFor("waiting for dynos", time.Minute)
			}, then: "recover", verify: true, want: "new"},
		{name: "during the restore", labels: map[string]string{herokuemu.LabelDyno: "crash"}, bootTime: 2 * time.Second,
			kill: func(t *testing.T, _ *herokuemu.Emulator, _ string, errb *syncBuffer) bool {
				return errb.waitFor("rolling back from", 2*time.Minute)
			}, then: "recover", want: "old"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			img := push(t, "acme/shop", strings.ReplaceAll(c.name, " ", "-"), c.labels)
			other := push(t, "acme/shop", strings.ReplaceAll(c.name, " ", "-")+"-other", nil)
			e := ownEmulator(t, herokuemu.Options{BootTime: c.bootTime})
			app := ownApp(t, e, "crash")
			old := seedOn(t, e, app, nil, "web")
			before := currentOn(t, e, app)
			env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web", "FERRY_LOCK_TTL", lockTTL)
			cmd, out, errb := ferryCmd(t, env.with("FERRY_SOURCE", img.ref()), "promote")
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if !c.kill(t, e, app, errb) {
				_ = cmd.Process.Kill()
				_ = cmd.Wait()
				t.Fatalf("ferry never got to its step:\n%s\n%s", out.String(), errb.String())
			}
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Logf("killed; it had printed:\n%s", errb.String())
			if n := recordWrites(e, app); n == 0 {
				t.Fatalf("the killed run wrote no record")
			}

			next := env
			if c.verify {
				next = next.with("FERRY_RECOVER", "verify")
			}
			r := nextRun(t, c.then, next, img.ref(), other.ref())
			if r.code != 0 {
				t.Fatalf("the next run: want exit 0\n%s", r)
			}
			rv := r.report(t).Targets[0].Recovery
			if rv == nil || rv.Image != img.ref() || !rv.Step.Unfinished() {
				t.Fatalf("the report does not say what was found: %+v", rv)
			}
			if err := e.WaitIdle(t.Context(), app); err != nil {
				t.Fatal(err)
			}
			cur := currentOn(t, e, app)
			want := map[string]string{"old": old, "new": img.config.String(), "other": other.config.String()}[c.want]
			if cur.Images["web"] != want {
				t.Errorf("current release v%d runs %s, want the %s image %s (snapshot v%d ran %s)", cur.Version, cur.Images["web"], c.want, want, before.Version, old)
			}
			checkHerokuRecovery(t, e, app, c.want, c.verify, rv)
		})
	}
}

// checkHerokuRecovery checks that app's dynos are up and that the
// recovery ended as want ("old": restored) or verify ("kept") say.
func checkHerokuRecovery(t *testing.T, e *herokuemu.Emulator, app, want string, verify bool, rv *promote.Recovery) {
	t.Helper()
	for _, d := range e.Dynos(app) {
		if d.State != herokuemu.DynoUp {
			t.Errorf("dyno %s is %s after recovery", d.Name, d.State)
		}
	}
	switch {
	case want == "old" && rv.Result != "restored":
		t.Errorf("recovery result %s, want restored", rv.Result)
	case verify && rv.Result != "kept":
		t.Errorf("recovery result %s, want kept", rv.Result)
	}
}

// A release by someone else lands while ferry waits for its own release's
// dynos: ferry does not roll it back, and as the app is healthy on it the
// run is reported superseded — exit 0, not "restore failed".
func TestCrashHerokuSupersededByANewerRelease(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "superseded", nil)
	e := ownEmulator(t, herokuemu.Options{BootTime: 4 * time.Second})
	app := ownApp(t, e, "superseded")
	seedOn(t, e, app, nil, "web")
	hotfix := pushHotfix(t, e, app)
	cmd, out, errb := ferryCmd(t, emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	startUntil(t, cmd, errb, "waiting for dynos", time.Minute)
	if _, err := e.Deploy(app, map[string]string{"web": hotfix}); err != nil {
		t.Fatal(err)
	}
	r := wait(t, cmd, out, errb)
	if r.code != 0 {
		t.Fatalf("want exit 0: superseded while production is healthy\n%s", r)
	}
	rep := r.report(t)
	if rep.Outcome != promote.OutcomeSuperseded || rep.Targets[0].Status != promote.StatusSuperseded {
		t.Errorf("outcome %s, target %s; want superseded", rep.Outcome, rep.Targets[0].Status)
	}
	if cur := currentOn(t, e, app); cur.Images["web"] != hotfix || cur.RollbackOf != 0 {
		t.Errorf("current release %+v, want the newer release left alone", cur)
	}
}

// pushHotfix pushes a fresh image to app/web on e, as someone else's
// `docker push`, and returns its image id.
func pushHotfix(t *testing.T, e *herokuemu.Emulator, app string) string {
	t.Helper()
	img, err := images.Build(images.Spec{Layers: 1, LayerSize: 8 << 10, Seed: seed.Add(1) * 15485863})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := images.Push(t.Context(), e.RegistryHost()+"/"+app+"/web:hotfix", img, remote.WithAuth(&authn.Basic{Username: "_", Password: e.SeedKey()})); err != nil {
		t.Fatal(err)
	}
	id, _ := img.ConfigName()
	return id.String()
}

// kill -9 while the image is copied into registry.heroku.com: nothing
// was released; the next run promotes the same image.
func TestCrashHerokuKillDuringCopy(t *testing.T) {
	t.Parallel()
	slow := &images.Fault{Times: 100, Delay: 30 * time.Second}
	img, armed := pushBehindLayerFault(t, "crashcopy", images.Spec{Layers: 2}, slow)
	e := ownEmulator(t, herokuemu.Options{BootTime: 200 * time.Millisecond})
	app := ownApp(t, e, "crashcopy")
	seedOn(t, e, app, nil, "web")
	env := emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web", "FERRY_LOCK_TTL", lockTTL)
	cmd, _, errb := ferryCmd(t, env, "promote")
	startUntil(t, cmd, errb, "copying", time.Minute)
	eventually(t, 30*time.Second, "a layer read held", func() bool { return slow.Injected() > 0 })
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	armed.Store(false)
	r := ferry(t, env, "promote")
	if r.code != 0 {
		t.Fatalf("the next run: want exit 0\n%s", r)
	}
	rep := r.report(t)
	if rv := rep.Targets[0].Recovery; rv == nil || rv.Step != promote.StepReleasing || rv.Found != promote.FoundSnapshot {
		t.Errorf("recovery %+v, want a releasing record found on the snapshot", rv)
	}
	if n := e.FormationPatches(app); n != 1 {
		t.Errorf("%d formation PATCHes, want the next run's only", n)
	}
	if cur := currentOn(t, e, app); cur.Images["web"] != img.config.String() {
		t.Errorf("current release %+v, want the promoted image", cur)
	}
}

// Kill at a random moment, N times (E2E_KILL_RUNS, default 20), then
// recover: the app always ends on its snapshot's images or on the
// promoted image, verified. Divergences: 0.
func TestCrashHerokuRandomKills(t *testing.T) {
	t.Parallel()
	n := killRuns(t)
	budget := time.Now().Add(4 * time.Minute)
	e := ownEmulator(t, herokuemu.Options{BootTime: time.Second, ReleasePhase: 500 * time.Millisecond})
	app := ownApp(t, e, "randomkill")
	seedOn(t, e, app, nil, "web", "release")
	env := emuEnv(e).with("FERRY_TARGETS", "heroku:"+app+"/web,release", "FERRY_LOCK_TTL", lockTTL)
	randomKills(t, n, budget, func(i int) killOutcome {
		if err := e.WaitIdle(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		before := currentOn(t, e, app).Images["web"]
		// Half the runs promote a build whose dynos crash: the kill may
		// then land during its restore.
		var labels map[string]string
		if i%2 == 1 {
			labels = map[string]string{herokuemu.LabelDyno: "crash"}
		}
		img := push(t, "acme/shop", fmt.Sprintf("random-%d", i), labels)
		cmd, _, errb := ferryCmd(t, env.with("FERRY_SOURCE", img.ref()), "promote")
		delay := killAtRandom(t, cmd)
		r := ferry(t, env, "recover")
		if err := e.WaitIdle(t.Context(), app); err != nil {
			t.Fatal(err)
		}
		return killOutcome{
			delay: delay, recovered: r,
			before: before, now: currentOn(t, e, app).Images["web"], promoted: img.config.String(),
			verified: strings.Contains(errb.String(), "promoted in"),
		}
	})
}

// Someone releases between ferry's snapshot and its formation PATCH (two
// runs that both got past the advisory lock, or a human): ferry reads the
// newest release again right before the PATCH, does not release over it,
// and reports the run superseded.
func TestCrashHerokuNoReleaseOverANewerOne(t *testing.T) {
	t.Parallel()
	// The copy's layer reads are slow: the hotfix lands during the copy,
	// after the snapshot and before the PATCH.
	slow := &images.Fault{Times: 1, Delay: 3 * time.Second}
	img, _ := pushBehindLayerFault(t, "guarded", images.Spec{Layers: 1}, slow)
	e := ownEmulator(t, herokuemu.Options{BootTime: 200 * time.Millisecond})
	app := ownApp(t, e, "guarded")
	seedOn(t, e, app, nil, "web")
	hotfix := pushHotfix(t, e, app)
	cmd, out, errb := ferryCmd(t, emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	startUntil(t, cmd, errb, "copying", time.Minute)
	eventually(t, 30*time.Second, "a layer read held", func() bool { return slow.Injected() > 0 })
	if _, err := e.Deploy(app, map[string]string{"web": hotfix}); err != nil {
		t.Fatal(err)
	}
	r := wait(t, cmd, out, errb)
	if r.code != 0 || r.report(t).Outcome != promote.OutcomeSuperseded || !strings.Contains(r.stdout, "not releasing over it") {
		t.Fatalf("want exit 0, superseded, saying it did not release over the newer release\n%s", r)
	}
	if n := e.FormationPatches(app); n != 0 {
		t.Errorf("%d formation PATCHes: ferry released over the newer release", n)
	}
	if err := e.WaitIdle(t.Context(), app); err != nil {
		t.Fatal(err)
	}
	if cur := currentOn(t, e, app); cur.Images["web"] != hotfix || cur.RollbackOf != 0 {
		t.Errorf("current release %+v, want the hotfix left alone", cur)
	}
}
