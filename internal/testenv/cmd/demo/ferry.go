package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// restoreGrace is how long a ferry that was told to stop (Ctrl-C, or the
// demo's own deadline) may take to restore what it changed before it is
// killed. It is above FERRY_RESTORE_TIMEOUT in baseEnv.
const restoreGrace = 75 * time.Second

// ferry runs the ferry binary with an environment made from scratch, the
// way a CI job would.
type ferry struct {
	bin string
	// env is the environment every run gets (PATH, HOME, KUBECONFIG, timeouts).
	env []string
	out io.Writer
}

// run is one finished ferry run.
type run struct {
	code   int
	output string // stdout and stderr, interleaved as written
}

// run executes `ferry args...` with extra added to the environment, streams
// its output indented, and returns its exit code. When ctx ends, ferry gets
// SIGTERM (so it restores what it changed, as in a cancelled CI job) and,
// if it is still running restoreGrace later, SIGKILL. err is set only when
// ferry could not be run or did not exit by itself.
func (f *ferry) run(ctx context.Context, extra []string, args ...string) (run, error) {
	_, _ = fmt.Fprintf(f.out, "\n%s\n", style(bold, "$ ferry "+strings.Join(args, " ")))
	cmd := exec.CommandContext(ctx, f.bin, args...)
	cmd.Env = append(append([]string(nil), f.env...), extra...)
	var captured bytes.Buffer
	w := &indenter{w: f.out, prefix: "  ", capture: &captured}
	cmd.Stdout, cmd.Stderr = w, w // one writer: lines keep their order
	// Its own process group: a Ctrl-C in the terminal reaches the demo,
	// which passes it on exactly once. Pdeathsig: ferry never outlives us.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = restoreGrace
	err := cmd.Run()
	w.flush()
	r := run{code: -1, output: captured.String()}
	ps := cmd.ProcessState
	exited := ps != nil && ps.Exited()
	if exited {
		r.code = ps.ExitCode()
	}
	switch {
	case ctx.Err() != nil && cmd.Process != nil:
		// It was told to stop; when it exited by itself it had finished
		// restoring, and its code says how that went.
		return r, fmt.Errorf("ferry %s was stopped (%w): exit code %d", args[0], context.Cause(ctx), r.code)
	case exited:
		return r, nil
	case err == nil:
		err = errors.New("ferry did not exit")
	}
	return r, fmt.Errorf("running ferry %s: %w", args[0], err)
}

// baseEnv is what every ferry run gets: nothing of the user's environment
// but PATH, so that neither their KUBECONFIG nor their registry
// credentials are used.
func baseEnv(home, kubeconfig string) []string {
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"KUBECONFIG=" + kubeconfig,
		"FERRY_TIMEOUT=60s",
		"FERRY_RESTORE_TIMEOUT=60s",
	}
}

// indenter prefixes every line written through it, and keeps a copy.
type indenter struct {
	mu      sync.Mutex
	w       io.Writer
	prefix  string
	capture *bytes.Buffer
	midLine bool
}

func (in *indenter) Write(p []byte) (int, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.capture != nil {
		in.capture.Write(p)
	}
	n := len(p)
	for len(p) > 0 {
		if !in.midLine {
			if _, err := io.WriteString(in.w, in.prefix); err != nil {
				return 0, err
			}
			in.midLine = true
		}
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i+1]
			in.midLine = false
		}
		if _, err := in.w.Write(line); err != nil {
			return 0, err
		}
		p = p[len(line):]
	}
	return n, nil
}

// flush ends a last line that had no newline.
func (in *indenter) flush() {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.midLine {
		_, _ = io.WriteString(in.w, "\n")
		in.midLine = false
	}
}
