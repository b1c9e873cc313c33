package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// kill -9 at every step of a promotion to a Deployment, then the next run
// (`ferry promote` with the same or another image, or `ferry recover`):
// afterwards the Deployment runs exactly its pre-run snapshot or a build
// that was verified healthy, and the report says which.

// lockTTL is short here so that the run after a kill -9 takes the dead
// run's lock over within seconds.
const lockTTL = "3s"

// killAt starts `ferry promote` with e and kills it with SIGKILL as soon as
// stderr shows when. It returns what the killed run printed.
func killAt(t *testing.T, e env, when string) string {
	t.Helper()
	cmd, out, errb := ferryCmd(t, e, "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !errb.waitFor(when, time.Minute) {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("ferry never got to %q:\n%s\n%s", when, out.String(), errb.String())
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("killed at %q; it had printed:\n%s", when, errb.String())
	return errb.String()
}

// leaseRecord reads the promotion record on the Lease of Deployment name.
func leaseRecord(t *testing.T, ns, name string) promote.Record {
	t.Helper()
	return recordOf(t, ns, kube.KindDeployment, name)
}

// recordOf is the promotion record in the Lease of the workload of kind
// named name in production.
func recordOf(t *testing.T, ns, kind, name string) promote.Record {
	t.Helper()
	r, err := tryRecordOf(ns, kind, name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func tryLeaseRecord(ns, name string) (promote.Record, error) {
	return tryRecordOf(ns, kube.KindDeployment, name)
}

func tryRecordOf(ns, kind, name string) (promote.Record, error) {
	var r promote.Record
	l, err := production.Admin.CoordinationV1().Leases(ns).Get(context.Background(), kube.LeaseNameFor(kind, name), metav1.GetOptions{})
	if err != nil {
		return r, fmt.Errorf("reading the lease: %w", err)
	}
	if err := json.Unmarshal([]byte(l.Annotations["ferry.dev/record"]), &r); err != nil {
		return r, fmt.Errorf("the lease holds no record: %w (%v)", err, l.Annotations)
	}
	return r, nil
}

// settledOn waits until the Deployment has rolled out and returns the
// image its container runs.
func settledOn(t *testing.T, ns, name string) string {
	t.Helper()
	waitRolledOut(t, production, ns, name)
	return imageOf(get(t, production, ns, name), "app")
}

// kubeKill is one case of TestCrashKubeKillAtEveryStep.
type kubeKill struct {
	name string
	// killAt is the log line the kill waits for; image what the
	// killed run promotes (its name chooses how kwok runs it).
	killAt, image string
	// slowRestore makes the snapshot's pods take a while to become
	// ready, so that a restore is in progress when the kill lands.
	slowRestore bool
	// then is the next run: recover, promote-same or promote-other.
	then string
	// verify is FERRY_RECOVER=verify for the next run.
	verify bool
}

func TestCrashKubeKillAtEveryStep(t *testing.T) {
	t.Parallel()
	cases := []kubeKill{
		{name: "between the record and the patch", killAt: "release: ", image: "shop", then: "recover"},
		{name: "right after the patch was answered", killAt: "set container", image: "shop-slowready", then: "promote-other"},
		{name: "during verification", killAt: "verify: waiting", image: "shop-slowready", then: "promote-same"},
		{name: "during verification then verified on recovery", killAt: "verify: waiting", image: "shop-slowready", then: "recover", verify: true},
		{name: "during the restore", killAt: "restoring every changed target", image: "shop-crash", slowRestore: true, then: "recover"},
		{name: "during the restore then another image", killAt: "restoring every changed target", image: "shop-crash", slowRestore: true, then: "promote-other"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			killAndRecoverKube(t, c)
		})
	}
}

// killAndRecoverKube kills a promotion at c.killAt, runs the next one,
// and checks what the Deployment runs and what the report says.
func killAndRecoverKube(t *testing.T, c kubeKill) {
	pns := namespace(t, production)
	old := "registry.test/shop:v1"
	if c.slowRestore {
		old = "registry.test/shop-slowready:v1"
	}
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", old)},
		podAnnotations: map[string]string{slowReadyAnnotation: "4s"}, recreate: c.slowRestore})
	img := "registry.test/" + c.image + "@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"), "FERRY_LOCK_TTL", lockTTL)
	killAt(t, e.with("FERRY_SOURCE", img), c.killAt)
	left := leaseRecord(t, pns, "web")
	if !left.Step.Unfinished() || left.Snapshot == nil || left.Snapshot.Image != old || left.Image != img {
		t.Fatalf("the killed run left the record %+v, want an unfinished one with its snapshot", left)
	}
	if st := ferry(t, e, "status"); st.code != 0 || !strings.Contains(st.stdout, "stopped at step "+string(left.Step)) || !strings.Contains(st.stdout, "ferry recover") {
		t.Errorf("ferry status does not tell of the interrupted promotion\n%s", st)
	}

	other := "registry.test/shop@" + fakeDigest(t.Name()+"other")
	next := e
	if c.verify {
		next = next.with("FERRY_RECOVER", "verify")
	}
	r := nextRun(t, c.then, next, img, other)
	if r.code != 0 {
		t.Fatalf("the next run: want exit 0\n%s", r)
	}
	rep := r.report(t)
	rv := rep.Targets[0].Recovery
	if rv == nil || rv.Step != left.Step || rv.Image != img || rv.Run.ID != left.Run.ID {
		t.Fatalf("the report does not say what was found: %+v", rv)
	}
	if !strings.Contains(r.stderr, "recover: found an unfinished promotion of "+img) {
		t.Errorf("the log does not say what was found")
	}
	checkKubeEnd(t, c, rep, settledOn(t, pns, "web"), old, img, other)
	if rec := leaseRecord(t, pns, "web"); rec.Step != promote.StepDone {
		t.Errorf("the record after the next run is at %s, want done", rec.Step)
	}
}

// checkKubeEnd checks that the Deployment runs now what case c ends
// with: its snapshot old, or a verified img or other.
func checkKubeEnd(t *testing.T, c kubeKill, rep promote.Report, now, old, img, other string) {
	t.Helper()
	rv := rep.Targets[0].Recovery
	switch {
	case c.then == "recover" && c.verify:
		if rv.Result != "kept" || now != img {
			t.Errorf("recovery %s, runs %s; want %s verified and kept", rv.Result, now, img)
		}
	case c.then == "recover":
		if rv.Result != "restored" || now != old || rep.Targets[0].Status != promote.StatusRecovered {
			t.Errorf("recovery %s (%s), runs %s; want restored to %s", rv.Result, rep.Targets[0].Status, now, old)
		}
	case c.then == "promote-same":
		if rv.Result != "restored" || now != img || rep.Targets[0].Status != promote.StatusPromoted || rep.Targets[0].Before.Image != old {
			t.Errorf("recovery %s, then %s from %+v, runs %s; want restored, then %s promoted and verified", rv.Result, rep.Targets[0].Status, rep.Targets[0].Before, now, img)
		}
	case c.then == "promote-other":
		if rv.Result != "restored" || now != other || rep.Targets[0].Before.Image != old {
			t.Errorf("recovery %s, then snapshot %+v, runs %s; want restored to %s, then %s promoted", rv.Result, rep.Targets[0].Before, now, old, other)
		}
	}
}

// nextRun is the run after a kill: `ferry recover`, or `ferry promote` of
// the killed run's image or of another one.
func nextRun(t *testing.T, then string, e env, img, other string) result {
	t.Helper()
	switch then {
	case "promote-same":
		return ferry(t, e.with("FERRY_SOURCE", img), "promote")
	case "promote-other":
		return ferry(t, e.with("FERRY_SOURCE", other), "promote")
	}
	return ferry(t, e, "recover")
}

// kill -9 between the patch request and its answer: an admission webhook
// holds the patch at the API server while ferry is killed. The server
// decides what becomes of a write whose client is gone (kube-apiserver
// drops it with the request's context; a write it had already stored
// would stay); the record, written before the request and never told the
// answer, is at "releasing" either way, and `ferry recover` leaves the
// Deployment on its snapshot.
func TestCrashKubeKillWhileThePatchIsInFlight(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	wh, err := testenv.StartImageWebhook(t.Context(), production, "hold-"+pns, pns, "never-admitted")
	if err != nil {
		t.Fatalf("starting the admission webhook: %v", err)
	}
	t.Cleanup(func() { wh.Close(production, "hold-"+pns) })
	held := wh.Stall("shop-inflight", 3*time.Second)
	old := "registry.test/shop:v1"
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", old)}})
	img := "registry.test/shop-inflight@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"), "FERRY_LOCK_TTL", lockTTL)

	cmd, _, errb := ferryCmd(t, e.with("FERRY_SOURCE", img), "promote")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-held:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("the patch never reached the webhook:\n%s", errb.String())
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	time.Sleep(4 * time.Second) // the webhook's hold is over: the server has decided
	t.Logf("after the kill the Deployment runs %s", imageOf(get(t, production, pns, "web"), "app"))
	if left := leaseRecord(t, pns, "web"); left.Step != promote.StepReleasing || left.Image != img {
		t.Fatalf("the killed run left the record %+v, want %s of %s (the answer never came)", left, promote.StepReleasing, img)
	}

	r := ferry(t, e, "recover")
	if r.code != 0 {
		t.Fatalf("ferry recover: want exit 0\n%s", r)
	}
	rv := r.report(t).Targets[0].Recovery
	if rv == nil || rv.Step != promote.StepReleasing || rv.Image != img || rv.Result != "restored" {
		t.Errorf("recovery %+v: want the interrupted release of %s found and the snapshot restored", rv, img)
	}
	if now := settledOn(t, pns, "web"); now != old {
		t.Errorf("after recovery the Deployment runs %s, want its snapshot %s", now, old)
	}
	if rec := leaseRecord(t, pns, "web"); rec.Step != promote.StepDone {
		t.Errorf("the record after recovery is at %s, want done", rec.Step)
	}
}

// Someone else changed the Deployment after a run was killed: the next
// run does not overwrite it; it exits 3 naming the target and what it
// runs, and the run after that starts from there.
func TestCrashKubeChangedBySomeoneElse(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	img := "registry.test/shop-slowready@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"), "FERRY_LOCK_TTL", lockTTL)
	killAt(t, e.with("FERRY_SOURCE", img), "verify: waiting")
	hotfix := []byte(`[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"registry.test/shop:hotfix"}]`)
	if _, err := production.Admin.AppsV1().Deployments(pns).Patch(context.Background(), "web", types.JSONPatchType, hotfix, metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	r := ferry(t, e, "recover")
	if r.code != 3 || !strings.Contains(r.stdout, target(pns, "web", "production")) || !strings.Contains(r.stdout, "someone else") {
		t.Fatalf("want exit 3 naming the target and someone else's change\n%s", r)
	}
	if got := settledOn(t, pns, "web"); got != "registry.test/shop:hotfix" {
		t.Errorf("runs %s: the hotfix was overwritten", got)
	}
	if r := ferry(t, e, "recover"); r.code != 0 {
		t.Errorf("the run after the refusal: want exit 0\n%s", r)
	}
}

// GitHub's cancellation: SIGINT, SIGTERM 7.5 s later, SIGKILL 2.5 s after
// that, while the restore waits for slow pods. ferry marks the record
// restoring and starts the restore at once; the next run finishes it.
func TestCrashKubeGitHubCancellation(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	old := "registry.test/shop-slowready:v1"
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", old)},
		podAnnotations: map[string]string{slowReadyAnnotation: "20s"}, recreate: true})
	img := "registry.test/shop-slowready@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"), "FERRY_LOCK_TTL", lockTTL)
	cmd, out, errb := ferryCmd(t, e.with("FERRY_SOURCE", img), "promote")
	startUntil(t, cmd, errb, "verify: waiting", time.Minute)
	start := time.Now()
	_ = cmd.Process.Signal(syscall.SIGINT)
	if !errb.waitFor("restoring every changed target", 7500*time.Millisecond) {
		t.Errorf("no restore started within 7.5 s of SIGINT")
	}
	time.Sleep(time.Until(start.Add(7500 * time.Millisecond)))
	_ = cmd.Process.Signal(syscall.SIGTERM)
	time.Sleep(2500 * time.Millisecond)
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	t.Logf("cancelled run:\n%s\n%s", out.String(), errb.String())
	if rec := leaseRecord(t, pns, "web"); rec.Step != promote.StepRestoring {
		t.Fatalf("after the cancellation the record is at %s, want restoring", rec.Step)
	}
	r := ferry(t, e, "recover")
	if r.code != 0 {
		t.Fatalf("recover: want exit 0\n%s", r)
	}
	if rv := r.report(t).Targets[0].Recovery; rv == nil || rv.Result != "restored" {
		t.Errorf("recovery %+v, want restored", rv)
	}
	if got := settledOn(t, pns, "web"); got != old {
		t.Errorf("runs %s, want %s", got, old)
	}
}

// Kill at a random moment, N times (E2E_KILL_RUNS, default 20), then
// recover: the Deployment always ends on its snapshot or on the promoted
// image, verified. Divergences: 0.
func TestCrashKubeRandomKills(t *testing.T) {
	t.Parallel()
	n := killRuns(t)
	budget := time.Now().Add(4 * time.Minute)
	pns := namespace(t, production)
	old := "registry.test/shop:v1"
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", old)},
		podAnnotations: map[string]string{slowReadyAnnotation: "1s"}})
	e := baseEnv().with("FERRY_TARGETS", target(pns, "web", "production"), "FERRY_LOCK_TTL", lockTTL)
	randomKills(t, n, budget, func(i int) killOutcome {
		before := settledOn(t, pns, "web")
		// Half the runs promote a build that crashes: the kill may then
		// land during its restore.
		kind := "shop-slowready"
		if i%2 == 1 {
			kind = "shop-crash"
		}
		img := "registry.test/" + kind + "@" + fakeDigest(t.Name()+strconv.Itoa(i))
		cmd, _, errb := ferryCmd(t, e.with("FERRY_SOURCE", img), "promote")
		delay := killAtRandom(t, cmd)
		left, _ := tryLeaseRecord(pns, "web")
		r := ferry(t, e, "recover")
		return killOutcome{
			delay: delay, recovered: r,
			before: before, now: settledOn(t, pns, "web"), promoted: img,
			verified: strings.Contains(errb.String(), "promoted in") || (left.Image == img && left.Step == promote.StepVerified),
		}
	})
}

// randomKills makes n kills, each by kill(i), which promotes, kills ferry
// at a random moment (killAtRandom), recovers and says where the target
// ended. It fails the test for each kill after which the target is on
// neither its snapshot nor a verified build, and if the kills do not all
// fit before budget.
func randomKills(t *testing.T, n int, budget time.Time, kill func(i int) killOutcome) {
	t.Helper()
	divergences, done := 0, 0
	for i := range n {
		if time.Now().After(budget) {
			t.Errorf("only %d of %d kills fit in the time budget", done, n)
			break
		}
		o := kill(i)
		if d := o.divergence(); d != "" {
			divergences++
			t.Errorf("kill %d after %s: %s", i, o.delay, d)
		}
		done++
	}
	t.Logf("%d random kills, %d divergences", done, divergences)
}

// killOutcome is where one random kill and the recover after it left a
// target.
type killOutcome struct {
	delay     time.Duration // when the kill came
	recovered result        // ferry recover's run
	before    string        // what the target ran before the promotion
	now       string        // what it runs after recover
	promoted  string        // the image the killed run promoted
	verified  bool          // whether the killed run verified it
}

// divergence is what is wrong with o, "" when the target ends on its
// snapshot or on the promoted image, verified.
func (o killOutcome) divergence() string {
	switch {
	case o.recovered.code != 0:
		return fmt.Sprintf("recover exit %d\n%s", o.recovered.code, o.recovered)
	case o.now == o.before:
		return ""
	case o.now == o.promoted && o.verified:
		return ""
	default:
		return fmt.Sprintf("runs %s, neither its snapshot %s nor a verified build", o.now, o.before)
	}
}

// killAtRandom starts cmd and sends it SIGKILL at a random moment in its
// first four seconds, unless it exits before; it returns the moment.
func killAtRandom(t *testing.T, cmd *exec.Cmd) time.Duration {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	delay := time.Duration(rand.Int64N(int64(4 * time.Second)))
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	select {
	case <-time.After(delay):
		_ = cmd.Process.Signal(syscall.SIGKILL)
		<-exited
	case <-exited:
	}
	return delay
}

// killRuns is how many random kills a test makes: E2E_KILL_RUNS, 20 by
// default (make test).
func killRuns(t *testing.T) int {
	t.Helper()
	v := os.Getenv("E2E_KILL_RUNS")
	if v == "" {
		return 20
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("E2E_KILL_RUNS=%q: want a positive number", v)
	}
	return n
}
