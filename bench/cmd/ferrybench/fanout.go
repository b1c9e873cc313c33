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

// herokuApps starts the emulator with n container apps, each running a
// first release, and checks that ferry can plan a promotion to them. It
// returns nil and the reason when ferry cannot drive Heroku apps.
func (k *kubeBench) herokuApps(ctx context.Context, n int, source func() (string, error)) (*herokuFanout, string) {
	e, err := herokuemu.New(herokuemu.Options{})
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
	cfg, err := seed.ConfigName()
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
		err := func() error {
			if _, err := e.CreateApp(app, "container"); err != nil {
				return err
			}
			ref, err := name.NewTag(e.RegistryHost() + "/" + app + "/web:latest")
			if err != nil {
				return err
			}
			if err := remote.Write(ref, seed, remote.WithContext(ctx), remote.WithAuth(&authn.Basic{Username: "_", Password: key})); err != nil {
				return err
			}
			if _, err := e.Deploy(app, map[string]string{"web": cfg.String()}); err != nil {
				return err
			}
			return e.WaitIdle(ctx, app)
		}()
		if err != nil {
			h.close()
			return nil, fmt.Sprintf("setting up Heroku app %s in the emulator failed: %v", app, err)
		}
	}
	h.env = []string{"FERRY_HEROKU_API_KEY=" + key, "FERRY_HEROKU_API_URL=" + e.APIURL(), "FERRY_HEROKU_REGISTRY=" + e.RegistryHost()}
	src, err := source()
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

// fanout times one promotion to 20 Deployments over two clusters against
// the same promotion to one Deployment, in alternating order.
func (k *kubeBench) fanout(ctx context.Context) error {
	var many []string
	for _, c := range []struct {
		name string
		ctx  string
	}{{"staging", "staging"}, {"production", "production"}} {
		cl := k.staging
		if c.name == "production" {
			cl = k.production
		}
		if err := namespace(ctx, cl, "fanout"); err != nil {
			return err
		}
		for i := range fanoutPerCluster {
			name := fmt.Sprintf("web-%02d", i)
			if err := createDeployment(ctx, cl, "fanout", name, "registry.test/shop:v1"); err != nil {
				return err
			}
			many = append(many, "k8s:fanout/"+name+"?context="+c.ctx)
		}
	}
	if err := namespace(ctx, k.production, "fanout-one"); err != nil {
		return err
	}
	if err := createDeployment(ctx, k.production, "fanout-one", "web", "registry.test/shop:v1"); err != nil {
		return err
	}
	for i := range fanoutPerCluster {
		for _, cl := range []string{"staging", "production"} {
			c := k.staging
			if cl == "production" {
				c = k.production
			}
			if err := waitRolledOut(ctx, c, "fanout", fmt.Sprintf("web-%02d", i)); err != nil {
				return err
			}
		}
	}
	if err := waitRolledOut(ctx, k.production, "fanout-one", "web"); err != nil {
		return err
	}
	n := len(many)
	floor := map[int][]float64{}

	// The source is a real image in a loopback registry, a new one for
	// every promotion, so that Heroku targets copy it each time (the
	// Kubernetes targets only get its reference).
	srcReg, err := registry.Start(ctx, k.tool("docker-registry"), filepath.Join(k.cfg.work, "fanout-source"))
	if err != nil {
		return err
	}
	defer srcReg.Stop()
	next := int64(5000)
	source := func() (string, error) {
		next += 10
		img, err := fixture(next, 2, 1<<20, false, platformAMD64)
		if err != nil {
			return "", err
		}
		d, err := push(ctx, srcReg.Host+"/shop:latest", img)
		if err != nil {
			return "", err
		}
		return srcReg.Host + "/shop@" + d.String(), nil
	}

	hk, why := k.herokuApps(ctx, fanoutHerokuApps, source)
	if hk != nil {
		defer hk.close()
	}
	type variant struct {
		name    string
		targets []string
		env     []string
	}
	withHeroku := fmt.Sprintf("%d targets (%d Deployments + %d Heroku apps)", n+fanoutHerokuApps, n, fanoutHerokuApps)
	var variants []variant
	if hk != nil {
		all := append(append([]string{}, many...), hk.targets...)
		variants = append(variants,
			variant{name: withHeroku, targets: all, env: hk.env},
			variant{name: fmt.Sprintf("%s, FERRY_PARALLELISM=%d", withHeroku, len(all)), targets: all, env: append([]string{fmt.Sprintf("FERRY_PARALLELISM=%d", len(all))}, hk.env...)})
	}
	variants = append(variants,
		variant{name: fmt.Sprintf("%d Deployments", n), targets: many},
		variant{name: fmt.Sprintf("%d Deployments, FERRY_PARALLELISM=%d", n, n), targets: many, env: []string{fmt.Sprintf("FERRY_PARALLELISM=%d", n)}},
		variant{name: "1 target", targets: []string{"k8s:fanout-one/web?context=production"}},
	)
	res := map[string][]sample{}
	verify := map[string][]float64{}
	for round := range k.cfg.runs {
		for _, v := range measure.Rotate(variants, round) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			src, err := source()
			if err != nil {
				return err
			}
			cmd := exec.Command(k.cfg.ferry, "promote")
			cmd.Env = append(k.ferryEnv("FERRY_SOURCE="+src, "FERRY_TARGETS="+strings.Join(v.targets, " ")), v.env...)
			s, err := measure.Run(ctx, cmd)
			var rep *promote.Report
			if err == nil {
				rep, err = promoted(s.Stdout, len(v.targets))
			}
			if err != nil {
				k.log.Printf("fan-out: %s, run %d failed: %v", v.name, round+1, err)
				k.note("fan-out: %s, run %d failed: %v", v.name, round+1, err)
				continue
			}
			k.log.Printf("fan-out: %s run %d: %.2fs wall, %.2fs cpu", v.name, round+1, s.Wall.Seconds(), s.CPU.Seconds())
			res[v.name] = append(res[v.name], sample{wall: s.Wall.Seconds(), cpu: s.CPU.Seconds(), rss: float64(s.MaxRSS) / 1e6, uploaded: -1})
			for _, t := range rep.Targets {
				verify[v.name] = append(verify[v.name], time.Duration(t.Durations.Verify).Seconds())
			}
		}
		// The control plane alone: the harness sets the image of the
		// same Deployments at once and watches until all have rolled
		// out, as `kubectl set image` and `kubectl rollout status`
		// would, but without a process start or ferry's snapshots.
		for _, n := range measure.Rotate([]int{len(many), 1}, round) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			name := fmt.Sprintf("control plane alone, %d", n)
			d, err := k.rolloutFloor(ctx, round, n)
			if err != nil {
				k.log.Printf("fan-out: %s, run %d failed: %v", name, round+1, err)
				k.note("fan-out: %s, run %d failed: %v", name, round+1, err)
				continue
			}
			k.log.Printf("fan-out: %s run %d: %.2fs", name, round+1, d)
			floor[n] = append(floor[n], d)
		}
	}
	for _, v := range variants {
		k.addRaw("fan-out", "ferry promote, "+v.name, res[v.name])
		k.addRawValues("fan-out: verify step per target (s)", "ferry promote, "+v.name, verify[v.name])
	}
	k.addRawValues("fan-out, wall (s)", fmt.Sprintf("control plane alone: set %d images at once, watch until rolled out", len(many)), floor[len(many)])
	k.addRawValues("fan-out, wall (s)", "control plane alone: set 1 image, watch until rolled out", floor[1])
	one := col(res["1 target"], wall)
	bound := &results.Bound{Text: "≤ 1.5× one target", OnRatio: true, Max: 1.5}
	if hk != nil {
		k.add(results.New("fan-out: one promotion to "+withHeroku+" over 2 clusters, vs 1 Deployment", "s", col(res[variants[0].name], wall), "ferry promote, 1 target", one, bound).
			WithNote(fmt.Sprintf("default FERRY_PARALLELISM (16); Deployments of 2 replicas, %d per cluster; Heroku apps in the emulator", fanoutPerCluster)))
		k.add(results.New(fmt.Sprintf("fan-out to %d targets with FERRY_PARALLELISM=%d, vs 1 Deployment", n+fanoutHerokuApps, n+fanoutHerokuApps), "s", col(res[variants[1].name], wall), "ferry promote, 1 target", one, bound))
		variants = variants[2:]
	} else {
		k.add(results.Pending(fmt.Sprintf("fan-out to %d Deployments + %d Heroku apps, vs 1 target", n, fanoutHerokuApps), "s", bound.Text, why))
	}
	k.add(results.New(fmt.Sprintf("fan-out: one promotion to %d Deployments over 2 clusters, vs 1 Deployment", n), "s", col(res[variants[0].name], wall), "ferry promote, 1 target", one, nil).
		WithNote("default FERRY_PARALLELISM (16)"))
	k.add(results.New(fmt.Sprintf("fan-out to %d Deployments with FERRY_PARALLELISM=%d, vs 1 Deployment", n, n), "s", col(res[variants[1].name], wall), "ferry promote, 1 target", one, nil))
	k.add(results.New(fmt.Sprintf("fan-out, the control plane alone: %d rollouts at once vs 1", n), "s", floor[len(many)], "1 rollout", floor[1], nil).
		WithNote("the harness patches the images itself and watches the Deployments' status: what the API server, controller-manager and kwok on this machine allow"))
	k.add(results.New(fmt.Sprintf("fan-out: ferry's cost over the control plane, %d Deployments with FERRY_PARALLELISM=%d", n, n), "s", col(res[variants[1].name], wall),
		fmt.Sprintf("control plane alone, %d rollouts", n), floor[len(many)], nil).
		WithNote("the same rollouts; ferry adds its process start, snapshots, patches and watches"))
	k.addCommand("fan-out", fmt.Sprintf("KUBECONFIG=… FERRY_SOURCE=127.0.0.1:PORT/shop@sha256:… FERRY_TARGETS='k8s:fanout/web-00?context=staging … k8s:fanout/web-09?context=production' (%d addresses) FERRY_OUTPUT=json ferry promote", n))
	k.addCommand("fan-out", "the same plus heroku:fan-0/web … heroku:fan-4/web in FERRY_TARGETS, with FERRY_HEROKU_API_KEY, FERRY_HEROKU_API_URL and FERRY_HEROKU_REGISTRY pointing at the emulator; each also with FERRY_PARALLELISM=<number of targets>; and the one target k8s:fanout-one/web?context=production")
	return nil
}

// promoted checks a JSON report: outcome promoted, every target promoted.
func promoted(stdout []byte, targets int) (*promote.Report, error) {
	var rep promote.Report
	if err := json.Unmarshal(stdout, &rep); err != nil {
		return nil, fmt.Errorf("report: %w: %s", err, stdout)
	}
	if rep.Outcome != promote.OutcomePromoted || len(rep.Targets) != targets {
		return nil, fmt.Errorf("want %d targets promoted, got %s with %d targets: %s", targets, rep.Outcome, len(rep.Targets), rep.Error)
	}
	for _, t := range rep.Targets {
		if t.Status != promote.StatusPromoted {
			return nil, fmt.Errorf("%s: %s %s", t.Target, t.Status, t.Error)
		}
	}
	return &rep, nil
}

// rolloutFloor sets a new image on the first n fan-out Deployments at once
// (production's first when n is 1) and watches the Deployments until every
// one has rolled out by its status; it returns the seconds from the first
// patch to the last completion.
func (k *kubeBench) rolloutFloor(ctx context.Context, round, n int) (float64, error) {
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
		w, err := c.Admin.AppsV1().Deployments("fanout").Watch(ctx, metav1.ListOptions{})
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
			d, err := r.c.Admin.AppsV1().Deployments("fanout").Patch(ctx, r.name, types.StrategicMergePatchType, patch, metav1.PatchOptions{})
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
