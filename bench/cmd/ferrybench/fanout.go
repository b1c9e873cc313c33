package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/bench/internal/registry"
	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// fanoutPerCluster Deployments in each of the two clusters, and
// fanoutHerokuApps apps in the Heroku emulator.
const (
	fanoutPerCluster = 10
	fanoutHerokuApps = 5
)

// herokuFanout is the Heroku part of the fan-out.
type herokuFanout struct {
	e       *herokuemu.Emulator
	targets []string
	env     []string
}

func (h *herokuFanout) close() { _ = h.e.Close() }

// herokuApps starts an emulator whose dynos boot in boot (its default when
// 0) with n container apps, each running a first release, and checks that ferry can plan a promotion to them. It
// returns nil and the reason when ferry cannot drive Heroku apps.
func (k *kubeBench) herokuApps(ctx context.Context, n int, boot time.Duration, source func(crash bool) (string, error)) (*herokuFanout, string) {
	e, err := herokuemu.New(herokuemu.Options{BootTime: boot})
	if err != nil {
		return nil, "the Heroku emulator did not start: " + err.Error()
	}
	h := &herokuFanout{e: e}
	key := randomKey()
	seed, err := fixture(9000, 1, 64<<10, false, platformAMD64)
	if err != nil {
		h.close()
		return nil, err.Error()
	}
	var apps []string
	for i := range n {
		app := fmt.Sprintf("fan-%d", i)
		apps = append(apps, app)
		h.targets = append(h.targets, "heroku:"+app+"/web")
	}
	e.AddKey(key, apps...)
	for _, app := range apps {
		if _, err := seedApp(ctx, e, key, app, seed); err != nil {
			h.close()
			return nil, fmt.Sprintf("setting up Heroku app %s in the emulator failed: %v", app, err)
		}
	}
	h.env = []string{"FERRY_HEROKU_API_KEY=" + key, "FERRY_HEROKU_API_URL=" + e.APIURL(), "FERRY_HEROKU_REGISTRY=" + e.RegistryHost()}
	src, err := source(false)
	if err != nil {
		h.close()
		return nil, err.Error()
	}
	cmd := exec.Command(k.cfg.ferry, "plan")
	cmd.Env = append(k.ferryEnv("FERRY_SOURCE="+src, "FERRY_TARGETS="+h.targets[0]), h.env...)
	if _, err := measure.Run(ctx, cmd); err != nil {
		h.close()
		return nil, "ferry cannot plan a promotion to a Heroku app of the emulator: " + err.Error()
	}
	return h, ""
}

// fanoutReadyAfter is how long the pods of the second fan-out series take
// to become Ready after they start, and its Heroku dynos to boot: the
// readiness probe of the Kubernetes documentation's example
// (initialDelaySeconds: 5), quick for a real service.
const fanoutReadyAfter = 5 * time.Second

// A fanoutSeries is one set-up of the fan-out: 20 Deployments over the two
// clusters in namespace ns, one more in ns+"-one" (the one target), and
// 5 Heroku apps in an emulator of their own; pods are Ready readyAfter
// after they start and dynos boot in as long (at once when 0).
type fanoutSeries struct {
	ns         string
	readyAfter time.Duration
}

func (s fanoutSeries) label() string {
	if s.readyAfter == 0 {
		return "pods Ready at once"
	}
	return fmt.Sprintf("pods Ready and dynos up %s after they start", s.readyAfter)
}

// fanoutRun is what one series measured: wall and CPU per variant, and the
// verify (and restore) step of every target.
type fanoutRun struct {
	res     map[string][]sample
	verify  map[string][]float64
	restore map[string][]float64 // the restore step of every target, when they were restored
	floor   map[int][]float64    // the control plane alone, by rollouts at once
}

// fanout times one promotion to 25 targets (20 Deployments over two
// clusters and 5 Heroku apps) against the same promotion to one
// Deployment, in alternating order: once with pods that are Ready at once,
// where the rollouts themselves cost nothing but the control planes' CPU,
// and once with pods that take fanoutReadyAfter, as real pods do.
func (k *kubeBench) fanout(ctx context.Context) error {
	// The source is a real image in a loopback registry, a new one for
	// every promotion, so that Heroku targets copy it each time (the
	// Kubernetes targets only get its reference).
	srcReg, err := registry.Start(ctx, k.tool("docker-registry"), filepath.Join(k.cfg.work, "fanout-source"))
	if err != nil {
		return err
	}
	defer srcReg.Stop()
	next := int64(5000)
	source := func(crash bool) (string, error) {
		next += 10
		img, err := fixture(next, 2, 1<<20, false, platformAMD64)
		if err != nil {
			return "", err
		}
		if crash { // Heroku's dynos crash on it; kwok's pods run it
			if img, err = crashing(img); err != nil {
				return "", err
			}
		}
		d, err := push(ctx, srcReg.Host+"/shop:latest", img)
		if err != nil {
			return "", err
		}
		return srcReg.Host + "/shop@" + d.String(), nil
	}

	n := 2 * fanoutPerCluster
	all := n + fanoutHerokuApps
	withHeroku := fmt.Sprintf("%d targets (%d Deployments + %d Heroku apps)", all, n, fanoutHerokuApps)
	bound := &results.Bound{Text: "≤ 1.5× one target", OnRatio: true, Max: 1.5}

	at := fanoutSeries{ns: "fanout"}
	now, err := k.fanoutSeries(ctx, at, source, true)
	if err != nil {
		return err
	}
	slow := fanoutSeries{ns: "fanout-slow", readyAfter: fanoutReadyAfter}
	later, err := k.fanoutSeries(ctx, slow, source, false)
	if err != nil {
		return err
	}

	cpuNote := fmt.Sprintf("%s: the rollouts cost nothing but the control planes' work, and the two API servers, etcds, controller-managers, schedulers and kwoks share this machine's 2 cores, busy throughout the rollouts; see the control plane alone below", at.label())
	one := col(now.res["1 target"], wall)
	k.add(results.New(fmt.Sprintf("fan-out, %s: one promotion to %s over 2 clusters, vs 1 Deployment", at.label(), withHeroku), "s",
		col(now.res[withHeroku], wall), "ferry promote, 1 target", one, nil).WithNote(cpuNote))
	k.add(results.New(fmt.Sprintf("fan-out, %s: one promotion to %d Deployments over 2 clusters, vs 1 Deployment", at.label(), n), "s",
		col(now.res[fmt.Sprintf("%d Deployments", n)], wall), "ferry promote, 1 target", one, nil))
	k.add(results.New(fmt.Sprintf("fan-out, %s, the control plane alone: %d rollouts at once vs 1", at.label(), n), "s", now.floor[n], "1 rollout", now.floor[1], nil).
		WithNote("the harness patches the images itself and watches the Deployments' status: what the API servers, controller-managers and kwoks on this machine allow"))
	k.add(results.New(fmt.Sprintf("fan-out, %s: ferry's cost over the control plane, %d Deployments", at.label(), n), "s", col(now.res[fmt.Sprintf("%d Deployments", n)], wall),
		fmt.Sprintf("control plane alone, %d rollouts", n), now.floor[n], nil).
		WithNote("the same rollouts; ferry adds its process start, snapshots, patches and watches"))
	k.add(results.New(fmt.Sprintf("fan-out, %s: one promotion to %s over 2 clusters, vs 1 Deployment", slow.label(), withHeroku), "s",
		col(later.res[withHeroku], wall), "ferry promote, 1 target", col(later.res["1 target"], wall), bound).
		WithNote(fmt.Sprintf("default FERRY_PARALLELISM (64: all at once); Deployments of 2 replicas, %d per cluster, pods Ready %s after they start (kwok's pod-ready delay); Heroku dynos up %s after their release (the emulator's boot time)",
			fanoutPerCluster, slow.readyAfter, slow.readyAfter)))
	failAll, failOne := fmt.Sprintf("%d targets, the Heroku apps' dynos crash", all), "1 Heroku app, its dynos crash"
	k.add(results.New(fmt.Sprintf("fan-out, %s: a failed promotion to %s (the Heroku apps' dynos crash), every target restored, vs the same failure on 1 Heroku app", slow.label(), withHeroku), "s",
		col(later.res[failAll], wall), "ferry promote, 1 Heroku app, restored", col(later.res[failOne], wall), nil).
		WithNote("release, the crash seen, every changed target put back and its restore rolled out: how long production runs something other than what it ran before; restores run side by side, started newest first"))
	k.addCommand("fan-out", fmt.Sprintf("KUBECONFIG=… FERRY_SOURCE=127.0.0.1:PORT/shop@sha256:… FERRY_TARGETS='k8s:fanout/web-00?context=staging … k8s:fanout/web-09?context=production' (%d addresses) FERRY_OUTPUT=json ferry promote", n))
	k.addCommand("fan-out", "the same plus heroku:fan-0/web … heroku:fan-4/web in FERRY_TARGETS, with FERRY_HEROKU_API_KEY, FERRY_HEROKU_API_URL and FERRY_HEROKU_REGISTRY pointing at the emulator; and the one target k8s:fanout-one/web?context=production; the same again in namespaces fanout-slow and fanout-slow-one, whose pod templates carry pod-ready.stage.kwok.x-k8s.io/delay: 5s, with an emulator whose dynos boot in 5s; and in that series, the same 25 targets and the one Heroku app with an image whose dynos crash (expects exit 1, every target restored)")
	return nil
}

// fanoutVariant is one promotion of a fan-out series.
type fanoutVariant struct {
	name    string
	targets []string
	env     []string
	crash   bool // the Heroku apps' dynos crash: every target is restored
}

// fanoutSeries sets up series s and times its variants, and with floor the
// control plane alone, for k.cfg.runs rounds.
func (k *kubeBench) fanoutSeries(ctx context.Context, s fanoutSeries, source func(crash bool) (string, error), floor bool) (*fanoutRun, error) {
	many, err := k.fanoutDeployments(ctx, s)
	if err != nil {
		return nil, err
	}
	n := len(many)
	hk, why := k.herokuApps(ctx, fanoutHerokuApps, s.readyAfter, source)
	if hk == nil {
		return nil, fmt.Errorf("fan-out, %s: %s", s.label(), why)
	}
	defer hk.close()
	all := append(append([]string{}, many...), hk.targets...)
	variants := []fanoutVariant{
		{name: fmt.Sprintf("%d targets (%d Deployments + %d Heroku apps)", len(all), n, len(hk.targets)), targets: all, env: hk.env},
		{name: "1 target", targets: []string{"k8s:" + s.ns + "-one/web?context=production"}},
	}
	if floor {
		variants = append(variants, fanoutVariant{name: fmt.Sprintf("%d Deployments", n), targets: many})
	} else {
		variants = append(variants,
			fanoutVariant{name: fmt.Sprintf("%d targets, the Heroku apps' dynos crash", len(all)), targets: all, env: hk.env, crash: true},
			fanoutVariant{name: "1 Heroku app, its dynos crash", targets: hk.targets[:1], env: hk.env, crash: true})
	}
	run := &fanoutRun{res: map[string][]sample{}, verify: map[string][]float64{}, restore: map[string][]float64{}, floor: map[int][]float64{}}
	for round := range k.cfg.runs {
		if err := k.fanoutRound(ctx, s, run, variants, source, round); err != nil {
			return nil, err
		}
		if !floor {
			continue
		}
		if err := k.fanoutFloor(ctx, s, run, n, round); err != nil {
			return nil, err
		}
	}
	k.fanoutRaw(s, run, variants, floor, n)
	return run, nil
}

// fanoutDeployments creates the series' Deployments (fanoutPerCluster in
// each plane, and one more in production) and returns the addresses of
// the many.
func (k *kubeBench) fanoutDeployments(ctx context.Context, s fanoutSeries) ([]string, error) {
	var many []string
	for _, cl := range []*testenv.Cluster{k.staging, k.production} {
		if err := namespace(ctx, cl, s.ns); err != nil {
			return nil, err
		}
		for i := range fanoutPerCluster {
			name := fmt.Sprintf("web-%02d", i)
			if err := createDeploymentReadyAfter(ctx, cl, s.ns, name, "registry.test/shop:v1", s.readyAfter); err != nil {
				return nil, err
			}
			many = append(many, "k8s:"+s.ns+"/"+name+"?context="+cl.Name)
		}
	}
	if err := namespace(ctx, k.production, s.ns+"-one"); err != nil {
		return nil, err
	}
	if err := createDeploymentReadyAfter(ctx, k.production, s.ns+"-one", "web", "registry.test/shop:v1", s.readyAfter); err != nil {
		return nil, err
	}
	for i := range fanoutPerCluster {
		for _, c := range []*testenv.Cluster{k.staging, k.production} {
			if err := waitRolledOut(ctx, c, s.ns, fmt.Sprintf("web-%02d", i)); err != nil {
				return nil, err
			}
		}
	}
	return many, waitRolledOut(ctx, k.production, s.ns+"-one", "web")
}

// fanoutRound runs every variant once, in the round's order.
func (k *kubeBench) fanoutRound(ctx context.Context, s fanoutSeries, run *fanoutRun, variants []fanoutVariant, source func(crash bool) (string, error), round int) error {
	for _, v := range measure.Rotate(variants, round) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		src, err := source(v.crash)
		if err != nil {
			return err
		}
		cmd := exec.Command(k.cfg.ferry, "promote")
		cmd.Env = append(k.ferryEnv("FERRY_SOURCE="+src, "FERRY_TARGETS="+strings.Join(v.targets, " ")), v.env...)
		m, err := measure.Run(ctx, cmd)
		var rep *promote.Report
		switch {
		case v.crash:
			rep, err = restored(m.Stdout, err, len(v.targets))
		case err == nil:
			rep, err = promoted(m.Stdout, len(v.targets))
		}
		if err != nil {
			k.log.Printf("fan-out, %s: %s, run %d failed: %v", s.label(), v.name, round+1, err)
			k.note("fan-out, %s: %s, run %d failed: %v", s.label(), v.name, round+1, err)
			continue
		}
		k.log.Printf("fan-out, %s: %s run %d: %.2fs wall, %.2fs cpu", s.label(), v.name, round+1, m.Wall.Seconds(), m.CPU.Seconds())
		run.res[v.name] = append(run.res[v.name], sample{wall: m.Wall.Seconds(), cpu: m.CPU.Seconds(), rss: float64(m.MaxRSS) / 1e6, uploaded: -1})
		for _, t := range rep.Targets {
			run.verify[v.name] = append(run.verify[v.name], time.Duration(t.Durations.Verify).Seconds())
			if v.crash {
				run.restore[v.name] = append(run.restore[v.name], time.Duration(t.Durations.Restore).Seconds())
			}
		}
	}
	return nil
}

// fanoutFloor times the control plane alone: the harness sets the image
// of the same Deployments at once and watches until all have rolled
// out, as `kubectl set image` and `kubectl rollout status` would, but
// without a process start or ferry's snapshots.
func (k *kubeBench) fanoutFloor(ctx context.Context, s fanoutSeries, run *fanoutRun, n, round int) error {
	for _, c := range measure.Rotate([]int{n, 1}, round) {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := fmt.Sprintf("control plane alone, %d", c)
		d, err := k.rolloutFloor(ctx, s.ns, round, c)
		if err != nil {
			k.log.Printf("fan-out: %s, run %d failed: %v", name, round+1, err)
			k.note("fan-out: %s, run %d failed: %v", name, round+1, err)
			continue
		}
		k.log.Printf("fan-out: %s run %d: %.2fs", name, round+1, d)
		run.floor[c] = append(run.floor[c], d)
	}
	return nil
}

// fanoutRaw adds the series' rows to the every-tool table.
func (k *kubeBench) fanoutRaw(s fanoutSeries, run *fanoutRun, variants []fanoutVariant, floor bool, n int) {
	for _, v := range variants {
		k.addRaw("fan-out, "+s.label(), "ferry promote, "+v.name, run.res[v.name])
		k.addRawValues("fan-out, "+s.label()+": verify step per target (s)", "ferry promote, "+v.name, run.verify[v.name])
		if v.crash {
			k.addRawValues("fan-out, "+s.label()+": restore step per target (s)", "ferry promote, "+v.name, run.restore[v.name])
		}
	}
	if floor {
		k.addRawValues("fan-out, "+s.label()+", wall (s)", fmt.Sprintf("control plane alone: set %d images at once, watch until rolled out", n), run.floor[n])
		k.addRawValues("fan-out, "+s.label()+", wall (s)", "control plane alone: set 1 image, watch until rolled out", run.floor[1])
	}
}

// seedApp creates container app in e running img on web, pushed with key,
// and waits until its dynos are up. It returns that first release.
func seedApp(ctx context.Context, e *herokuemu.Emulator, key, app string, img v1.Image) (herokuemu.Release, error) {
	if _, err := e.CreateApp(app, "container"); err != nil {
		return herokuemu.Release{}, err
	}
	ref, err := name.NewTag(e.RegistryHost() + "/" + app + "/web:latest")
	if err != nil {
		return herokuemu.Release{}, err
	}
	if err := remote.Write(ref, img, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "_", Password: key})); err != nil {
		return herokuemu.Release{}, err
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return herokuemu.Release{}, err
	}
	rel, err := e.Deploy(app, map[string]string{"web": cfg.String()})
	if err != nil {
		return herokuemu.Release{}, err
	}
	return rel, e.WaitIdle(ctx, app)
}

// restored checks a failed promotion: exit 1, outcome failed, every target
// restored.
func restored(stdout []byte, runErr error, targets int) (*promote.Report, error) {
	var ee *measure.ExitError
	if !errors.As(runErr, &ee) || ee.Code != 1 {
		return nil, fmt.Errorf("want exit 1 (failed, restored), got %v", runErr)
	}
	return ended(stdout, targets, promote.OutcomeFailed, promote.StatusRestored)
}

// promoted checks a JSON report: outcome promoted, every target promoted.
func promoted(stdout []byte, targets int) (*promote.Report, error) {
	return ended(stdout, targets, promote.OutcomePromoted, promote.StatusPromoted)
}

// ended checks a JSON report: its outcome, and status for each of its
// targets.
func ended(stdout []byte, targets int, outcome promote.Outcome, status promote.Status) (*promote.Report, error) {
	var rep promote.Report
	if err := json.Unmarshal(stdout, &rep); err != nil {
		return nil, fmt.Errorf("report: %w: %s", err, stdout)
	}
	if rep.Outcome != outcome || len(rep.Targets) != targets {
		return nil, fmt.Errorf("want %s with %d targets, got %s with %d targets: %s", outcome, targets, rep.Outcome, len(rep.Targets), rep.Error)
	}
	for _, t := range rep.Targets {
		if t.Status != status {
			return nil, fmt.Errorf("%s: %s, want %s: %s %s", t.Target, t.Status, status, t.Error, t.Restore)
		}
	}
	return &rep, nil
}

// rolloutFloor sets a new image on the first n fan-out Deployments at once
// (production's first when n is 1) and watches the Deployments until every
// one has rolled out by its status; it returns the seconds from the first
// patch to the last completion.
func (k *kubeBench) rolloutFloor(ctx context.Context, ns string, round, n int) (float64, error) {
	type ref struct {
		c    *testenv.Cluster
		name string
	}
	var refs []ref
	for i := range fanoutPerCluster {
		refs = append(refs, ref{k.production, fmt.Sprintf("web-%02d", i)}, ref{k.staging, fmt.Sprintf("web-%02d", i)})
	}
	refs = refs[:n]
	ctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	// Watch first, so no completion is missed.
	done := make(chan string, n)
	want := map[string]int64{} // cluster/name → generation after the patch
	var mu sync.Mutex
	for _, c := range []*testenv.Cluster{k.staging, k.production} {
		w, err := c.Admin.AppsV1().Deployments(ns).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			return 0, err
		}
		defer w.Stop()
		go func() {
			for ev := range w.ResultChan() {
				d, ok := ev.Object.(*appsv1.Deployment)
				if !ok {
					continue
				}
				key := c.Name + "/" + d.Name
				mu.Lock()
				gen, waiting := want[key]
				mu.Unlock()
				if waiting && rolledOut(d, gen) {
					mu.Lock()
					delete(want, key)
					mu.Unlock()
					done <- key
				}
			}
		}()
	}
	img := "registry.test/shop@" + fakeDigest(fmt.Sprintf("floor-%d-%d-%d", round, n, time.Now().UnixNano()))
	patch := []byte(`{"spec":{"template":{"spec":{"containers":[{"name":"app","image":"` + img + `"}]}}}}`)
	start := time.Now()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, r := range refs {
		wg.Go(func() {
			d, err := r.c.Admin.AppsV1().Deployments(ns).Patch(ctx, r.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
			if err != nil {
				errs[i] = err
				return
			}
			mu.Lock()
			want[r.c.Name+"/"+r.name] = d.Generation
			mu.Unlock()
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return 0, err
	}
	for range n {
		select {
		case <-done:
		case <-ctx.Done():
			return 0, fmt.Errorf("waiting for %d rollouts: %w", n, ctx.Err())
		}
	}
	return time.Since(start).Seconds(), nil
}

// rolledOut is `kubectl rollout status`'s rule on the Deployment's status.
func rolledOut(d *appsv1.Deployment, gen int64) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return d.Generation >= gen && s.ObservedGeneration >= gen && s.UpdatedReplicas == want && s.Replicas == want && s.AvailableReplicas == want
}
