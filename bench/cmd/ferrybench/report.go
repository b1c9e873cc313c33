package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
)

// rawRow is every tool's measurements in one scenario, for the second
// table of results.md.
type rawRow struct {
	scenario, tool     string
	wall, cpu, rss, up measure.Summary
	values             bool // a single series (latency, ms), not copy samples
	uploadedWasCounted bool
}

func (b *bench) addRaw(scenario, tool string, ss []sample) {
	r := rawRow{scenario: scenario, tool: tool,
		wall: measure.Summarize(col(ss, wall)), cpu: measure.Summarize(col(ss, cpu)), rss: measure.Summarize(col(ss, rss)), up: measure.Summarize(col(ss, uploaded))}
	r.uploadedWasCounted = len(ss) > 0 && ss[0].uploaded >= 0
	b.raw = append(b.raw, r)
}

func (b *bench) addRawValues(scenario, tool string, xs []float64) {
	b.raw = append(b.raw, rawRow{scenario: scenario, tool: tool, wall: measure.Summarize(xs), values: true})
}

func spread(s measure.Summary, format string, scale float64) string {
	if s.Runs == 0 {
		return "no run"
	}
	return fmt.Sprintf(format+" ("+format+" – "+format+")", s.Median*scale, s.Min*scale, s.Max*scale)
}

// write writes results.json and results.md into cfg.out, or with -merge
// merges this run's figures into the ones there (mergeWrite).
func (b *bench) write() error {
	if b.cfg.merge {
		return b.mergeWrite()
	}
	var js bytes.Buffer
	if err := results.WriteJSON(&js, b.figs); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(b.cfg.out, "results.json"), js.Bytes(), 0o644); err != nil {
		return err
	}
	var md strings.Builder
	fmt.Fprintf(&md, "# ferry benchmarks\n\n")
	fmt.Fprintf(&md, "Written by `make bench` (bench/cmd/ferrybench) on %s, in %s; results.json holds the same figures.\n",
		b.started.UTC().Format("2006-01-02 15:04 MST"), b.finished.Sub(b.started).Round(time.Second))
	fmt.Fprintf(&md, "Every figure is the median of %d runs (min – max beside it); a ratio divides ferry's median by the anchor's, both measured in this run with the order of the tools rotated every round. Everything ran on 127.0.0.1.\n\n", b.cfg.runs)
	md.WriteString(b.loadSentence())
	md.WriteString("\n\n")
	if err := results.WriteTable(&md, b.figs); err != nil {
		return err
	}
	md.WriteString("\nWhat to change in ferry where it misses a target, and what is the registry's or the API server's limit: see [findings.md](findings.md).\n")

	md.WriteString("\n## Every tool, every scenario\n\n")
	md.WriteString("Median (min – max) of the runs that succeeded.\n\n")
	md.WriteString(b.rawTable())

	md.WriteString("\n## Machine\n\n")
	fmt.Fprintf(&md, "- nproc: %s\n- CPU: %s\n- kernel: %s\n- scratch (registry storage): %s\n- free -h:\n\n```\n%s\n```\n", b.machine.nproc, b.machine.cpu, b.machine.kernel, filepath.Dir(b.cfg.work), b.machine.free)

	md.WriteString("\n## Tool versions\n\n")
	for _, v := range b.versions {
		fmt.Fprintf(&md, "- %s\n", v)
	}

	md.WriteString("\n## Commands\n\n")
	md.WriteString("Each tool runs with PATH, an empty HOME and TMPDIR in the scratch folder as its only environment. Registries are Debian's docker-registry (CNCF distribution) with filesystem storage in a fresh folder per run, started as `docker-registry serve CONFIG` (bench/internal/registry). Every tool runs under GNU time (`/usr/bin/time -f '%e %U %S %M'`): peak RSS and CPU are its report of wait4's rusage (going through time matters: a child started straight from the Go harness, by vfork, would report the harness's RSS as its own). Wall time is taken by the harness around the process.\n\n")
	md.WriteString(b.commandList())

	md.WriteString("\n## Method\n\n")
	for _, m := range b.method() {
		fmt.Fprintf(&md, "- %s\n", m)
	}
	if len(b.notes) > 0 {
		md.WriteString("\n## Notes from this run\n\n")
		for _, n := range b.notes {
			fmt.Fprintf(&md, "- %s\n", n)
		}
	}
	return os.WriteFile(filepath.Join(b.cfg.out, "results.md"), []byte(md.String()), 0o644)
}

// mergeWrite merges this run's figures into cfg.out's results.json (a
// figure of the same name is replaced, new ones are appended) and
// results.md (its figure table is written again from the merged figures,
// and a section of this run's own — its machine load, every tool's runs
// and the commands — is put in place of the one an earlier merge of the
// same scenarios wrote), leaving the full run's other sections alone.
func (b *bench) mergeWrite() error {
	jsonPath, mdPath := filepath.Join(b.cfg.out, "results.json"), filepath.Join(b.cfg.out, "results.md")
	f, err := os.Open(jsonPath)
	if err != nil {
		return fmt.Errorf("-merge needs the results of a full run: %w", err)
	}
	old, err := results.ReadJSON(f)
	f.Close()
	if err != nil {
		return err
	}
	oldMD, err := os.ReadFile(mdPath)
	if err != nil {
		return fmt.Errorf("-merge needs the results of a full run: %w", err)
	}
	merged := results.Merge(old, b.figs)
	var js, table bytes.Buffer
	if err := results.WriteJSON(&js, merged); err != nil {
		return err
	}
	if err := results.WriteTable(&table, merged); err != nil {
		return err
	}
	md, err := results.ReplaceTable(string(oldMD), table.String())
	if err != nil {
		return err
	}
	key := strings.Join(b.cfg.scenarios, ",")
	var sec strings.Builder
	fmt.Fprintf(&sec, "## Scenario %s, measured apart on %s\n\n", key, b.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&sec, "`ferrybench -scenarios %s -merge` measured these rows of the table above on their own, in %s, %d runs per figure, and merged them into the full run's results. ", key, b.finished.Sub(b.started).Round(time.Second), b.cfg.runs)
	sec.WriteString(b.loadSentence())
	sec.WriteString("\n\n| scenario | tool | runs | wall | CPU (user+sys) | peak RSS | blob bytes uploaded |\n|---|---|---:|---|---|---|---|\n")
	sec.WriteString(strings.SplitN(b.rawTable(), "|---|---|---:|---|---|---|---|\n", 2)[1])
	sec.WriteString("\nCommands:\n")
	sec.WriteString(b.commandList())
	for _, n := range b.notes {
		fmt.Fprintf(&sec, "\n- %s\n", n)
	}
	md = results.ReplaceSection(md, key, sec.String())
	return errors.Join(os.WriteFile(jsonPath, js.Bytes(), 0o644), os.WriteFile(mdPath, []byte(md), 0o644))
}

// loadSentence says how busy the machine was.
func (b *bench) loadSentence() string {
	var md strings.Builder
	fmt.Fprintf(&md, "**Machine load:** load average %s at the start and %s at the end", b.machine.loadStart, b.machine.loadEnd)
	if b.machine.busyBefore >= 0 {
		fmt.Fprintf(&md, "; the CPUs were %.0f%% busy with other work in the 5 s before the bench started anything", b.machine.busyBefore*100)
	}
	if b.machine.busyRun >= 0 {
		fmt.Fprintf(&md, ", and %.0f%% busy over the whole run (the bench's own registries, control planes and tools included)", b.machine.busyRun*100)
	}
	if b.machine.busyOthers >= 0 {
		other := "the machine was otherwise busy"
		switch {
		case b.machine.busyOthers < 0.03:
			other = "the machine was otherwise idle"
		case b.machine.busyOthers < 0.25:
			other = "the machine was otherwise lightly busy"
		}
		fmt.Fprintf(&md, ". Processes outside the bench used %.0f%% of the machine's CPU time during the run: %s", b.machine.busyOthers*100, other)
	}
	md.WriteString(".")
	if b.cfg.busy != "" {
		fmt.Fprintf(&md, " %s", b.cfg.busy)
	}
	return md.String()
}

// rawTable is every tool's runs, one row per scenario and tool.
func (b *bench) rawTable() string {
	var md strings.Builder
	md.WriteString("| scenario | tool | runs | wall | CPU (user+sys) | peak RSS | blob bytes uploaded |\n|---|---|---:|---|---|---|---|\n")
	for _, r := range b.raw {
		if r.values {
			fmt.Fprintf(&md, "| %s | %s | %d | %s | | | |\n", r.scenario, r.tool, r.wall.Runs, spread(r.wall, "%.3f", 1))
			continue
		}
		up := ""
		if r.uploadedWasCounted {
			up = spread(r.up, "%.1f", 1.0/(1<<20)) + " MiB"
		}
		fmt.Fprintf(&md, "| %s | %s | %d | %s s | %s s | %s MB | %s |\n", r.scenario, r.tool, r.wall.Runs,
			spread(r.wall, "%.3f", 1), spread(r.cpu, "%.2f", 1), spread(r.rss, "%.1f", 1), up)
	}
	return md.String()
}

// commandList is the exact command lines, grouped by what they measure.
func (b *bench) commandList() string {
	var md strings.Builder
	seen := map[string]bool{}
	last := ""
	for _, c := range b.commands {
		if seen[c.what+c.line] {
			continue
		}
		seen[c.what+c.line] = true
		if c.what != last {
			fmt.Fprintf(&md, "\n%s:\n\n", c.what)
			last = c.what
		}
		fmt.Fprintf(&md, "    %s\n", c.line)
	}
	return md.String()
}

func (b *bench) method() []string {
	c := b.cfg
	return []string{
		fmt.Sprintf("Copied image: %d layers of %d MiB of pseudo-random (incompressible) bytes, each a valid tar in a level-0 gzip stream, Docker v2 schema 2 media types. Image v2 has layers 1..%d, so it shares %d layers with v1.", c.layers, c.layerSize>>20, c.layers, c.layers-1),
		"Fresh copy: a new, empty destination registry for every run, so no tool finds or mounts anything. ferry's copy is bench/cmd/ferry-copy, a process that calls pkg/image.Copy with ferry's defaults (4 blobs at a time, a read-back of the destination at the end), because ferry has no copy command: a promotion copies as one of its steps.",
		"Copy again / new tag / cross-repository: the destination is a copy of a registry folder that already holds app:v1, behind a reverse proxy (bench/internal/registry) that counts the blob bytes received under /blobs/uploads/ and the mounts answered 201; the tools talk to the proxy. Cross-repository copies go from app to prod/app of that one registry.",
		"Every copy is read back afterwards (outside the timing): the destination tag must name the source digest (for Heroku: a Docker v2 schema 2 manifest whose config digest is the source's).",
		"Heroku: each run gets a new in-process Heroku emulator (internal/testenv/herokuemu), whose registry accepts only Docker v2 schema 2 manifests and Basic auth with user _ and the API key; crane has no conversion and is left out.",
		"Crash: real kube-apiserver, etcd, kube-controller-manager and kube-scheduler (internal/testenv), with kwok as the kubelet; a pod whose image contains \"crash\" reports CrashLoopBackOff in its first status. Start: the API server's audit time of the first status write of a crashing pod; end: the audit time of ferry's second patch of the Deployment (the restore), or the moment `kubectl rollout status` exits. Deployments have 2 replicas and progressDeadlineSeconds 60. ferry's runs take turns on the production plane while the kubectl runs, which last about a minute each, run side by side on the staging plane.",
		"Fan-out: 10 Deployments (2 replicas) in each of the two planes; every run promotes a new digest, so every target changes.",
		"skopeo runs as root and so keeps its blob-info cache in /var/lib/containers/cache across runs; every run uses registries on new ports, so the cache never names a usable location.",
	}
}
