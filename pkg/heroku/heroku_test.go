package heroku

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// apiKey is distinctive so that a leak is easy to find.
const apiKey = "hk-SECRET-5f0c1d9e-never-print-me"

// logs captures Logger lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) Logf(target, format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, "["+target+"] "+fmt.Sprintf(format, args...))
}

func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

type env struct {
	t    *testing.T
	emu  *herokuemu.Emulator
	c    *Client
	logs *logs
	src  string // a plain source registry host
	errs []error
}

func newEnv(t *testing.T) *env {
	t.Helper()
	emu, err := herokuemu.New(herokuemu.Options{
		ReleasePhase: 150 * time.Millisecond, StreamDelay: 30 * time.Millisecond, BootTime: 30 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { emu.Close() })
	for _, a := range []struct{ name, stack string }{{"shop-prod", "container"}, {"shop-staging", "container"}, {"legacy", "heroku-24"}, {"secret-app", "container"}} {
		if _, err := emu.CreateApp(a.name, a.stack); err != nil {
			t.Fatal(err)
		}
	}
	emu.AddKey(apiKey, "shop-prod", "shop-staging", "legacy")
	host, stop, err := images.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	e := &env{t: t, emu: emu, logs: &logs{}, src: host}
	e.c = e.client(apiKey)
	t.Cleanup(e.checkNoLeak)
	return e
}

func (e *env) client(k string) *Client {
	e.t.Helper()
	c, err := NewClient(Options{
		APIKey: k, APIURL: e.emu.APIURL(), Registry: e.emu.RegistryHost(), Logger: e.logs,
		PollInterval: 10 * time.Millisecond, BootTimeout: 3 * time.Second, ReleaseTimeout: 5 * time.Second,
		Retry:       httpx.Policy{Backoff: 10 * time.Millisecond, MaxWait: 50 * time.Millisecond},
		Description: "promoted ghcr.io/acme/shop from heroku:shop-staging (abc123, https://ci.example/run/1)",
	})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// note records an error so the leak check sees it.
func (e *env) note(err error) error {
	if err != nil {
		e.errs = append(e.errs, err)
	}
	return err
}

func (e *env) checkNoLeak() {
	if strings.Contains(e.logs.text(), apiKey) {
		e.t.Errorf("the API key appears in the log:\n%s", e.logs.text())
	}
	for _, err := range e.errs {
		if strings.Contains(err.Error(), apiKey) || strings.Contains(fmt.Sprintf("%+v", err), apiKey) {
			e.t.Errorf("the API key appears in an error: %v", err)
		}
	}
}

// seed pushes an image built from spec to APP/PROC for each process with
// the emulator's seed key, and returns the image id.
func (e *env) seedPush(app string, spec images.Spec, procs ...string) string {
	e.t.Helper()
	img, err := images.Build(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	for _, p := range procs {
		if _, err := images.Push(context.Background(), e.emu.RegistryHost()+"/"+app+"/"+p+":latest", img,
			remote.WithAuth(&authn.Basic{Username: "_", Password: e.emu.SeedKey()})); err != nil {
			e.t.Fatal(err)
		}
	}
	id, _ := img.ConfigName()
	return id.String()
}

// seedRelease pushes and deploys spec to APP for procs and waits.
func (e *env) seedRelease(app string, spec images.Spec, procs ...string) string {
	e.t.Helper()
	id := e.seedPush(app, spec, procs...)
	m := map[string]string{}
	for _, p := range procs {
		m[p] = id
	}
	if _, err := e.emu.Deploy(app, m); err != nil {
		e.t.Fatal(err)
	}
	if err := e.emu.WaitIdle(context.Background(), app); err != nil {
		e.t.Fatal(err)
	}
	return id
}

// source pushes spec to the plain source registry and returns it pinned.
func (e *env) source(spec images.Spec) (image.Image, string) {
	e.t.Helper()
	img, err := images.Build(spec)
	if err != nil {
		e.t.Fatal(err)
	}
	repo := e.src + "/acme/shop"
	d, err := images.Push(context.Background(), repo+":1.0", img)
	if err != nil {
		e.t.Fatal(err)
	}
	id, _ := img.ConfigName()
	return image.Image{Repository: repo, Digest: d, Tag: "1.0"}, id.String()
}

// target is the target addr names; with a health option, decorated with
// the HTTP check as ferry does.
func (e *env) target(addr string) promote.Target {
	e.t.Helper()
	a, err := address.Parse(addr)
	if err != nil {
		e.t.Fatal(err)
	}
	tgt, err := NewTarget(e.c, a)
	if err != nil {
		e.t.Fatal(err)
	}
	if a.Health == "" {
		return tgt
	}
	chk := health.Check{URL: a.Health, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second, Threshold: 2, Soak: 30 * time.Millisecond}
	return promote.WithHealth(tgt, chk, e.logs)
}

// run is one promotion of one target in a test: the target and the values
// its steps hand each other.
type run struct {
	e   *env
	tgt promote.Target
	s   promote.Snapshot
	c   promote.Change
}

// snapshotted returns the target addr names, snapshotted for img; the test
// fails when the snapshot does.
func (e *env) snapshotted(addr string, img image.Image) *run {
	e.t.Helper()
	tgt := e.target(addr)
	s, err := tgt.Snapshot(ctx(e.t), img)
	if e.note(err) != nil {
		e.t.Fatal(err)
	}
	return &run{e: e, tgt: tgt, s: s}
}

func (r *run) release(img image.Image) error {
	var err error
	r.c, err = r.tgt.Release(ctx(r.e.t), r.s, img)
	return r.e.note(err)
}

func (r *run) verify() error { return r.e.note(r.tgt.Verify(ctx(r.e.t), r.s, r.c)) }

func (r *run) restore() error { return r.e.note(r.tgt.Restore(ctx(r.e.t), r.s, r.c)) }

// state is the snapshot's Heroku state.
func (r *run) state() State {
	r.e.t.Helper()
	st, err := promote.DecodeState[State](r.s.State)
	if err != nil {
		r.e.t.Fatal(err)
	}
	return st
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPromoteBothProcessTypesInOneRelease(t *testing.T) {
	e := newEnv(t)
	old := e.seedRelease("shop-prod", images.Spec{Seed: 1}, "web", "worker")
	if err := e.emu.Scale("shop-prod", "worker", 1); err != nil {
		t.Fatal(err)
	}
	img, id := e.source(images.Spec{Seed: 2, Layers: 2})
	r := e.snapshotted("heroku:shop-prod/web,worker?health=/healthz", img)
	st := r.state()
	if r.s.UpToDate || r.s.Revision != "v1" || st.Images["web"] != old[7:19] || st.Images["worker"] != old[7:19] {
		t.Fatalf("snapshot %+v %+v", r.s, st)
	}
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v\n%s", err, e.logs.text())
	}
	if err := r.verify(); err != nil {
		t.Fatalf("Verify: %v\n%s", err, e.logs.text())
	}
	rels := e.emu.Releases("shop-prod")
	if len(rels) != 2 {
		t.Fatalf("%d releases, want 2", len(rels))
	}
	rel := rels[1]
	if !rel.Current || rel.Status != herokuemu.StatusSucceeded || rel.Images["web"] != id || rel.Images["worker"] != id {
		t.Fatalf("release %+v, want both process types on %s", rel, id)
	}
	if n := e.emu.FormationPatches("shop-prod"); n != 1 {
		t.Errorf("%d formation PATCHes, want 1", n)
	}
	for _, p := range []string{"web", "worker"} {
		if got := e.emu.Pushed("shop-prod", p); len(got) != 2 || got[1] != id {
			t.Errorf("pushed to %s: %v", p, got)
		}
	}
	text := e.logs.text()
	for _, want := range []string{"worker:latest: image " + id[7:19] + ", 0 bytes uploaded", "mounted", "promoted ghcr.io/acme/shop", "health: ", "passed"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
	// A second snapshot sees the image in place.
	s, err := r.tgt.Snapshot(ctx(t), img)
	if e.note(err) != nil || !s.UpToDate || s.Revision != "v2" {
		t.Fatalf("second snapshot %+v %v", s, err)
	}
}

func TestCrashRestoresTheRecordedRelease(t *testing.T) {
	e := newEnv(t)
	old := e.seedRelease("shop-prod", images.Spec{Seed: 10}, "web")
	img, _ := e.source(images.Spec{Seed: 11, Labels: map[string]string{herokuemu.LabelDyno: "crash"}})
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	err := r.verify()
	if err == nil || !strings.Contains(err.Error(), "crashed: web.1") {
		t.Fatalf("Verify: %v, want a crash", err)
	}
	if err := r.restore(); err != nil {
		t.Fatalf("Restore: %v\n%s", err, e.logs.text())
	}
	rels := e.emu.Releases("shop-prod")
	if len(rels) != 3 {
		t.Fatalf("%d releases, want 3", len(rels))
	}
	rb := rels[2]
	if !rb.Current || rb.Description != "Rollback to v1" || rb.Images["web"] != old || rb.RollbackOf != 1 {
		t.Fatalf("rollback release %+v", rb)
	}
	if d := e.emu.Dynos("shop-prod"); len(d) != 1 || d[0].State != herokuemu.DynoUp || d[0].ReleaseVersion != 3 {
		t.Errorf("dynos after restore: %+v", d)
	}
}

func TestReleasePhaseFailureLeavesTheOldReleaseCurrent(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 20}, "web", "release")
	img, _ := e.source(images.Spec{Seed: 21, Labels: map[string]string{herokuemu.LabelRelease: "fail"}})
	r := e.snapshotted("heroku:shop-prod/web,release", img)
	err := r.release(img)
	if err == nil || !strings.Contains(err.Error(), "release v2 failed in its release phase; v1 stays current") {
		t.Fatalf("Release: %v", err)
	}
	if err := r.restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	rels := e.emu.Releases("shop-prod")
	if len(rels) != 2 || !rels[0].Current || rels[1].Status != herokuemu.StatusFailed {
		t.Fatalf("releases %+v", rels)
	}
	for _, m := range e.emu.Mutations() {
		if m.Method == "POST" && strings.HasSuffix(m.Path, "/releases") {
			t.Errorf("a rollback was sent: %+v", m)
		}
	}
	text := e.logs.text()
	for _, want := range []string{"release phase: Running release command", "release phase: release command exited with status 1", "never ran; v1 is still current: nothing to restore"} {
		if !strings.Contains(text, want) {
			t.Errorf("log lacks %q:\n%s", want, text)
		}
	}
}

func TestReleasePhaseSuccessStreamsOutput(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 25}, "web", "release")
	img, id := e.source(images.Spec{Seed: 26})
	r := e.snapshotted("heroku:shop-prod/web,release", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := r.verify(); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	text := e.logs.text()
	if n := strings.Count(text, "release phase: "); n != 5 {
		t.Errorf("%d release-phase lines, want 5 (each once):\n%s", n, text)
	}
	if rel := e.emu.Releases("shop-prod")[1]; !rel.Current || rel.Images["release"] != id {
		t.Errorf("release %+v", rel)
	}
}

func TestWrongKeyChangesNothing(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 30}, "web")
	bad := e.client("hk-SECRET-wrong-key-never-print")
	err := e.note(bad.CheckAuth(ctx(t)))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "HEROKU_API_KEY") || strings.Contains(err.Error(), "wrong-key") {
		t.Fatalf("CheckAuth: %v", err)
	}
	img, _ := e.source(images.Spec{Seed: 31})
	a, _ := address.Parse("heroku:shop-prod")
	badTarget, err := NewTarget(bad, a)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.note2(badTarget.Snapshot(ctx(t), img))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "HEROKU_API_KEY") {
		t.Fatalf("Snapshot with a wrong key: %v", err)
	}
	// A good key without access to the app.
	tgt := e.target("heroku:secret-app")
	_, err = e.note2(tgt.Snapshot(ctx(t), img))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "no access") {
		t.Fatalf("Snapshot without access: %v", err)
	}
	tgt = e.target("heroku:nosuch-app")
	_, err = e.note2(tgt.Snapshot(ctx(t), img))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "no such app") {
		t.Fatalf("Snapshot of an unknown app: %v", err)
	}
	if m := e.emu.Mutations(); len(m) != 0 {
		t.Fatalf("mutations: %+v", m)
	}
	if strings.Contains(e.logs.text(), "wrong-key") {
		t.Errorf("the wrong key was logged")
	}
}

func (e *env) note2(s promote.Snapshot, err error) (promote.Snapshot, error) {
	return s, e.note(err)
}

func TestRefusesAppsOffTheContainerStack(t *testing.T) {
	e := newEnv(t)
	img, _ := e.source(images.Spec{Seed: 40})
	_, err := e.note2(e.target("heroku:legacy").Snapshot(ctx(t), img))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "heroku-24 stack, not container") {
		t.Fatalf("Snapshot: %v", err)
	}
	if m := e.emu.Mutations(); len(m) != 0 {
		t.Fatalf("mutations: %+v", m)
	}
}

func TestOCIIndexSourceBecomesV2S2(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 50}, "web")
	amd := images.Spec{Seed: 51, OCI: true}
	idx, err := images.Index(map[string]images.Spec{
		"linux/amd64": amd,
		"linux/arm64": {Seed: 52, OCI: true, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	repo := e.src + "/acme/multi"
	d, err := images.PushIndex(context.Background(), repo+":2.0", idx)
	if err != nil {
		t.Fatal(err)
	}
	amdImg, err := images.Build(amd)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := amdImg.ConfigName()
	img := image.Image{Repository: repo, Digest: d}
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v\n%s", err, e.logs.text())
	}
	if err := r.verify(); err != nil {
		t.Fatal(err)
	}
	if got := e.emu.Pushed("shop-prod", "web"); got[len(got)-1] != want.String() {
		t.Fatalf("pushed %v, want image id %s (the amd64 config digest)", got, want)
	}
	if rel := e.emu.Releases("shop-prod")[1]; rel.Images["web"] != want.String() {
		t.Fatalf("release runs %s, want %s", rel.Images["web"], want)
	}
	// The registry holds a v2s2 manifest under latest.
	desc, err := remote.Get(mustRef(t, e.emu.RegistryHost()+"/shop-prod/web:latest"), remote.WithAuth(&authn.Basic{Username: "_", Password: apiKey}))
	if err != nil || desc.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("latest: %v %v", desc, err)
	}
}

func TestSourceResolvesTheReleasedImage(t *testing.T) {
	e := newEnv(t)
	id := e.seedRelease("shop-staging", images.Spec{Seed: 60}, "web", "worker")
	// A config-var style release on top does not change images.
	a, _ := address.Parse("heroku:shop-staging/web,worker")
	src := NewSource(e.c, a)
	img, err := src.Resolve(ctx(t))
	if e.note(err) != nil {
		t.Fatalf("Resolve: %v", err)
	}
	if img.Repository != e.emu.RegistryHost()+"/shop-staging/web" || img.Tag != "latest" {
		t.Fatalf("resolved %+v", img)
	}
	got, err := e.c.imageID(ctx(t), img)
	if err != nil || got.String() != id {
		t.Fatalf("resolved image id %v %v, want %s", got, err, id)
	}

	// Promote staging to prod: heroku to heroku.
	e.seedRelease("shop-prod", images.Spec{Seed: 61}, "web")
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if rel := e.emu.Releases("shop-prod")[1]; rel.Images["web"] != id {
		t.Fatalf("prod runs %s, want %s", rel.Images["web"], id)
	}

	// An image pushed to latest but never released is refused.
	e.seedPush("shop-staging", images.Spec{Seed: 62}, "web")
	_, err = src.Resolve(ctx(t))
	if e.note(err); !promote.IsInput(err) || !strings.Contains(err.Error(), "pushed and not released") {
		t.Fatalf("Resolve after an unreleased push: %v", err)
	}
	// Process types on different images are refused too.
	e.seedRelease("shop-staging", images.Spec{Seed: 63}, "web")
	_, err = src.Resolve(ctx(t))
	if e.note(err); !promote.IsInput(err) {
		t.Fatalf("Resolve with web and worker on different images: %v", err)
	}
}

func TestLostPatchResponseIsNotRetriedBlindly(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 70}, "web")
	img, id := e.source(images.Spec{Seed: 71})
	r := e.snapshotted("heroku:shop-prod", img)
	e.emu.Inject(herokuemu.Fault{Method: "PATCH", Path: "/apps/shop-prod/formation", Status: 500, Apply: true})
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if n := e.emu.FormationPatches("shop-prod"); n != 1 {
		t.Errorf("%d PATCHes, want 1: the first one took effect", n)
	}
	if rels := e.emu.Releases("shop-prod"); len(rels) != 2 || rels[1].Images["web"] != id {
		t.Errorf("releases %+v", rels)
	}
	if !strings.Contains(e.logs.text(), "the formation update took effect: release v2") {
		t.Errorf("log:\n%s", e.logs.text())
	}
}

// A failed PATCH that made no release is not sent again: one promotion,
// at most one formation PATCH. The restore then finds nothing to undo.
func TestFailedPatchIsNotSentTwice(t *testing.T) {
	for _, status := range []int{503, 429} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			e := newEnv(t)
			e.seedRelease("shop-prod", images.Spec{Seed: 75}, "web")
			img, _ := e.source(images.Spec{Seed: 76})
			r := e.snapshotted("heroku:shop-prod", img)
			e.emu.Inject(herokuemu.Fault{Method: "PATCH", Path: "/apps/shop-prod/formation", Status: status})
			err := r.release(img)
			if err == nil || StatusOf(err) != status || !strings.Contains(err.Error(), "does not send the update twice") {
				t.Fatalf("Release: %v", err)
			}
			if n := e.emu.FormationPatches("shop-prod"); n != 1 {
				t.Errorf("%d PATCHes, want 1", n)
			}
			if err := r.restore(); err != nil {
				t.Fatalf("Restore: %v", err)
			}
			if rels := e.emu.Releases("shop-prod"); len(rels) != 1 {
				t.Errorf("%d releases, want 1: %+v", len(rels), rels)
			}
		})
	}
}

func TestRefusedPatchIsNotResent(t *testing.T) {
	// A refusal (4xx) is not resent.
	e2 := newEnv(t)
	e2.seedRelease("shop-prod", images.Spec{Seed: 77}, "web")
	img2, _ := e2.source(images.Spec{Seed: 78})
	r := e2.snapshotted("heroku:shop-prod", img2)
	e2.emu.Inject(herokuemu.Fault{Method: "PATCH", Path: "/apps/shop-prod/formation", Status: 422})
	err := r.release(img2)
	if err == nil || StatusOf(err) != 422 {
		t.Fatalf("Release after a 422: %v", err)
	}
	if n := e2.emu.FormationPatches("shop-prod"); n != 1 {
		t.Errorf("%d PATCHes after a 422, want 1", n)
	}
}

func TestRateLimitedReadsAreRetried(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 80}, "web")
	img, _ := e.source(images.Spec{Seed: 81})
	e.emu.Inject(herokuemu.Fault{Method: "GET", Path: "/apps/shop-prod", Status: 429, Times: 2, RetryAfter: time.Second})
	e.emu.Inject(herokuemu.Fault{Method: "GET", Path: "/apps/shop-prod/releases", Status: 503, Times: 1})
	if _, err := e.target("heroku:shop-prod").Snapshot(ctx(t), img); e.note(err) != nil {
		t.Fatalf("Snapshot: %v", err)
	}
	if n := strings.Count(e.logs.text(), "retrying in"); n != 3 {
		t.Errorf("%d retries logged, want 3:\n%s", n, e.logs.text())
	}
}

func TestHealthFailure(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 90}, "web")
	img, _ := e.source(images.Spec{Seed: 91, Labels: map[string]string{herokuemu.LabelHealth: "fail"}})
	r := e.snapshotted("heroku:shop-prod?health=/healthz", img)
	if err := r.release(img); err != nil {
		t.Fatal(err)
	}
	err := r.verify()
	if !errors.Is(err, health.ErrFailed) || !strings.Contains(err.Error(), "status 503") {
		t.Fatalf("Verify: %v", err)
	}
	if err := r.restore(); err != nil {
		t.Fatal(err)
	}
	if rels := e.emu.Releases("shop-prod"); len(rels) != 3 || !rels[2].Current || rels[2].Description != "Rollback to v1" {
		t.Fatalf("releases after restore: %+v", rels)
	}
}

func TestManualRollback(t *testing.T) {
	e := newEnv(t)
	v1 := e.seedRelease("shop-prod", images.Spec{Seed: 100}, "web")
	e.seedRelease("shop-prod", images.Spec{Seed: 101}, "web")
	// A failed release in between is skipped by "".
	e.seedPush("shop-prod", images.Spec{Seed: 102, Labels: map[string]string{herokuemu.LabelRelease: "fail"}}, "release")
	relID := e.emu.Pushed("shop-prod", "release")[0]
	if _, err := e.emu.Deploy("shop-prod", map[string]string{"release": relID}); err != nil {
		t.Fatal(err)
	}
	if err := e.emu.WaitIdle(context.Background(), "shop-prod"); err != nil {
		t.Fatal(err)
	}
	r := e.snapshotted("heroku:shop-prod", image.Image{})
	rb, _ := promote.As[promote.RollBacker](r.tgt)
	c, err := rb.Rollback(ctx(t), r.s, "")
	if e.note(err) != nil {
		t.Fatalf("Rollback: %v\n%s", err, e.logs.text())
	}
	r.c = c
	if err := r.verify(); err != nil {
		t.Fatalf("Verify after the rollback: %v", err)
	}
	rels := e.emu.Releases("shop-prod")
	last := rels[len(rels)-1]
	if last.Description != "Rollback to v1" || !last.Current || last.Images["web"] != v1 {
		t.Fatalf("rolled back to %+v; releases %+v", last, rels)
	}
	// Now v4 is v1 again: the one before it is nothing, not v2, which
	// was rolled away from.
	r = e.snapshotted("heroku:shop-prod", image.Image{})
	if _, err := rb.Rollback(ctx(t), r.s, ""); e.note(err) == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "no succeeded release before v1") {
		t.Errorf("a second Rollback: %v, want none before v1", err)
	}
	for _, bad := range []string{"v99", "nope", "v3", "v4"} {
		_, err := rb.Rollback(ctx(t), r.s, bad)
		if e.note(err); !promote.IsInput(err) {
			t.Errorf("Rollback(%q): %v, want an input error", bad, err)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestSnapshotRefusesAReleaseInProgress(t *testing.T) {
	e := newEnv(t)
	id := e.seedPush("shop-prod", images.Spec{Seed: 110}, "web", "release")
	if _, err := e.emu.Deploy("shop-prod", map[string]string{"web": id, "release": id}); err != nil {
		t.Fatal(err)
	}
	img, _ := e.source(images.Spec{Seed: 111})
	_, err := e.note2(e.target("heroku:shop-prod").Snapshot(ctx(t), img))
	if !promote.IsInput(err) || !strings.Contains(err.Error(), "release v1 is in progress") {
		t.Fatalf("Snapshot during a release phase: %v", err)
	}
	if err := e.emu.WaitIdle(context.Background(), "shop-prod"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.note2(e.target("heroku:shop-prod").Snapshot(ctx(t), img)); err != nil {
		t.Fatalf("Snapshot after the release phase: %v", err)
	}
}

// A release that stopped before the formation PATCH (here: the copy
// failed) made no release: Restore has nothing to do and does not even
// ask the API, which may be what failed.
func TestRestoreAfterFailedCopyAsksNothing(t *testing.T) {
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 90}, "web")
	img, _ := e.source(images.Spec{Seed: 91})
	r := e.snapshotted("heroku:shop-prod", img)
	e.emu.Inject(herokuemu.Fault{Path: "/v2/shop-prod/web/*", Times: 1000, Status: 400})
	if err := r.release(img); err == nil || !strings.Contains(err.Error(), "copying") {
		t.Fatalf("Release: %v, want the copy to fail", err)
	}
	before := len(e.emu.Requests())
	if err := r.restore(); err != nil {
		t.Fatalf("Restore: %v", err)
	}
	if n := len(e.emu.Requests()) - before; n != 0 {
		t.Errorf("Restore made %d requests", n)
	}
	if n := e.emu.FormationPatches("shop-prod"); n != 0 {
		t.Errorf("%d PATCHes", n)
	}
	if !strings.Contains(e.logs.text(), "nothing to roll back") {
		t.Errorf("log:\n%s", e.logs.text())
	}
}

// A release someone else made after ferry's is not ferry's to undo: the
// restore refuses (a human decides), unless that release already puts the
// snapshot back.
func TestRestoreLeavesANewerReleaseAlone(t *testing.T) {
	for _, c := range []struct {
		name     string
		rollback bool
	}{{"someone else's release", false}, {"someone else's rollback to the snapshot", true}} {
		t.Run(c.name, func(t *testing.T) { restoreAfterAnotherRelease(t, c.rollback) })
	}
}

func restoreAfterAnotherRelease(t *testing.T, rollback bool) {
	e := newEnv(t)
	old := e.seedRelease("shop-prod", images.Spec{Seed: 100}, "web")
	img, _ := e.source(images.Spec{Seed: 101})
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	// Meanwhile someone else releases (v3).
	if rollback {
		other := e.client(e.emu.SeedKey())
		if _, err := other.rollback(ctx(t), "shop-prod", r.state().ReleaseID); err != nil {
			t.Fatal(err)
		}
	} else {
		id := e.seedPush("shop-prod", images.Spec{Seed: 102}, "web")
		if _, err := e.emu.Deploy("shop-prod", map[string]string{"web": id}); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.emu.WaitIdle(ctx(t), "shop-prod"); err != nil {
		t.Fatal(err)
	}
	err := r.restore()
	rels := e.emu.Releases("shop-prod")
	if len(rels) != 3 || !rels[2].Current {
		t.Errorf("releases %+v: want the other release left current", rels)
	}
	if rollback {
		if err != nil || rels[2].Images["web"] != old {
			t.Errorf("Restore: %v; current %+v, want v3 (on %s) accepted as the restore", err, rels[2], old)
		}
		return
	}
	if err == nil || !strings.Contains(err.Error(), "release v3 (Deployed web") || !strings.Contains(err.Error(), "after ferry's release v2") {
		t.Errorf("Restore: %v, want a refusal naming v3 and ferry's v2", err)
	}
}

// latestDigest is what APP/PROC:latest names in the emulator ("" when
// nothing).
func (e *env) latestDigest(app, proc string) string {
	e.t.Helper()
	d, err := remote.Get(mustRef(e.t, e.emu.RegistryHost()+"/"+app+"/"+proc+":latest"),
		remote.WithAuth(&authn.Basic{Username: "_", Password: e.emu.SeedKey()}))
	if err != nil {
		return ""
	}
	return d.Digest.String()
}

// After a failed promotion :latest names the image it named before:
// `heroku container:release` releases whatever :latest names, and ferry's
// own Heroku source checks releases against it. A push made since is
// someone else's and stays.
func TestRestorePutsLatestBack(t *testing.T) {
	for _, tc := range []latestCase{
		{name: "crashed release", wantOld: true, wantLog: "again, as before the promotion"},
		{name: "patch refused", patchFails: true, wantOld: true, wantLog: "is still current: nothing to restore"},
		{name: "pushed since", between: func(e *env) { e.seedPush("shop-prod", images.Spec{Seed: 32}, "web") },
			wantLog: "not the copy ferry made"},
	} {
		t.Run(tc.name, tc.run)
	}
}

// latestCase is one promotion whose restore must leave :latest right.
type latestCase struct {
	name string
	// between runs after the release and before the restore.
	between func(e *env)
	// patchFails makes the formation PATCH fail: the copy moved the
	// tag, no release was made.
	patchFails bool
	wantOld    bool
	wantLog    string
}

func (tc latestCase) run(t *testing.T) {
	crash := images.Spec{Seed: 31, Labels: map[string]string{herokuemu.LabelDyno: "crash"}}
	e := newEnv(t)
	e.seedRelease("shop-prod", images.Spec{Seed: 30}, "web")
	old := e.latestDigest("shop-prod", "web")
	if old == "" {
		t.Fatal("the seeded app has no :latest")
	}
	img, _ := e.source(crash)
	r := e.snapshotted("heroku:shop-prod", img)
	if tc.patchFails {
		e.emu.Inject(herokuemu.Fault{Method: "PATCH", Path: "/apps/shop-prod/formation", Times: 1, Status: 422})
	}
	err := r.release(img)
	if tc.patchFails != (err != nil) {
		t.Fatalf("Release: %v", err)
	}
	if !tc.patchFails {
		if err := r.verify(); err == nil {
			t.Fatal("Verify passed, want a crash")
		}
	}
	moved := e.latestDigest("shop-prod", "web")
	if moved == old {
		t.Fatal("the copy did not move :latest")
	}
	if tc.between != nil {
		tc.between(e)
	}
	theirs := e.latestDigest("shop-prod", "web")
	if err := r.restore(); err != nil {
		t.Fatalf("Restore: %v\n%s", err, e.logs.text())
	}
	got := e.latestDigest("shop-prod", "web")
	want := theirs
	if tc.wantOld {
		want = old
	}
	if got != want {
		t.Errorf(":latest names %s after the restore, want %s (before the promotion %s, ferry's copy %s)\n%s", got, want, old, moved, e.logs.text())
	}
	if !strings.Contains(e.logs.text(), tc.wantLog) {
		t.Errorf("log lacks %q:\n%s", tc.wantLog, e.logs.text())
	}
}

// A snapshot and a change written down as JSON and read back restore the
// app through another Target value and client, as another process would:
// the crashed release is rolled back to the recorded one, and :latest
// names what it named before.
func TestRestoreFromValuesReadBack(t *testing.T) {
	e := newEnv(t)
	old := e.seedRelease("shop-prod", images.Spec{Seed: 120}, "web")
	latest := e.latestDigest("shop-prod", "web")
	img, _ := e.source(images.Spec{Seed: 121, Labels: map[string]string{herokuemu.LabelDyno: "crash"}})
	r := e.snapshotted("heroku:shop-prod", img)
	if err := r.release(img); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := r.verify(); err == nil {
		t.Fatal("Verify passed, want a crash")
	}
	b, err := json.Marshal(map[string]any{"snapshot": r.s, "change": r.c})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		Snapshot promote.Snapshot `json:"snapshot"`
		Change   promote.Change   `json:"change"`
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	a, _ := address.Parse("heroku:shop-prod")
	other, err := NewTarget(e.client(apiKey), a) // a new client and target, as in another process
	if err != nil {
		t.Fatal(err)
	}
	if err := e.note(other.Restore(ctx(t), back.Snapshot, back.Change)); err != nil {
		t.Fatalf("Restore from values read back: %v\n%s", err, e.logs.text())
	}
	rels := e.emu.Releases("shop-prod")
	if cur := rels[len(rels)-1]; !cur.Current || cur.Description != "Rollback to v1" || cur.Images["web"] != old {
		t.Errorf("after the restore: %+v", cur)
	}
	if got := e.latestDigest("shop-prod", "web"); got != latest {
		t.Errorf(":latest names %s, want %s as before the promotion", got, latest)
	}
}
