package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/registry"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/pkg/heroku"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// recoveryLockTTL is FERRY_LOCK_TTL in the recovery runs: the killed run's
// lock has expired when the next run starts, so the figure is recovery's
// own, not the wait for a lock.
const recoveryLockTTL = 2 * time.Second

// recoveryScenario measures the durable record on a Heroku app (the
// emulator; its registry holds the record):
//
//   - how soon a run that finds an interrupted promotion asks for the
//     restore: a `ferry promote` is killed (SIGKILL) while it waits for
//     its dynos, then `ferry recover` starts; from that process's start to
//     the rollback request's arrival at the emulator;
//   - what the record and the lock cost a normal one-target promotion:
//     the time the emulator sees ferry spend on the record (from the
//     first request of each burst of record requests to the next request
//     that is not one), against the run's wall time.
func (b *bench) recoveryScenario(ctx context.Context) error {
	src, err := registry.Start(ctx, b.tool("docker-registry"), filepath.Join(b.cfg.work, "recovery-source"))
	if err != nil {
		return err
	}
	defer src.Stop()
	good, err := fixture(7100, 1, 64<<10, false, platformAMD64)
	if err != nil {
		return err
	}
	next, err := fixture(7200, 2, 256<<10, false, platformAMD64)
	if err != nil {
		return err
	}
	digest, err := push(ctx, src.Host+"/recovery:latest", next)
	if err != nil {
		return err
	}
	source := src.Host + "/recovery@" + digest.String()
	var lat, share, record, wall []float64
	for i := range b.cfg.runs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		l, err := b.recoveryRun(ctx, good, source)
		if err != nil {
			b.log.Printf("recovery: run %d failed: %v", i+1, err)
			b.note("recovery: run %d failed: %v", i+1, err)
		} else {
			b.log.Printf("recovery: run %d: restore requested %.3fs after `ferry recover` started", i+1, l)
			lat = append(lat, l)
		}
		rec, w, err := b.recordCostRun(ctx, good, source)
		if err != nil {
			b.log.Printf("record cost: run %d failed: %v", i+1, err)
			b.note("record cost: run %d failed: %v", i+1, err)
			continue
		}
		b.log.Printf("record cost: run %d: %.3fs of %.3fs (%.1f%%)", i+1, rec, w, 100*rec/w)
		record, wall, share = append(record, rec), append(wall, w), append(share, 100*rec/w)
	}
	b.add(results.New("Interrupted promotion → restore request: from the start of `ferry recover`", "s", lat, "", nil, nil).
		WithNote(fmt.Sprintf("Heroku emulator; a `ferry promote` killed with SIGKILL while it waits for its dynos, its lock expired (FERRY_LOCK_TTL=%s); start of the process to the rollback request's arrival; target ≤ 1 s plus API latency", recoveryLockTTL)))
	b.add(results.New("Record and lock: time spent on them in a one-target Heroku promotion", "s", record, "", nil, nil).
		WithNote("as the emulator sees it: each burst of requests to APP/ferry-record, from its first request to the next request that is not one (pushing the record image: blob checks, config upload, manifest)"))
	b.add(results.New("Record and lock: share of the promotion's wall time", "%", share, "", nil, nil).
		WithNote("target ≤ 5 %; the whole promotion's wall time is the other figure's denominator"))
	b.addRawValues("recovery: restore request after start (s)", "ferry recover", lat)
	b.addRawValues("record and lock: time (s)", "ferry promote", record)
	b.addRawValues("record and lock: whole promotion, wall (s)", "ferry promote", wall)
	b.addCommand("Interrupted promotion → restore", "FERRY_TARGETS=heroku:recovery/web FERRY_HEROKU_API_KEY=… FERRY_HEROKU_API_URL=http://127.0.0.1:PORT FERRY_HEROKU_REGISTRY=127.0.0.1:PORT FERRY_OUTPUT=json ferry recover   # after a killed ferry promote")
	return nil
}

func (b *bench) herokuEnv(e *herokuemu.Emulator, key string) []string {
	return append(b.env(), "FERRY_OUTPUT=json", "FERRY_TIMEOUT=120s", "FERRY_LOCK_TTL="+recoveryLockTTL.String(),
		"FERRY_HEROKU_API_KEY="+key, "FERRY_HEROKU_API_URL="+e.APIURL(), "FERRY_HEROKU_REGISTRY="+e.RegistryHost())
}

// recoveryRun kills a promotion while its dynos boot, then times `ferry
// recover` to its rollback request.
func (b *bench) recoveryRun(ctx context.Context, good v1.Image, source string) (float64, error) {
	e, err := herokuemu.New(herokuemu.Options{BootTime: 3 * time.Second})
	if err != nil {
		return 0, err
	}
	defer e.Close()
	const app = "recovery"
	key := randomKey()
	e.AddKey(key, app)
	if _, err := seedApp(ctx, e, key, app, good); err != nil {
		return 0, err
	}
	env := append(b.herokuEnv(e, key), "FERRY_TARGETS=heroku:"+app+"/web")
	if err := killWhen(ctx, exec.Command(b.cfg.ferry, "promote"), append(env, "FERRY_SOURCE="+source), "waiting for dynos"); err != nil {
		return 0, err
	}
	time.Sleep(recoveryLockTTL + 100*time.Millisecond)
	cmd := exec.Command(b.cfg.ferry, "recover")
	cmd.Env = env
	start := time.Now()
	s, err := measure.Run(ctx, cmd)
	if err != nil {
		return 0, fmt.Errorf("ferry recover: %w\n%s", err, s.Stdout)
	}
	if _, err := ended(s.Stdout, 1, promote.OutcomeRecovered, promote.StatusRecovered); err != nil {
		return 0, err
	}
	for _, r := range e.Requests() {
		if r.Server == "api" && r.Method == "POST" && r.Path == "/apps/"+app+"/releases" && r.At.After(start) {
			return r.At.Sub(start).Seconds(), nil
		}
	}
	return 0, errors.New("the emulator received no rollback request from ferry recover")
}

// killWhen runs cmd and kills it with SIGKILL once its standard error
// shows line.
func killWhen(ctx context.Context, cmd *exec.Cmd, env []string, line string) error {
	cmd.Env = env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), line) {
				found <- true
				_ = cmd.Process.Signal(syscall.SIGKILL)
				for sc.Scan() {
				}
				return
			}
		}
		found <- false
	}()
	var ok bool
	select {
	case ok = <-found:
	case <-ctx.Done():
	case <-time.After(2 * time.Minute):
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	if !ok {
		return fmt.Errorf("ferry never printed %q", line)
	}
	return nil
}

// recordCostRun promotes source to an app in a fresh emulator and returns
// the seconds spent on the record, as the emulator saw them, and the
// run's wall time.
func (b *bench) recordCostRun(ctx context.Context, good v1.Image, source string) (recordSecs, wallSecs float64, err error) {
	e, err := herokuemu.New(herokuemu.Options{BootTime: 100 * time.Millisecond})
	if err != nil {
		return 0, 0, err
	}
	defer e.Close()
	const app = "cost"
	key := randomKey()
	e.AddKey(key, app)
	if _, err := seedApp(ctx, e, key, app, good); err != nil {
		return 0, 0, err
	}
	before := len(e.Requests())
	cmd := exec.Command(b.cfg.ferry, "promote")
	cmd.Env = append(b.herokuEnv(e, key), "FERRY_TARGETS=heroku:"+app+"/web", "FERRY_SOURCE="+source)
	start := time.Now()
	s, err := measure.Run(ctx, cmd)
	if err != nil {
		return 0, 0, fmt.Errorf("ferry promote: %w\n%s", err, s.Stdout)
	}
	if _, err := promoted(s.Stdout, 1); err != nil {
		return 0, 0, err
	}
	end := start.Add(s.Wall)
	return recordTime(e.Requests()[before:], app, end).Seconds(), s.Wall.Seconds(), nil
}

// recordTime sums, over each burst of requests to app's record, the time
// from its first request to the next request that is not one (or to end).
func recordTime(reqs []herokuemu.Request, app string, end time.Time) time.Duration {
	isRecord := func(r herokuemu.Request) bool {
		return strings.Contains(r.Path, "/"+app+"/"+heroku.RecordProcess+"/")
	}
	var total time.Duration
	var burst time.Time
	for _, r := range reqs {
		switch {
		case isRecord(r) && burst.IsZero():
			burst = r.At
		case !isRecord(r) && !burst.IsZero():
			total += r.At.Sub(burst)
			burst = time.Time{}
		}
	}
	if !burst.IsZero() {
		total += end.Sub(burst)
	}
	return total
}
