// Command ferrybench measures ferry side by side with crane, skopeo and
// kubectl and writes results.json and results.md. `make bench` runs it
// through bench/run.sh, which installs the tools first.
//
// Every figure is the median of -runs runs with their minimum and maximum;
// a comparison is the ratio of two medians taken in the same run, with the
// order of the tools rotated from one round to the next. Everything runs
// on 127.0.0.1.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/ferry-dev/ferry/bench/internal/results"
)

type config struct {
	tools     string // folder with crane, skopeo, kubectl, docker-registry, hyperfine, curl
	ferry     string // bin/ferry
	ferryCopy string // the bench's copy command
	floor     string // floor.sh
	repo      string // repository root, for hack/release/images.sh
	ko        string // the pinned ko (hack/build-tool.sh ko), for the image size
	out       string // where results.{json,md} go
	work      string // scratch folder (registry storage)
	runs      int
	layers    int
	layerSize int64
	scenarios []string
	busy      string
	keepLogs  bool
	merge     bool   // merge into out's results instead of replacing them
	profile   string // folder for ferry-copy's CPU profiles
}

var allScenarios = []string{"copy", "heroku", "crash", "fanout", "startup", "size", "creds", "sign", "gates", "recovery"}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ferrybench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	c, workRoot, err := parseFlags(args)
	if err != nil {
		return err
	}
	if workRoot == "" {
		workRoot = defaultWorkRoot(int64(c.layers) * c.layerSize)
	}
	work, err := os.MkdirTemp(workRoot, "ferry-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	c.work = work

	b := &bench{cfg: c, log: log.New(os.Stderr, "ferrybench: ", log.Ltime), started: time.Now()}
	b.machine = readMachine(ctx)
	b.versions = b.toolVersions(ctx)
	b.log.Printf("scratch in %s; %d runs per figure; image %d × %d MiB", work, c.runs, c.layers, c.layerSize>>20)

	errs := b.runScenarios(ctx)
	b.finished = time.Now()
	b.machine.finish()
	if err := b.write(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// parseFlags reads the command line into a config (paths made absolute)
// and the -work folder.
func parseFlags(args []string) (config, string, error) {
	var c config
	var scenarios, workRoot string
	var layerMiB int
	fs := flag.NewFlagSet("ferrybench", flag.ContinueOnError)
	fs.StringVar(&c.tools, "tools", "", "folder holding crane, skopeo, kubectl, docker-registry, hyperfine and curl (bench/install.sh prints it)")
	fs.StringVar(&c.ferry, "ferry", "bin/ferry", "the ferry binary (make build)")
	fs.StringVar(&c.ferryCopy, "ferry-copy", "", "the ferry-copy binary (bench/cmd/ferry-copy)")
	fs.StringVar(&c.floor, "floor", "bench/floor.sh", "the curl floor script")
	fs.StringVar(&c.repo, "repo", ".", "ferry's repository root")
	fs.StringVar(&c.ko, "ko", "", "the ko binary that builds the image whose size is reported (hack/build-tool.sh ko)")
	fs.StringVar(&c.out, "out", "bench", "folder for results.json and results.md")
	fs.StringVar(&workRoot, "work", "", "scratch folder for registry storage (default /dev/shm when it has room, else $TMPDIR)")
	fs.IntVar(&c.runs, "runs", 5, "runs per figure")
	fs.IntVar(&c.layers, "layers", 8, "layers of the copied image")
	fs.IntVar(&layerMiB, "layer-mib", 128, "MiB per layer (8 × 128 MiB = 1 GiB)")
	fs.StringVar(&scenarios, "scenarios", strings.Join(allScenarios, ","), "scenarios to run: "+strings.Join(allScenarios, ","))
	fs.StringVar(&c.busy, "busy", "", "what else the machine was doing, for results.md")
	fs.StringVar(&c.profile, "profile", "", "write a CPU profile (pprof) and a request trace of every ferry-copy run into this folder")
	fs.BoolVar(&c.merge, "merge", false, "merge this run's figures into the results in -out (one scenario measured again) instead of replacing them")
	fs.BoolVar(&c.keepLogs, "keep-logs", false, "keep the control planes' folders (logs, audit logs) and print where")
	if err := fs.Parse(args); err != nil {
		return c, "", err
	}
	if c.tools == "" || c.ferryCopy == "" {
		return c, "", errors.New("-tools and -ferry-copy are required")
	}
	if c.runs < 1 || c.layers < 1 || layerMiB < 1 {
		return c, "", errors.New("-runs, -layers and -layer-mib must be positive")
	}
	c.layerSize = int64(layerMiB) << 20
	for _, s := range strings.Split(scenarios, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		if !slices.Contains(allScenarios, s) {
			return c, "", fmt.Errorf("unknown scenario %q; want some of %s", s, strings.Join(allScenarios, ","))
		}
		c.scenarios = append(c.scenarios, s)
	}
	if c.profile != "" {
		if err := os.MkdirAll(c.profile, 0o755); err != nil {
			return c, "", err
		}
	}
	for _, p := range []*string{&c.tools, &c.ferry, &c.ferryCopy, &c.floor, &c.repo, &c.out, &c.profile, &c.ko} {
		if *p == "" {
			continue
		}
		abs, err := filepath.Abs(*p)
		if err != nil {
			return c, "", err
		}
		*p = abs
	}
	return c, workRoot, nil
}

// runScenarios runs the chosen scenarios in order, each failure noted in
// the results, until the context ends.
func (b *bench) runScenarios(ctx context.Context) []error {
	c := b.cfg
	var errs []error
	for _, s := range c.scenarios {
		start := time.Now()
		b.log.Printf("scenario %s ...", s)
		var err error
		switch s {
		case "copy":
			err = b.copyScenarios(ctx)
		case "heroku":
			err = b.herokuScenario(ctx)
		case "crash":
			err = errors.Join(b.kubeScenarios(ctx, true, slices.Contains(c.scenarios, "fanout")), b.herokuCrash(ctx))
		case "fanout":
			if !slices.Contains(c.scenarios, "crash") {
				err = b.kubeScenarios(ctx, false, true)
			}
		case "startup":
			err = b.startupScenario(ctx)
		case "creds":
			err = b.credsScenario(ctx)
		case "sign":
			err = b.signScenario(ctx)
		case "gates":
			err = b.gatesScenario(ctx)
		case "recovery":
			err = b.recoveryScenario(ctx)
		case "size":
			if !slices.Contains(c.scenarios, "startup") { // startup reports the sizes too
				err = b.sizeScenario(ctx)
			}
		}
		if err != nil {
			b.log.Printf("scenario %s failed: %v", s, err)
			errs = append(errs, fmt.Errorf("scenario %s: %w", s, err))
			b.notes = append(b.notes, fmt.Sprintf("Scenario %s failed: %v", s, err))
		}
		b.log.Printf("scenario %s done in %s", s, time.Since(start).Round(time.Second))
		if ctx.Err() != nil {
			break
		}
	}
	return errs
}

// defaultWorkRoot prefers tmpfs, so that the disk is not what is measured,
// when it has room for about six copies of the image.
func defaultWorkRoot(image int64) string {
	var st syscall.Statfs_t
	if err := syscall.Statfs("/dev/shm", &st); err == nil && int64(st.Bavail)*st.Bsize > 6*image {
		if f, err := os.CreateTemp("/dev/shm", "ferry-bench-probe-"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return "/dev/shm"
		}
	}
	return os.TempDir()
}

// bench collects what a run produces.
type bench struct {
	cfg      config
	log      *log.Logger
	figs     []results.Figure
	raw      []rawRow
	commands []command
	notes    []string
	machine  machine
	versions []string

	started, finished time.Time
	profiles          int
}

// command is an exact command line shown in results.md.
type command struct{ what, line string }

func (b *bench) addCommand(what, line string) {
	b.commands = append(b.commands, command{what, line})
}

func (b *bench) add(f results.Figure) { b.figs = append(b.figs, f) }

func (b *bench) note(format string, args ...any) {
	b.notes = append(b.notes, fmt.Sprintf(format, args...))
}

func (b *bench) tool(name string) string { return filepath.Join(b.cfg.tools, name) }
