package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/heroku"
)

var appSeq atomic.Int64

// herokuApp creates a container-stack app the test key can reach.
func herokuApp(t *testing.T, prefix string) string {
	t.Helper()
	name := fmt.Sprintf("%s-%d", prefix, appSeq.Add(1))
	if _, err := emu.CreateApp(name, "container"); err != nil {
		t.Fatal(err)
	}
	emu.AddKey(herokuKey, name)
	return name
}

// herokuEnv is baseEnv plus what reaches the emulator, with fast health
// checks.
func herokuEnv() env {
	return baseEnv().with(
		"HEROKU_API_KEY", herokuKey,
		"FERRY_HEROKU_API_URL", emu.APIURL(),
		"FERRY_HEROKU_REGISTRY", emu.RegistryHost(),
		"FERRY_HEALTH_INTERVAL", "200ms",
		"FERRY_HEALTH_TIMEOUT", "20s",
		"FERRY_HEALTH_THRESHOLD", "2",
	)
}

// pushed is an image in the test registry.
type pushed struct {
	repo     string  // registryHost/...
	manifest v1.Hash // what k8s pods would report
	config   v1.Hash // Heroku's image id
}

func (p pushed) ref() string { return p.repo + "@" + p.manifest.String() }

var seed atomic.Int64

// push builds a small image with labels and pushes it to repo:tag in the
// test registry.
func push(t *testing.T, repo, tag string, labels map[string]string) pushed {
	t.Helper()
	img, err := images.Build(images.Spec{Layers: 2, LayerSize: 64 << 10, Labels: labels, Seed: seed.Add(1) * 7919})
	if err != nil {
		t.Fatal(err)
	}
	full := registryHost + "/" + repo
	d, err := images.Push(context.Background(), full+":"+tag, img)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return pushed{repo: full, manifest: d, config: cfg}
}

// seedHeroku releases an image built from labels to app's processes on
// the shared emulator, as if deployed before ferry ran, with one dyno for
// every process type that has a formation, and returns its image id.
func seedHeroku(t *testing.T, app string, labels map[string]string, procs ...string) string {
	t.Helper()
	id := seedOn(t, emu, app, labels, procs...)
	for _, p := range procs {
		if p != "web" && p != "release" {
			if err := emu.Scale(app, p, 1); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := emu.WaitIdle(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	return id
}

// current is app's current release.
func current(t *testing.T, app string) herokuemu.Release {
	t.Helper()
	rs := emu.Releases(app)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Current {
			return rs[i]
		}
	}
	t.Fatalf("%s has no current release: %+v", app, rs)
	return herokuemu.Release{}
}

// mutationsOf counts emulator requests that changed app (or pushed to it).
func mutationsOf(app string) int {
	n := 0
	for _, r := range emu.Mutations() {
		if containsApp(r.Path, app) {
			n++
		}
	}
	return n
}

// containsApp reports whether a request path is about app. ferry's own
// promotion record (registry.heroku.com/APP/ferry-record, written before
// anything changes and never released) is not a change to the app, and
// is left out: recordWrites counts it.
func containsApp(path, app string) bool {
	if strings.Contains(path, "/"+app+"/"+heroku.RecordProcess+"/") {
		return false
	}
	return strings.Contains(path, "/apps/"+app+"/") || strings.HasSuffix(path, "/apps/"+app) || strings.Contains(path, "/"+app+"/")
}

// recordWrites counts the writes to app's promotion record.
func recordWrites(e *herokuemu.Emulator, app string) int {
	n := 0
	for _, r := range e.Mutations() {
		if strings.Contains(r.Path, "/"+app+"/"+heroku.RecordProcess+"/") {
			n++
		}
	}
	return n
}

// assertLatest checks that APP/PROC:latest in the emulator's registry holds
// image id (what `heroku container:release` would release next).
func assertLatest(t *testing.T, app, proc, id string) {
	t.Helper()
	ref, err := name.NewTag(emu.RegistryHost() + "/" + app + "/" + proc + ":latest")
	if err != nil {
		t.Fatal(err)
	}
	img, err := remote.Image(ref, remote.WithAuth(&authn.Basic{Username: "_", Password: emu.SeedKey()}))
	if err != nil {
		t.Fatalf("reading %s: %v", ref, err)
	}
	got, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	if got.String() != id {
		t.Errorf("%s holds image %s, want %s", ref, got, id)
	}
}
