package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// machine is what results.md says about the computer.
type machine struct {
	nproc, free, cpu, kernel string
	loadStart, loadEnd       string
	// busyBefore is the share of CPU time the machine spent busy in the
	// seconds before the bench started anything.
	busyBefore float64
	// statStart is /proc/stat's busy and total jiffies when the bench
	// started, for the share of busy CPU over the whole run.
	statStart [2]float64
	busyRun   float64
	// busyOthers is the share of the machine's CPU time that processes
	// other than the bench and its children used during the run.
	busyOthers float64
}

func readMachine(ctx context.Context) machine {
	m := machine{
		nproc:     output(ctx, "nproc"),
		free:      output(ctx, "free", "-h"),
		kernel:    output(ctx, "uname", "-srvm"),
		loadStart: loadavg(),
	}
	m.busyBefore = cpuBusy(ctx, 5*time.Second)
	if b, t, ok := procStat(); ok {
		m.statStart = [2]float64{b, t}
	}
	if f, err := os.Open("/proc/cpuinfo"); err == nil {
		defer f.Close()
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
				m.cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadavg is the first three fields of /proc/loadavg.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func output(ctx context.Context, name string, args ...string) string {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return "unavailable (" + strings.TrimSpace(err.Error()) + ")"
	}
	return strings.TrimSpace(string(out))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// toolVersions asks every tool for its version.
func (b *bench) toolVersions(ctx context.Context) []string {
	return []string{
		"ferry: " + output(ctx, b.cfg.ferry, "version"),
		"ferry-copy: bench/cmd/ferry-copy calling pkg/image.Copy, built with " + runtime.Version(),
		"crane: " + output(ctx, b.tool("crane"), "version"),
		"skopeo: " + output(ctx, b.tool("skopeo"), "--version"),
		"docker-registry: " + output(ctx, b.tool("docker-registry"), "--version"),
		"kubectl: " + strings.ReplaceAll(output(ctx, b.tool("kubectl"), "version", "--client"), "\n", "; "),
		"curl: " + firstLine(output(ctx, b.tool("curl"), "--version")),
		"hyperfine: " + output(ctx, b.tool("hyperfine"), "--version"),
		"aws (Debian's awscli): " + output(ctx, b.tool("aws"), "--version"),
		"gke-gcloud-auth-plugin: " + firstLine(output(ctx, b.tool("gke-gcloud-auth-plugin"), "--version")),
		"control planes: " + testenvVersion(),
		"go: " + output(ctx, "go", "version"),
	}
}

// testenvVersion names the folder of the control-plane binaries, which
// encodes their pinned versions.
func testenvVersion() string {
	if d := os.Getenv("FERRY_TESTENV_BIN"); d != "" {
		return filepath.Base(d) + " (kube-apiserver, kube-controller-manager, kube-scheduler, etcd, kwok)"
	}
	return "found by hack/build-testenv.sh"
}

// cpuBusy samples /proc/stat twice, d apart, and returns the share of
// non-idle CPU time in between (all CPUs), or -1.
func cpuBusy(ctx context.Context, d time.Duration) float64 {
	b1, t1, ok1 := procStat()
	select {
	case <-ctx.Done():
		return -1
	case <-time.After(d):
	}
	b2, t2, ok2 := procStat()
	if !ok1 || !ok2 || t2 <= t1 {
		return -1
	}
	return (b2 - b1) / (t2 - t1)
}

// finish records the load at the end of the run.
func (m *machine) finish() {
	m.loadEnd = loadavg()
	m.busyRun = -1
	m.busyOthers = -1
	if b, t, ok := procStat(); ok && t > m.statStart[1] && m.statStart[1] > 0 {
		m.busyRun = (b - m.statStart[0]) / (t - m.statStart[1])
		// /proc/stat counts in USER_HZ (100 per second on Linux); the
		// bench's own CPU is its rusage plus that of every child it
		// reaped, which by now is all of them.
		own := cpuSeconds(syscall.RUSAGE_SELF) + cpuSeconds(syscall.RUSAGE_CHILDREN)
		m.busyOthers = max(0, ((b-m.statStart[0])/100-own)/((t-m.statStart[1])/100))
	}
}

func cpuSeconds(who int) float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(who, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

// procStat reads the busy and total jiffies of all CPUs from /proc/stat.
func procStat() (busy, total float64, ok bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 5 || f[0] != "cpu" {
		return 0, 0, false
	}
	for i, v := range f[1:] {
		var x float64
		if _, err := fmt.Sscan(v, &x); err != nil {
			return 0, 0, false
		}
		total += x
		if i != 3 && i != 4 { // idle, iowait
			busy += x
		}
	}
	return busy, total, true
}
