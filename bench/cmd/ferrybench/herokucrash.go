package main

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/registry"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
)

// herokuCrashBoot is the range of dyno boot times of the Heroku crash runs:
// run i of n boots in min + i·(max−min)/(n−1), so that the crash falls at
// different points of ferry's poll schedule instead of always the same.
const (
	herokuCrashBootMin = 1 * time.Second
	herokuCrashBootMax = 3 * time.Second
)

// herokuCrash measures how soon ferry rolls a Heroku app back when the
// dynos of the release it made crash: from the emulator's record of the
// dyno turning `crashed` to ferry's rollback request arriving at the
// emulator (POST /apps/APP/releases). The Platform API has no watch, so
// ferry polls the dynos; nothing else a user runs waits for Heroku dynos
// (the Heroku CLI is not installed here), so the figure has no anchor.
func (b *bench) herokuCrash(ctx context.Context) error {
	src, err := registry.Start(ctx, b.tool("docker-registry"), filepath.Join(b.cfg.work, "heroku-crash-source"))
	if err != nil {
		return err
	}
	defer src.Stop()
	good, err := fixture(7000, 1, 64<<10, false, platformAMD64)
	if err != nil {
		return err
	}
	bad, err := crashing(good)
	if err != nil {
		return err
	}
	badDigest, err := push(ctx, src.Host+"/crash:latest", bad)
	if err != nil {
		return err
	}
	runs := b.cfg.runs
	var lat, wallTimes []float64
	for i := range runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		boot := herokuCrashBootMin
		if runs > 1 {
			boot += time.Duration(i) * (herokuCrashBootMax - herokuCrashBootMin) / time.Duration(runs-1)
		}
		l, w, err := b.herokuCrashRun(ctx, boot, good, src.Host+"/crash@"+badDigest.String())
		if err != nil {
			b.log.Printf("heroku crash: run %d failed: %v", i+1, err)
			b.note("heroku crash: run %d failed: %v", i+1, err)
			continue
		}
		b.log.Printf("heroku crash: run %d (dynos boot in %s): rollback %.3fs after the crash (ferry ran %.2fs)", i+1, boot, l, w)
		lat, wallTimes = append(lat, l), append(wallTimes, w)
	}
	b.add(results.New("Heroku crash → rollback: dyno `crashed` to ferry's rollback request", "s", lat, "", nil, nil).
		WithNote(fmt.Sprintf("both times from the emulator (the dyno's state change; the request's arrival); dynos boot in %s to %s across the runs; ferry polls the dynos after 250 ms, 500 ms, 1 s, then every 2 s (the Platform API has no watch)",
			herokuCrashBootMin, herokuCrashBootMax)))
	b.add(results.New("Heroku crash: whole `ferry promote` (copy, release, detect, roll back)", "s", wallTimes, "", nil, nil))
	b.addRawValues("Heroku crash → rollback request (s)", "ferry promote", lat)
	b.addRawValues("Heroku crash: whole run, wall (s)", "ferry promote", wallTimes)
	b.addCommand("Heroku crash → rollback", "FERRY_SOURCE=127.0.0.1:PORT/crash@sha256:… FERRY_TARGETS=heroku:crash/web FERRY_HEROKU_API_KEY=… FERRY_HEROKU_API_URL=http://127.0.0.1:PORT FERRY_HEROKU_REGISTRY=127.0.0.1:PORT FERRY_OUTPUT=json ferry promote   # expects exit 1, rolled back")
	return nil
}

// crashing is img labelled so that the emulator's dynos crash on it.
func crashing(img v1.Image) (v1.Image, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Labels[herokuemu.LabelDyno] = "crash"
	return mutate.ConfigFile(img, cf)
}

// herokuCrashRun promotes source, whose dynos crash, to an app running good
// in a new emulator whose dynos boot in boot. It returns the seconds from
// the crash to ferry's rollback request and ferry's wall time.
func (b *bench) herokuCrashRun(ctx context.Context, boot time.Duration, good v1.Image, source string) (latency, wallTime float64, err error) {
	e, err := herokuemu.New(herokuemu.Options{BootTime: boot})
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	const app = "crash"
	key := randomKey()
	e.AddKey(key, app)
	first, err := seedApp(ctx, e, key, app, good)
	if err != nil {
		return 0, 0, err
	}

	cmd := exec.Command(b.cfg.ferry, "promote")
	cmd.Env = append(b.env(), "FERRY_SOURCE="+source, "FERRY_TARGETS=heroku:"+app+"/web", "FERRY_OUTPUT=json", "FERRY_TIMEOUT=60s",
		"FERRY_HEROKU_API_KEY="+key, "FERRY_HEROKU_API_URL="+e.APIURL(), "FERRY_HEROKU_REGISTRY="+e.RegistryHost())
	s, err := measure.Run(ctx, cmd)
	if _, err := restored(s.Stdout, err, 1); err != nil {
		return 0, 0, fmt.Errorf("ferry promote: %w", err)
	}
	var crashed time.Time
	for _, c := range e.DynoChanges() {
		if c.App == app && c.State == herokuemu.DynoCrashed && c.ReleaseVersion > first.Version {
			crashed = c.At
			break
		}
	}
	if crashed.IsZero() {
		return 0, 0, errors.New("the emulator recorded no crashed dyno of ferry's release")
	}
	for _, r := range e.Requests() {
		if r.Server == "api" && r.Method == "POST" && r.Path == "/apps/"+app+"/releases" && r.At.After(crashed) {
			return r.At.Sub(crashed).Seconds(), s.Wall.Seconds(), nil
		}
	}
	return 0, 0, errors.New("the emulator received no rollback request after the crash")
}
