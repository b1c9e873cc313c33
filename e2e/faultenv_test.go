package e2e

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// This file holds what the reliability, input and secrets suites share:
// emulators and registries of their own (so that faults and counters
// touch no other test), a dedicated cluster for API-server outages, and a
// watcher that measures a ferry process while it runs.

// ownEmulator starts a Heroku emulator for one test; herokuKey reaches
// every app created on it with ownApp.
func ownEmulator(t *testing.T, opts herokuemu.Options) *herokuemu.Emulator {
	t.Helper()
	e, err := herokuemu.New(opts)
	if err != nil {
		t.Fatalf("starting a Heroku emulator: %v", err)
	}
	t.Cleanup(func() { e.Close() })
	e.AddKey(herokuKey)
	return e
}

// ownApp creates a container-stack app on e.
func ownApp(t *testing.T, e *herokuemu.Emulator, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, appSeq.Add(1))
	if _, err := e.CreateApp(name, "container"); err != nil {
		t.Fatal(err)
	}
	e.AddKey(herokuKey, name)
	return name
}

// seedOn releases a small image to app's process types on emulator e, as
// if deployed before ferry ran, and returns its image id.
func seedOn(t *testing.T, e *herokuemu.Emulator, app string, labels map[string]string, procs ...string) string {
	t.Helper()
	img, err := images.Build(images.Spec{Layers: 1, LayerSize: 16 << 10, Labels: labels, Seed: seed.Add(1) * 104729})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range procs {
		if _, err := images.Push(context.Background(), e.RegistryHost()+"/"+app+"/"+p+":latest", img,
			remote.WithAuth(&authn.Basic{Username: "_", Password: e.SeedKey()})); err != nil {
			t.Fatal(err)
		}
	}
	id, _ := img.ConfigName()
	m := map[string]string{}
	for _, p := range procs {
		m[p] = id.String()
	}
	if _, err := e.Deploy(app, m); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitIdle(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return id.String()
}

// currentOn is app's current release on e.
func currentOn(t *testing.T, e *herokuemu.Emulator, app string) herokuemu.Release {
	t.Helper()
	rs := e.Releases(app)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Current {
			return rs[i]
		}
	}
	t.Fatalf("%s has no current release: %+v", app, rs)
	return herokuemu.Release{}
}

// emuEnv is herokuEnv pointed at e.
func emuEnv(e *herokuemu.Emulator) env {
	return herokuEnv().with("FERRY_HEROKU_API_URL", e.APIURL(), "FERRY_HEROKU_REGISTRY", e.RegistryHost())
}

// appMutations are the requests that could change app on e.
func appMutations(e *herokuemu.Emulator, app string) []herokuemu.Request {
	var out []herokuemu.Request
	for _, r := range e.Mutations() {
		if containsApp(r.Path, app) {
			out = append(out, r)
		}
	}
	return out
}

// pushTo builds an image and pushes it to host/repo:tag.
func pushTo(t *testing.T, host, repo, tag string, spec images.Spec, opts ...remote.Option) pushed {
	t.Helper()
	if spec.Seed == 0 {
		spec.Seed = seed.Add(1) * 7919
	}
	img, err := images.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	full := host + "/" + repo
	d, err := images.Push(context.Background(), full+":"+tag, img, opts...)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return pushed{repo: full, manifest: d, config: cfg}
}

// switchable puts a middleware in front of a handler only while on is
// true, so a test can push its fixtures first and arm the faults after.
func switchable(on *atomic.Bool, wrap func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		wrapped := wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if on.Load() {
				wrapped.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// ownRegistry starts a registry for one test behind wrap (may be nil).
func ownRegistry(t *testing.T, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Wrap: wrap})
	if err != nil {
		t.Fatalf("starting a registry: %v", err)
	}
	t.Cleanup(stop)
	return host
}

// outage is a middleware that, once down, drops every connection without
// an answer: the server is gone as far as clients can tell.
type outage struct{ down atomic.Bool }

func (o *outage) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !o.down.Load() {
			next.ServeHTTP(w, r)
			return
		}
		if hj, ok := w.(http.Hijacker); ok {
			if c, _, err := hj.Hijack(); err == nil {
				c.Close()
				return
			}
		}
		panic(http.ErrAbortHandler)
	})
}

// isolated is a control plane of its own, for the tests that stop and
// restart an API server: the shared clusters keep serving every other
// test meanwhile. It stops when the test that started it ends.
type isolated struct {
	c          *testenv.Cluster
	kubeconfig string
}

// isolatedCluster starts a cluster named name with a kubeconfig whose
// only context is "isolated".
func isolatedCluster(t *testing.T, name string) isolated {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := time.Now()
	c, err := testenv.StartCluster(ctx, name)
	if err != nil {
		t.Fatalf("starting a dedicated cluster: %v", err)
	}
	c.StopOnCleanup(t)
	t.Logf("dedicated cluster %s ready in %s", name, time.Since(start).Round(time.Millisecond))
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, testenv.Kubeconfig(map[string]*testenv.Cluster{"isolated": c}), 0o600); err != nil {
		t.Fatal(err)
	}
	return isolated{c: c, kubeconfig: path}
}

// env is the environment of a ferry run against the dedicated cluster.
func (i isolated) env() env {
	return env{"KUBECONFIG": i.kubeconfig, "FERRY_OUTPUT": "json", "FERRY_TIMEOUT": "90s"}
}

// procWatch samples a running process: its peak resident memory (VmHWM),
// and the files that appear in a directory (TMPDIR) with what they hold.
type procWatch struct {
	stop chan struct{}
	done chan struct{}

	mu    sync.Mutex
	hwmKB int64
	files map[string][]byte // path -> the largest content seen
}

// watchProcess samples pid every few milliseconds until stop is called.
// The dirs are listed at every sample.
func watchProcess(pid int, dirs ...string) *procWatch {
	w := &procWatch{stop: make(chan struct{}), done: make(chan struct{}), files: map[string][]byte{}}
	go func() {
		defer close(w.done)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			w.sample(pid, dirs)
			select {
			case <-w.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return w
}

func (w *procWatch) sample(pid int, dirs []string) {
	if kb := vmHWM(pid); kb > 0 {
		w.mu.Lock()
		w.hwmKB = max(w.hwmKB, kb)
		w.mu.Unlock()
	}
	for _, dir := range dirs {
		w.list(dir)
	}
}

// list records every file and directory under dir, and what the files
// hold.
func (w *procWatch) list(dir string) {
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return nil
		}
		var b []byte
		if !d.IsDir() {
			b, _ = os.ReadFile(p)
		}
		w.mu.Lock()
		if len(b) >= len(w.files[p]) {
			w.files[p] = b
		}
		w.mu.Unlock()
		return nil
	})
}

// finish stops sampling and returns the peak RSS in KiB and the files
// seen.
func (w *procWatch) finish() (hwmKB int64, files map[string][]byte) {
	close(w.stop)
	<-w.done
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.hwmKB, w.files
}

// vmHWM reads the peak resident set size of pid in KiB, 0 when unknown.
func vmHWM(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmHWM:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// runWatched starts ferry, watches it and dirs, and waits for it.
func runWatched(t *testing.T, e env, args []string, dirs ...string) (result, int64, map[string][]byte, time.Duration) {
	t.Helper()
	cmd, out, errb := ferryCmd(t, e, args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	w := watchProcess(cmd.Process.Pid, dirs...)
	r := wait(t, cmd, out, errb)
	took := time.Since(start)
	hwm, files := w.finish()
	return r, hwm, files, took
}

// eventually waits until cond holds, polling; it fails the test after
// timeout.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// ferryRaw runs the binary like ferry does, without the check for
// secrets: in GitHub mode standard output starts with ::add-mask::
// commands, which must hold the very secrets they mask. Callers check the
// output with withoutMasks.
func ferryRaw(t *testing.T, e env, args ...string) result {
	t.Helper()
	cmd, out, errb := ferryCmd(t, e, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	return waitRaw(t, cmd, out, errb)
}

// withoutMasks drops the ::add-mask:: lines of a GitHub Actions log and
// returns what is left, and the masked values.
func withoutMasks(s string) (rest string, masked []string) {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masked = append(masked, v)
			continue
		}
		keep = append(keep, l)
	}
	return strings.Join(keep, "\n"), masked
}
