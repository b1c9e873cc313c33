package e2e

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// The reliability suite: ferry's promise is that production ends healthy
// on the new image, or exactly as it was, and that otherwise exit 3 names
// the targets that need a human. Each test breaks something on the way
// and checks that promise with the built binary.

// Registries throttle (429 with Retry-After) and fail (503) in bursts
// while ferry reads and copies an image to Heroku: the copy completes, the
// digest and image id are unchanged, every burst was ridden out, and the
// retries were logged and bounded.
func TestFaultRegistryThrottlesMidCopy(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	var layers []string
	isLayer := layerReads(&layers)
	// The config blob is read by the snapshot; layers only by the copy.
	config503 := &images.Fault{Match: images.Matching(http.MethodGet, "/blobs/sha256:"), Times: 3, Status: http.StatusServiceUnavailable}
	layer429 := &images.Fault{Match: isLayer, Times: 2, Status: http.StatusTooManyRequests, RetryAfter: "1"}
	layer503 := &images.Fault{Match: isLayer, Times: 3, Status: http.StatusServiceUnavailable}
	src := ownRegistry(t, switchable(&armed, images.Chain(layer429.Wrap, layer503.Wrap, config503.Wrap)))
	img := pushTo(t, src, "acme/shop", "v7", images.Spec{Layers: 3, LayerSize: 256 << 10})
	layers = layerDigests(t, img.ref())
	armed.Store(true)

	app := herokuApp(t, "throttled")
	seedHeroku(t, app, nil, "web")
	// The Heroku registry throttles the upload sessions and fails the
	// manifest.
	emu.Inject(herokuemu.Fault{Method: http.MethodPost, Path: "/v2/" + app + "/web/blobs/uploads/*", Times: 2, Status: http.StatusTooManyRequests, RetryAfter: time.Second})
	emu.Inject(herokuemu.Fault{Method: http.MethodPut, Path: "/v2/" + app + "/web/manifests/*", Times: 2, Status: http.StatusServiceUnavailable})
	patches := emu.FormationPatches(app)

	start := time.Now()
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	took := time.Since(start)
	if r.code != 0 {
		t.Fatalf("want exit 0 after riding out the faults\n%s", r)
	}
	assertRuns(t, app, img.config.String(), "web")
	if n := emu.FormationPatches(app) - patches; n != 1 {
		t.Errorf("%d formation PATCHes, want 1", n)
	}
	for what, f := range map[string]*images.Fault{"config 503": config503, "layer 429": layer429, "layer 503": layer503} {
		if f.Injected() != f.Times {
			t.Errorf("%s: %d of %d faults injected", what, f.Injected(), f.Times)
		}
	}
	// The digest is unchanged: the Heroku registry holds the very manifest.
	dst, _ := name.ParseReference(emu.RegistryHost() + "/" + app + "/web:latest")
	desc, err := remote.Get(dst, remote.WithAuth(&authn.Basic{Username: "_", Password: herokuKey}))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != img.manifest {
		t.Errorf("Heroku registry holds %s, the source is %s", desc.Digest, img.manifest)
	}
	faults := 3 + 2 + 3 + 2 + 2
	retries := strings.Count(r.stderr, "; retrying")
	if retries < faults {
		t.Errorf("%d retries logged for %d faults", retries, faults)
	}
	t.Logf("ferry rode out %d registry faults with %d logged retries in %s", faults, retries, took.Round(time.Millisecond))
	if took > 60*time.Second {
		t.Errorf("took %s: retries are not bounded", took)
	}
}

// pushBehindLayerFault pushes an image built from spec as acme/shop:tag
// to a registry of the test's own, then arms f on the reads of its
// layers: the snapshot (manifest and config) goes through, the copy meets
// f. Storing false in the switch it returns disarms f.
func pushBehindLayerFault(t *testing.T, tag string, spec images.Spec, f *images.Fault) (pushed, *atomic.Bool) {
	t.Helper()
	armed := new(atomic.Bool)
	var layers []string
	f.Match = layerReads(&layers)
	src := ownRegistry(t, switchable(armed, f.Wrap))
	img := pushTo(t, src, "acme/shop", tag, spec)
	layers = layerDigests(t, img.ref())
	armed.Store(true)
	return img, armed
}

// layerReads matches the GETs of the blobs *layers names. The digests
// are known only once the image is pushed, after the registry (and its
// faults) started, hence the pointer.
func layerReads(layers *[]string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		if r.Method != http.MethodGet {
			return false
		}
		for _, l := range *layers {
			if strings.HasSuffix(r.URL.Path, "/blobs/"+l) {
				return true
			}
		}
		return false
	}
}

// layerDigests lists the layers of an image in the test's registries.
func layerDigests(t *testing.T, ref string) []string {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(r)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		d, err := l.Digest()
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, d.String())
	}
	return out
}

// The source registry goes away while ferry copies the image to Heroku:
// ferry stops with the cause, sends no formation PATCH, and the app runs
// what it ran.
func TestFaultSourceRegistryGoesAwayMidCopy(t *testing.T) {
	t.Parallel()
	var armed atomic.Bool
	gone := &outage{}
	var layers []string
	slow := &images.Fault{Times: 1, Delay: 2 * time.Second, Match: layerReads(&layers)}
	src := ownRegistry(t, switchable(&armed, images.Chain(gone.Wrap, slow.Wrap)))
	img := pushTo(t, src, "acme/shop", "v8", images.Spec{Layers: 2, LayerSize: 128 << 10})
	layers = layerDigests(t, img.ref())
	armed.Store(true)
	app := herokuApp(t, "srcgone")
	old := seedHeroku(t, app, nil, "web")
	before := current(t, app)
	patches := emu.FormationPatches(app)

	cmd, out, errb := ferryCmd(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	startUntil(t, cmd, errb, "copying", 30*time.Second)
	gone.down.Store(true)
	start := time.Now()
	r := wait(t, cmd, out, errb)
	t.Logf("ferry gave up %s after the registry went away", time.Since(start).Round(time.Millisecond))
	if r.code != 1 && r.code != 2 {
		t.Fatalf("want exit 1 or 2\n%s", r)
	}
	if !strings.Contains(r.stdout, "copying") || !strings.Contains(r.stdout, src) {
		t.Errorf("the report does not say the copy from %s failed", src)
	}
	if n := emu.FormationPatches(app) - patches; n != 0 {
		t.Errorf("%d formation PATCHes after a failed copy", n)
	}
	if cur := assertRuns(t, app, old, "web"); cur.Version != before.Version {
		t.Errorf("current release v%d, want v%d untouched", cur.Version, before.Version)
	}
}

// Heroku (API and registry) goes away while ferry copies the image: ferry
// stops with the cause, and since it never sent a formation PATCH it
// knows there is nothing to restore: exit 1, not "needs a human".
func TestFaultHerokuGoesAwayMidCopy(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "v9", nil)
	e := ownEmulator(t, herokuemu.Options{})
	app := ownApp(t, e, "hkgone")
	old := seedOn(t, e, app, nil, "web")
	before := currentOn(t, e, app)
	// Uploads hang until the emulator closes.
	e.Inject(herokuemu.Fault{Method: http.MethodPost, Path: "/v2/" + app + "/web/blobs/uploads/*", Times: 100, Delay: time.Minute})

	cmd, out, errb := ferryCmd(t, emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web",
		"FERRY_RESTORE_TIMEOUT", "20s"), "promote")
	startUntil(t, cmd, errb, "copying", 30*time.Second)
	time.Sleep(300 * time.Millisecond)
	e.Close()
	start := time.Now()
	r := wait(t, cmd, out, errb)
	t.Logf("ferry gave up %s after Heroku went away", time.Since(start).Round(time.Millisecond))
	if r.code != 1 && r.code != 2 {
		t.Fatalf("want exit 1 or 2: nothing was released\n%s", r)
	}
	if !strings.Contains(r.stdout, "copying") || !strings.Contains(r.stdout, e.RegistryHost()) {
		t.Errorf("the report does not say the copy to %s failed", e.RegistryHost())
	}
	if n := e.FormationPatches(app); n != 0 {
		t.Errorf("%d formation PATCHes", n)
	}
	if cur := currentOn(t, e, app); cur.Version != before.Version || cur.Images["web"] != old {
		t.Errorf("current release %+v, want v%d untouched", cur, before.Version)
	}
}

// The Heroku API answers 429 and 5xx during the release and again during
// the restore, and loses the answers to the formation PATCH and to the
// rollback POST (they take effect, the client sees 503): every read is
// retried within bounds, the PATCH and the rollback are each sent exactly
// once, and the app ends on the release it ran before.
func TestFaultHerokuAPIFlakyDuringReleaseAndRestore(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "crashy-flaky", map[string]string{herokuemu.LabelDyno: "crash"})
	e := ownEmulator(t, herokuemu.Options{BootTime: 300 * time.Millisecond})
	app := ownApp(t, e, "flaky")
	old := seedOn(t, e, app, nil, "web")
	before := currentOn(t, e, app)
	base := "/apps/" + app
	during := []herokuemu.Fault{
		{Method: http.MethodGet, Path: base + "/releases*", Times: 2, Status: http.StatusTooManyRequests, RetryAfter: time.Second},
		{Method: http.MethodGet, Path: base + "/formation*", Times: 1, Status: http.StatusInternalServerError},
		{Method: http.MethodGet, Path: base + "/dynos*", Times: 2, Status: http.StatusServiceUnavailable},
		// The PATCH takes effect; its answer is lost.
		{Method: http.MethodPatch, Path: base + "/formation", Times: 1, Status: http.StatusServiceUnavailable, Apply: true},
		// So does the rollback's, after a second (which also gives the
		// test time to add the faults for the rest of the restore).
		{Method: http.MethodPost, Path: base + "/releases", Times: 1, Status: http.StatusBadGateway, Apply: true, Delay: time.Second},
	}
	for _, f := range during {
		e.Inject(f)
	}
	cmd, out, errb := ferryCmd(t, emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	start := time.Now()
	startUntil(t, cmd, errb, "restoring every changed target", time.Minute)
	restore := []herokuemu.Fault{
		{Method: http.MethodGet, Path: base + "/dynos*", Times: 2, Status: http.StatusTooManyRequests, RetryAfter: time.Second},
		{Method: http.MethodGet, Path: base + "/releases/*", Times: 1, Status: http.StatusServiceUnavailable},
	}
	for _, f := range restore {
		e.Inject(f)
	}
	r := wait(t, cmd, out, errb)
	took := time.Since(start)
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	cur := currentOn(t, e, app)
	if cur.Images["web"] != old || cur.RollbackOf != before.Version {
		t.Errorf("current release %+v, want a rollback to v%d running %s", cur, before.Version, old)
	}
	if n := e.FormationPatches(app); n != 1 {
		t.Errorf("%d formation PATCHes, want exactly 1", n)
	}
	rollbacks, posts := 0, 0
	for _, rel := range e.Releases(app) {
		if rel.RollbackOf != 0 {
			rollbacks++
		}
	}
	for _, m := range appMutations(e, app) {
		if m.Method == http.MethodPost && m.Path == base+"/releases" {
			posts++
		}
	}
	if rollbacks != 1 || posts != 1 {
		t.Errorf("%d rollback releases from %d POSTs, want 1 from 1", rollbacks, posts)
	}
	failed, injected := 0, 0
	for _, q := range e.Requests() {
		if containsApp(q.Path, app) && q.Status >= 429 && q.Server == "api" {
			failed++
		}
	}
	for _, f := range append(during, restore...) {
		injected += f.Times
	}
	if failed != injected {
		t.Errorf("%d API answers failed, %d faults were injected: some were never reached", failed, injected)
	}
	if n := strings.Count(r.stderr, "heroku API: GET"); n < 5 {
		t.Errorf("%d retries of reads logged, want at least 5", n)
	}
	for _, want := range []string{"the formation update took effect", "checking whether it took effect"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr does not say %q", want)
		}
	}
	t.Logf("%d faults ridden out; promote failed and restored in %s", injected, took.Round(time.Millisecond))
	if took > 2*time.Minute {
		t.Errorf("took %s", took)
	}
}

// The formation PATCH fails and takes no effect: ferry looks for a
// release, finds none, and stops without sending it again; the app runs
// what it ran, and the message says to run ferry again.
func TestFaultFormationPatchFailsIsNotResent(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "patchfail", nil)
	app := herokuApp(t, "patchfail")
	old := seedHeroku(t, app, nil, "web")
	before := current(t, app)
	emu.Inject(herokuemu.Fault{Method: http.MethodPatch, Path: "/apps/" + app + "/formation", Times: 1, Status: http.StatusServiceUnavailable})
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	if n := emu.FormationPatches(app); n != 1 {
		t.Errorf("%d formation PATCHes, want 1", n)
	}
	if !strings.Contains(r.stdout, "run ferry again") {
		t.Errorf("the report does not say what to do")
	}
	if cur := assertRuns(t, app, old, "web"); cur.Version != before.Version {
		t.Errorf("current release v%d, want v%d", cur.Version, before.Version)
	}
}

// TestFaultAPIServer stops and restarts a production API server while
// ferry works. It runs on a control plane of its own, so the shared
// clusters keep serving the tests that run meanwhile; its subtests run
// one after the other.
func TestFaultAPIServer(t *testing.T) {
	t.Parallel()
	iso := isolatedCluster(t, "faults")

	// The API server restarts while ferry watches a slow rollout: the
	// watch resumes, and the verdict follows what the pods do after.
	t.Run("restart during verification", func(t *testing.T) { faultRestartDuringVerification(t, iso) })

	// The API server goes away after the release and stays away through
	// the restore: exit 3, naming every target, with what is known of
	// what each runs.
	t.Run("restore fails while the API server is down", func(t *testing.T) { faultRestoreWhileDown(t, iso) })
}

func faultRestartDuringVerification(t *testing.T, iso isolated) {
	ctx := context.Background()
	ns := namespace(t, iso.c)
	create(t, iso.c, ns, deploy{name: "web",
		containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
		podAnnotations: map[string]string{slowReadyAnnotation: "5s"},
	})
	src := "registry.test/shop-slowready@" + fakeDigest(t.Name())
	cmd, out, errb := ferryCmd(t, iso.env().with("FERRY_SOURCE", src, "FERRY_TARGETS", "k8s:"+ns+"/web?context=isolated"), "promote")
	startUntil(t, cmd, errb, "verify:", time.Minute)
	start := time.Now()
	if err := iso.c.RestartAPIServer(ctx); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	t.Logf("API server restarted in %s", time.Since(start).Round(time.Millisecond))
	if strings.Contains(errb.String(), "promote ") {
		t.Fatalf("ferry finished before the API server was back, so the restart proves nothing:\n%s", errb.String())
	}
	r := wait(t, cmd, out, errb)
	if r.code != 0 || r.report(t).Outcome != promote.OutcomePromoted {
		t.Fatalf("want exit 0, promoted: the pods became ready after the restart\n%s", r)
	}
	waitRolledOut(t, iso.c, ns, "web")
	if got := imageOf(get(t, iso.c, ns, "web"), "app"); got != src {
		t.Errorf("runs %s, want %s", got, src)
	}
}

func faultRestoreWhileDown(t *testing.T, iso isolated) {
	ctx := context.Background()
	ns := namespace(t, iso.c)
	targets := []string{}
	for _, n := range []string{"web-a", "web-b"} {
		create(t, iso.c, ns, deploy{name: n,
			containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
			podAnnotations: map[string]string{slowReadyAnnotation: "10m"},
		})
		targets = append(targets, "k8s:"+ns+"/"+n+"?context=isolated")
	}
	src := "registry.test/shop-slowready@" + fakeDigest(t.Name())
	cmd, out, errb := ferryCmd(t, iso.env().with("FERRY_SOURCE", src, "FERRY_TARGETS", strings.Join(targets, " "),
		"FERRY_TIMEOUT", "6s", "FERRY_RESTORE_TIMEOUT", "5s"), "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	eventually(t, time.Minute, "both targets released", func() bool { return strings.Count(errb.String(), "verify:") == 2 })
	if err := iso.c.StopAPIServer(); err != nil {
		_ = cmd.Process.Kill()
		t.Fatal(err)
	}
	start := time.Now()
	r := wait(t, cmd, out, errb)
	took := time.Since(start)
	if err := iso.c.StartAPIServer(ctx); err != nil {
		t.Fatal(err)
	}
	if r.code != 3 {
		t.Fatalf("want exit 3\n%s", r)
	}
	rep := r.report(t)
	if rep.Outcome != promote.OutcomeRestoreFailed {
		t.Errorf("outcome %s", rep.Outcome)
	}
	for i, tr := range rep.Targets {
		if tr.Status != promote.StatusRestoreFailed {
			t.Errorf("%s: %s, want restore-failed", tr.Target, tr.Status)
		}
		for _, want := range []string{"what it runs now could not be read", "its release asked for " + src, "before the promotion it ran registry.test/shop:v1 (revision 1)"} {
			if !strings.Contains(tr.Restore, want) {
				t.Errorf("%s: restore error lacks %q: %s", tr.Target, want, tr.Restore)
			}
		}
		// The run's error (the last stderr line) names every target.
		if !strings.Contains(rep.Error, targets[i]) {
			t.Errorf("the error does not name %s", targets[i])
		}
	}
	t.Logf("exit 3 %s after the API server went away (timeout 6s, restore timeout 5s)", took.Round(time.Millisecond))
	if took > 40*time.Second {
		t.Errorf("took %s: the timeouts do not bound the run", took)
	}
	// What ferry said is what happened: its release landed and stays.
	for _, n := range []string{"web-a", "web-b"} {
		if got := imageOf(get(t, iso.c, ns, n), "app"); got != src {
			t.Errorf("%s runs %s", n, got)
		}
	}
	// Once the API server is back, `ferry rollback` is the way out.
	r = ferry(t, iso.env().with("FERRY_TARGETS", strings.Join(targets, " ")), "rollback")
	if r.code != 0 {
		t.Fatalf("rollback after the outage: want exit 0\n%s", r)
	}
	for _, n := range []string{"web-a", "web-b"} {
		if got := imageOf(get(t, iso.c, ns, n), "app"); got != "registry.test/shop:v1" {
			t.Errorf("%s runs %s after rollback", n, got)
		}
	}
}

// sigterm starts ferry, sends SIGTERM once stderr shows when, and returns
// the result and how long ferry took after the signal.
func sigterm(t *testing.T, e env, when string, again bool) (result, time.Duration) {
	t.Helper()
	cmd, out, errb := ferryCmd(t, e, "promote")
	startUntil(t, cmd, errb, when, time.Minute)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	if again {
		// CI systems signal again before they escalate to SIGKILL:
		// the restore must go on.
		if errb.waitFor("restoring every changed target", 30*time.Second) {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	r := wait(t, cmd, out, errb)
	return r, time.Since(sent)
}

// SIGTERM while the image is being copied to Heroku: nothing was released,
// so nothing is sent to the API but reads; exit 1 at once.
func TestFaultSIGTERMDuringCopy(t *testing.T) {
	t.Parallel()
	// The snapshot reads the manifest and config; only the copy reads
	// layers, and those reads hang.
	slow := &images.Fault{Times: 100, Delay: 30 * time.Second}
	img, _ := pushBehindLayerFault(t, "v10", images.Spec{Layers: 2}, slow)
	app := herokuApp(t, "termcopy")
	old := seedHeroku(t, app, nil, "web")
	before := current(t, app)
	e := herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web")
	cmd, out, errb := ferryCmd(t, e, "promote")
	startUntil(t, cmd, errb, "copying", time.Minute)
	eventually(t, 30*time.Second, "a layer read held", func() bool { return slow.Injected() > 0 })
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	r := wait(t, cmd, out, errb)
	took := time.Since(sent)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	if !strings.Contains(r.stdout, "interrupted") {
		t.Errorf("the report does not say the run was interrupted")
	}
	if n := emu.FormationPatches(app); n != 0 {
		t.Errorf("%d formation PATCHes", n)
	}
	if cur := assertRuns(t, app, old, "web"); cur.Version != before.Version {
		t.Errorf("current release v%d, want v%d", cur.Version, before.Version)
	}
	t.Logf("exit %d %s after SIGTERM during the copy", r.code, took.Round(time.Millisecond))
	if took > 10*time.Second {
		t.Errorf("took %s after SIGTERM", took)
	}
}

// SIGTERM while the release is in its release phase: the release cannot
// be stopped, so ferry waits for it to end, then rolls back to the
// recorded release.
func TestFaultSIGTERMDuringRelease(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "slowphase", nil)
	e := ownEmulator(t, herokuemu.Options{ReleasePhase: 4 * time.Second, BootTime: 200 * time.Millisecond})
	app := ownApp(t, e, "termrelease")
	old := seedOn(t, e, app, nil, "web", "release")
	before := currentOn(t, e, app)
	r, took := sigterm(t, emuEnv(e).with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web,release",
		"FERRY_RESTORE_TIMEOUT", "60s"), "following it", false)
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	cur := currentOn(t, e, app)
	if cur.Images["web"] != old || cur.Images["release"] != old || cur.RollbackOf != before.Version {
		t.Errorf("current release %+v, want a rollback to v%d on %s", cur, before.Version, old)
	}
	if n := e.FormationPatches(app); n != 1 {
		t.Errorf("%d formation PATCHes, want 1", n)
	}
	t.Logf("exit %d %s after SIGTERM during the release phase", r.code, took.Round(time.Millisecond))
	if took > 60*time.Second {
		t.Errorf("took %s after SIGTERM: beyond FERRY_RESTORE_TIMEOUT", took)
	}
}

// SIGTERM, twice, while a Deployment and a Heroku app are being verified
// (the app already passed): both are restored before ferry exits.
func TestFaultSIGTERMDuringVerification(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop-slowready", "v11", nil)
	app := herokuApp(t, "termverify")
	old := seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web",
		containers:     []corev1.Container{container("app", "registry.test/shop:v1")},
		podAnnotations: map[string]string{slowReadyAnnotation: "10m"},
	})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r, took := sigterm(t, herokuEnv().with("FERRY_SOURCE", img.ref(),
		"FERRY_TARGETS", "heroku:"+app+"/web "+target(pns, "web", "production"),
		"FERRY_RESTORE_TIMEOUT", "60s"), "promoted in", true)
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	for _, tr := range r.report(t).Targets {
		if tr.Status != promote.StatusRestored {
			t.Errorf("%s: %s, want restored", tr.Target, tr.Status)
		}
	}
	if !strings.Contains(r.stderr, "still restoring") {
		t.Errorf("the second SIGTERM was not acknowledged")
	}
	assertRuns(t, app, old, "web")
	assertRestored(t, before, rs)
	t.Logf("exit %d %s after SIGTERM during verification", r.code, took.Round(time.Millisecond))
	if took > 60*time.Second {
		t.Errorf("took %s after SIGTERM: beyond FERRY_RESTORE_TIMEOUT", took)
	}
}

// One of three targets fails after the other two were promoted: all three
// are restored, newest first.
func TestFaultOneOfThreeTargetsFails(t *testing.T) {
	t.Parallel()
	// Healthy on Kubernetes (kwok goes by the image name), crashing on
	// Heroku (the emulator goes by the image's labels).
	img := push(t, "acme/shop", "v12", map[string]string{herokuemu.LabelDyno: "crash"})
	app := herokuApp(t, "oneofthree")
	old := seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	before, rs := map[string]*appsv1.Deployment{}, map[string]string{}
	for _, n := range []string{"web-a", "web-b"} {
		before[n] = create(t, production, pns, deploy{name: n, containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
		rs[n] = activeReplicaSet(t, production.Admin, before[n]).Name
	}
	targets := []string{target(pns, "web-a", "production"), target(pns, "web-b", "production"), "heroku:" + app + "/web"}
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", strings.Join(targets, " "),
		"FERRY_PARALLELISM", "1"), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	rep := r.report(t)
	for i, tr := range rep.Targets {
		if tr.Status != promote.StatusRestored {
			t.Errorf("%s: %s, want restored", tr.Target, tr.Status)
		}
		if i < 2 && !strings.Contains(tr.Error, "restored because another target failed") {
			t.Errorf("%s: error %q does not say why a healthy target was restored", tr.Target, tr.Error)
		}
	}
	for _, n := range []string{"web-a", "web-b"} {
		assertRestored(t, before[n], rs[n])
	}
	assertRuns(t, app, old, "web")
	assertLatest(t, app, "web", old)
	// Newest first: the Heroku app, then web-b, then web-a.
	last := -1
	for _, tg := range []string{targets[2], targets[1], targets[0]} {
		i := strings.Index(r.stderr, tg+": restored to")
		if i < last {
			t.Errorf("%s restored out of order", tg)
		}
		last = i
	}
}
