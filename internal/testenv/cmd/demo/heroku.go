package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// herokuRequired decides what happens when ferry answers that heroku:
// targets are "not wired yet": false prints why steps 4 and 5 are skipped
// and the demo can still pass; true makes that a failure. Flip it to true
// once cmd/ferry wires pkg/heroku.
const herokuRequired = true

// notWired is what cmd/ferry says while heroku: addresses are not wired.
const notWired = "not wired yet"

const (
	herokuApp     = "shop-prod"
	herokuProcess = "web"
)

// heroku is steps 4 and 5: a Deployment and a Heroku app together.
func (d *demo) heroku(ctx context.Context) {
	n, sb := d.n, d.sb
	n.section("4", "promote to Kubernetes and Heroku together")

	emu, key, err := startHeroku(ctx, sb.good)
	sb.emu = emu // sandbox.stop closes it
	if err != nil {
		n.check("start the Heroku emulator", err)
		return
	}
	n.info("Heroku emulator: Platform API at %s, registry at %s", emu.APIURL(), emu.RegistryHost())
	n.info("app %s (stack container) runs %s on release %s", herokuApp, sb.good.name, currentVersion(emu))
	n.check("start the Heroku emulator", nil)

	source := sb.next.ref
	targets := sb.prodEU.addr() + " heroku:" + herokuApp + "/" + herokuProcess
	env := []string{
		"FERRY_SOURCE=" + source,
		"FERRY_TARGETS=" + targets,
		"FERRY_HEROKU_API_URL=" + emu.APIURL(),
		"FERRY_HEROKU_REGISTRY=" + emu.RegistryHost(),
		"HEROKU_API_KEY=" + key,
	}
	n.info("this time the source is an image in the registry, a new build %s:", tagOf(sb.next.name))
	n.env("FERRY_SOURCE", source)
	n.env("FERRY_TARGETS", targets)
	n.env("FERRY_HEROKU_API_URL", emu.APIURL())
	n.env("FERRY_HEROKU_REGISTRY", emu.RegistryHost())
	n.info("%s", style(dim, "HEROKU_API_KEY=(a key the emulator accepts for "+herokuApp+"; never printed)"))
	n.info("ferry copies the image into %s/%s/%s, releases it with one formation PATCH,", emu.RegistryHost(), herokuApp, herokuProcess)
	n.info("and waits for the release and its dynos, while it rolls out the Deployment.")

	r, err := d.ferry.run(ctx, env, "plan")
	if err == nil && r.code == 2 && strings.Contains(r.output, notWired) {
		why := "ferry says heroku: targets are " + notWired + " (cmd/ferry/heroku.go)"
		if herokuRequired {
			n.check("ferry plan with a heroku: target", errors.New(why))
			return
		}
		n.skip("steps 4 and 5 (Kubernetes and Heroku together)", why+"; the demo passes without them until herokuRequired is set")
		return
	}
	if !n.exit("plan", r, 0, err) || ctx.Err() != nil {
		return
	}
	if !d.ferryRun(ctx, env, "promote", 0) {
		return
	}
	n.check(fmt.Sprintf("%s runs %s (%s)", sb.prodEU, sb.next.name, short(sb.next.digest)), runs(ctx, sb.next, sb.prodEU))
	rel, err := herokuRuns(ctx, emu, sb.next.config)
	n.check(fmt.Sprintf("heroku %s/%s runs %s (image id %s)", herokuApp, herokuProcess, sb.next.name, short(sb.next.config)), err)
	if ctx.Err() != nil {
		return
	}

	n.section("5", "a bad image on both: ferry restores the Deployment and rolls back the Heroku release")
	bad := sb.herokuBad
	env[0] = "FERRY_SOURCE=" + bad.ref
	n.env("FERRY_SOURCE", bad.ref)
	n.info("%s rolls out on Kubernetes, but its config carries the label %s=crash and the", bad.name, herokuemu.LabelDyno)
	n.info("emulator's dynos crash on it (think of a setting only the Heroku app lacks). ferry should notice the")
	n.info("crashed dyno, roll %s back to the release it recorded, put the Deployment back too", herokuApp)
	n.info("(all targets or none), and exit 1.")
	r, ok := d.ferryRunOutput(ctx, env, "promote", 1)
	if ok {
		n.check("ferry names the cause (crashed dyno)", contains(r.output, "crashed"))
	}
	n.check(fmt.Sprintf("%s is back on %s", sb.prodEU, sb.next.name), runs(ctx, sb.next, sb.prodEU))
	back, err := herokuRuns(ctx, emu, sb.next.config)
	if err == nil && back.RollbackOf != rel.Version {
		err = fmt.Errorf("current release v%d (%q) is not a rollback to v%d", back.Version, back.Description, rel.Version)
	}
	n.check(fmt.Sprintf("heroku %s/%s is back on %s: v%d %q", herokuApp, herokuProcess, sb.next.name, back.Version, back.Description), err)
	if ctx.Err() != nil {
		return
	}
	n.blank()
	n.info("and what both targets run now, as ferry sees it:")
	r, ok = d.ferryRunOutput(ctx, env[1:], "status", 0) // all but FERRY_SOURCE
	if ok {
		n.check("ferry status shows "+sb.next.name+" on both", errors.Join(
			atLeast(r.output, sb.next.pinned(), 1),
			atLeast(r.output, "image "+sb.next.config.Hex[:12], 1)))
	}
}

// startHeroku starts the emulator with app herokuApp running good as its
// first release, and returns a key for ferry that may use only that app.
func startHeroku(ctx context.Context, good fixture) (*herokuemu.Emulator, string, error) {
	emu, err := herokuemu.New(herokuemu.Options{})
	if err != nil {
		return nil, "", err
	}
	if _, err := emu.CreateApp(herokuApp, "container"); err != nil {
		return emu, "", err
	}
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return emu, "", fmt.Errorf("making an API key: %w", err)
	}
	key := hex.EncodeToString(b[:])
	emu.AddKey(key, herokuApp)

	// What `docker push registry.heroku.com/APP/web` and `heroku
	// container:release web` would have done, with the emulator's seed key.
	ref := emu.RegistryHost() + "/" + herokuApp + "/" + herokuProcess + ":latest"
	seed := remote.WithAuth(&authn.Basic{Username: "_", Password: emu.SeedKey()})
	if _, err := images.Push(ctx, ref, good.img, seed); err != nil {
		return emu, "", err
	}
	if _, err := emu.Deploy(herokuApp, map[string]string{herokuProcess: good.config.String()}); err != nil {
		return emu, "", err
	}
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := emu.WaitIdle(wctx, herokuApp); err != nil {
		return emu, "", fmt.Errorf("waiting for the first release of %s: %w", herokuApp, err)
	}
	return emu, key, nil
}

// herokuRuns checks that the app's current release runs image id want for
// the process, with its dynos up, and returns that release.
func herokuRuns(ctx context.Context, emu *herokuemu.Emulator, want v1.Hash) (herokuemu.Release, error) {
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := emu.WaitIdle(wctx, herokuApp); err != nil {
		return herokuemu.Release{}, fmt.Errorf("waiting for %s to settle: %w", herokuApp, err)
	}
	var cur *herokuemu.Release
	for _, r := range emu.Releases(herokuApp) {
		if r.Current {
			cur = &r
		}
	}
	if cur == nil {
		return herokuemu.Release{}, fmt.Errorf("%s has no current release", herokuApp)
	}
	if got := cur.Images[herokuProcess]; got != want.String() {
		return *cur, fmt.Errorf("%s's current release v%d (%q) runs %s %s, want %s", herokuApp, cur.Version, cur.Description, herokuProcess, got, want)
	}
	up := 0
	for _, dy := range emu.Dynos(herokuApp) {
		if dy.Type != herokuProcess {
			continue
		}
		if dy.State != herokuemu.DynoUp || dy.ReleaseID != cur.ID {
			return *cur, fmt.Errorf("dyno %s is %s on release v%d, want up on v%d", dy.Name, dy.State, dy.ReleaseVersion, cur.Version)
		}
		up++
	}
	if up == 0 {
		return *cur, fmt.Errorf("%s has no %s dyno up", herokuApp, herokuProcess)
	}
	return *cur, nil
}

// currentVersion names the app's current release, "v1".
func currentVersion(emu *herokuemu.Emulator) string {
	for _, r := range emu.Releases(herokuApp) {
		if r.Current {
			return fmt.Sprintf("v%d", r.Version)
		}
	}
	return "(none)"
}
