package e2e

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// assertRuns checks that app's current release runs id on every process.
func assertRuns(t *testing.T, app, id string, procs ...string) herokuemu.Release {
	t.Helper()
	cur := current(t, app)
	for _, p := range procs {
		if cur.Images[p] != id {
			t.Errorf("%s: current release v%d runs %s on %s, want %s", app, cur.Version, cur.Images[p], p, id)
		}
	}
	return cur
}

func TestKubernetesStagingToHerokuTwoProcessTypes(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "v1", nil)
	sns := namespace(t, staging)
	create(t, staging, sns, deploy{name: "web",
		containers:     []corev1.Container{container("app", img.repo+":v1")},
		podAnnotations: map[string]string{"imageid.testenv.ferry.dev/app": img.ref()},
	})
	app := herokuApp(t, "shop-prod")
	old := seedHeroku(t, app, nil, "web", "worker")
	patches := emu.FormationPatches(app)

	r := ferry(t, herokuEnv().with(
		"FERRY_SOURCE", "k8s:"+sns+"/web?context=staging",
		"FERRY_TARGETS", "heroku:"+app+"/web,worker?health=/healthz",
	), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	rep := r.report(t)
	if rep.Digest != img.manifest.String() || rep.Targets[0].Status != promote.StatusPromoted {
		t.Fatalf("report: digest %s status %s", rep.Digest, rep.Targets[0].Status)
	}
	cur := assertRuns(t, app, img.config.String(), "web", "worker")
	if got := emu.FormationPatches(app) - patches; got != 1 {
		t.Errorf("%d formation PATCHes, want one release for both process types", got)
	}
	if cur.Status != herokuemu.StatusSucceeded || cur.Images["web"] == old {
		t.Errorf("current release %+v", cur)
	}
	// The registry got a Docker v2 schema 2 manifest whose config is the
	// released image id.
	pushedIDs := emu.Pushed(app, "worker")
	if len(pushedIDs) == 0 || pushedIDs[len(pushedIDs)-1] != img.config.String() {
		t.Errorf("pushed to %s/worker: %v", app, pushedIDs)
	}
}

func TestHerokuStagingToHerokuProduction(t *testing.T) {
	t.Parallel()
	stg, prod := herokuApp(t, "shop-stg"), herokuApp(t, "shop-prod")
	id := seedHeroku(t, stg, map[string]string{"version": "2"}, "web")
	old := seedHeroku(t, prod, map[string]string{"version": "1"}, "web")
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", "heroku:"+stg+"/web", "FERRY_TARGETS", "heroku:"+prod+"/web"), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, prod, id, "web")

	// Again: nothing to do, nothing written.
	before := mutationsOf(prod)
	r = ferry(t, herokuEnv().with("FERRY_SOURCE", "heroku:"+stg+"/web", "FERRY_TARGETS", "heroku:"+prod+"/web"), "promote")
	if r.code != 0 || r.report(t).Outcome != promote.OutcomeUnchanged {
		t.Fatalf("second run: want exit 0, unchanged\n%s", r)
	}
	if n := mutationsOf(prod) - before; n != 0 {
		t.Errorf("second run made %d changes", n)
	}

	// status shows what it runs; rollback goes back to the release before.
	onlyTargets := herokuEnv().with("FERRY_TARGETS", "heroku:"+prod+"/web")
	r = ferry(t, onlyTargets, "status")
	if r.code != 0 || r.report(t).Targets[0].Before == nil || r.report(t).Targets[0].Before.Revision != "v2" {
		t.Fatalf("status: want exit 0 and release v2\n%s", r)
	}
	r = ferry(t, onlyTargets, "rollback")
	if r.code != 0 {
		t.Fatalf("rollback: want exit 0\n%s", r)
	}
	assertRuns(t, prod, old, "web")
}

func TestImageReferenceToHeroku(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/api", "2.0", nil)
	app := herokuApp(t, "api-prod")
	seedHeroku(t, app, nil, "web")
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.repo+":2.0", "FERRY_TARGETS", "heroku:"+app), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, app, img.config.String(), "web")
}

func TestMultiPlatformIndexToHeroku(t *testing.T) {
	t.Parallel()
	idx, err := images.Index(map[string]images.Spec{
		"linux/amd64": {Layers: 2, LayerSize: 32 << 10, OCI: true, Seed: seed.Add(1) * 31},
		"linux/arm64": {Layers: 2, LayerSize: 32 << 10, OCI: true, Seed: seed.Add(1) * 37},
	})
	if err != nil {
		t.Fatal(err)
	}
	ref := registryHost + "/acme/multi:1.0"
	if _, err := images.PushIndex(context.Background(), ref, idx); err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var amd64Config string
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.Architecture == "amd64" {
			img, err := idx.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			h, _ := img.ConfigName()
			amd64Config = h.String()
		}
	}
	app := herokuApp(t, "multi-prod")
	seedHeroku(t, app, nil, "web")
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", ref, "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	assertRuns(t, app, amd64Config, "web")
	// What the Heroku registry holds is a Docker v2 schema 2 manifest.
	dst, _ := name.ParseReference(emu.RegistryHost() + "/" + app + "/web:latest")
	desc, err := remote.Get(dst, remote.WithAuth(&authn.Basic{Username: "_", Password: herokuKey}))
	if err != nil {
		t.Fatal(err)
	}
	if desc.MediaType != types.DockerManifestSchema2 {
		t.Errorf("registry holds %s, want %s", desc.MediaType, types.DockerManifestSchema2)
	}
}

func TestHerokuCrashRestoresTheRecordedRelease(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "crashy", map[string]string{herokuemu.LabelDyno: "crash"})
	app := herokuApp(t, "crash-prod")
	old := seedHeroku(t, app, nil, "web")
	before := current(t, app)
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web"), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("want exit 1 and restored\n%s", r)
	}
	if !strings.Contains(r.stdout, "crashed") {
		t.Errorf("report does not say the dynos crashed")
	}
	cur := assertRuns(t, app, old, "web")
	if cur.RollbackOf != before.Version {
		t.Errorf("current release v%d rolls back to v%d, want the recorded v%d", cur.Version, cur.RollbackOf, before.Version)
	}
}

func TestHerokuReleasePhaseFailure(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "badmigration", map[string]string{herokuemu.LabelRelease: "fail"})
	app := herokuApp(t, "phase-prod")
	old := seedHeroku(t, app, nil, "web", "release")
	before := current(t, app)
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(), "FERRY_TARGETS", "heroku:"+app+"/web,release"), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	if !strings.Contains(r.stdout+r.stderr, "release phase") {
		t.Errorf("output does not name the release phase")
	}
	cur := assertRuns(t, app, old, "web")
	if cur.Version != before.Version {
		t.Errorf("current release v%d, want v%d still current and no rollback release", cur.Version, before.Version)
	}
	for _, rel := range emu.Releases(app) {
		if rel.RollbackOf != 0 {
			t.Errorf("a needless rollback release was made: %+v", rel)
		}
	}
}

// One of two targets fails: the Kubernetes Deployment crashes, so the
// Heroku app, which took the release fine, is restored too.
func TestMixedTargetsOneFailsBothRestored(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop-crash", "v9", nil)
	app := herokuApp(t, "mixed-prod")
	old := seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	r := ferry(t, herokuEnv().with("FERRY_SOURCE", img.ref(),
		"FERRY_TARGETS", "heroku:"+app+"/web "+target(pns, "web", "production")), "promote")
	if r.code != 1 {
		t.Fatalf("want exit 1\n%s", r)
	}
	for _, tr := range r.report(t).Targets {
		if tr.Status != promote.StatusRestored {
			t.Errorf("%s: %s, want restored", tr.Target, tr.Status)
		}
	}
	assertRuns(t, app, old, "web")
	assertRestored(t, before, rs)
	if after := get(t, production, pns, "web"); !equality.Semantic.DeepEqual(after.Spec.Template, before.Spec.Template) {
		t.Errorf("deployment template not restored")
	}
}

func TestWrongHerokuKeyChangesNothing(t *testing.T) {
	t.Parallel()
	img := push(t, "acme/shop", "v1", nil)
	app := herokuApp(t, "key-prod")
	seedHeroku(t, app, nil, "web")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	before := mutationsOf(app)
	wrong := "hk-wrong-" + strings.Repeat("x", 20)
	r := ferry(t, herokuEnv().with("HEROKU_API_KEY", wrong, "FERRY_SOURCE", img.ref(),
		"FERRY_TARGETS", target(pns, "web", "production")+" heroku:"+app+"/web"), "promote")
	if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "HEROKU_API_KEY") {
		t.Fatalf("want exit 2 naming HEROKU_API_KEY\n%s", r)
	}
	if strings.Contains(r.stdout+r.stderr, wrong) {
		t.Errorf("the refused key was printed")
	}
	if n := mutationsOf(app) - before; n != 0 {
		t.Errorf("%d changes reached Heroku", n)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Errorf("changes reached Kubernetes: %v", m)
	}
}
