package measure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Sample is one run of a command.
type Sample struct {
	// Wall is the time from just before the process started to the moment
	// it was reaped.
	Wall time.Duration
	// CPU is user plus system time of the command and of every descendant
	// it waited for (GNU time's %U + %S, 10 ms resolution).
	CPU time.Duration
	// MaxRSS is the largest resident set size, in bytes, of the command
	// or of any single waited-for descendant (GNU time's %M, from wait4's
	// ru_maxrss, which is not a sum).
	MaxRSS int64
	// Stdout is what the command printed on standard output.
	Stdout []byte
}

// TimeBin is GNU time, which Run puts between the harness and the
// command.
var TimeBin = "/usr/bin/time"

// Run runs cmd under GNU time and returns its sample. cmd must not have
// been started; Stdout and Stderr are captured unless already set. A
// non-zero exit is an *ExitError that quotes the end of standard error.
//
// Why GNU time: Go starts children with vfork (CLONE_VM), and Linux
// records the RSS of the memory a process leaves at exec in its
// ru_maxrss, so a child of the harness would report at least the
// harness's own RSS. time fork()s from its own small address space, so
// the %M it reports is the command's.
func Run(ctx context.Context, cmd *exec.Cmd) (Sample, error) {
	if cmd.Err != nil {
		return Sample{}, cmd.Err
	}
	rf, err := os.CreateTemp("", "measure-time-")
	if err != nil {
		return Sample{}, err
	}
	rf.Close()
	defer os.Remove(rf.Name())
	line := commandLine(cmd)
	cmd.Args = append([]string{TimeBin, "-f", "%e %U %S %M", "-o", rf.Name(), "--", cmd.Path}, cmd.Args[1:]...)
	cmd.Path = TimeBin

	var out, errb bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &out
	}
	if cmd.Stderr == nil {
		cmd.Stderr = &errb
	}
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return Sample{}, fmt.Errorf("starting %s: %w", line, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // time and the command
		werr := <-done
		return Sample{}, fmt.Errorf("running %s: %w (%v)", line, context.Cause(ctx), werr)
	}
	s := Sample{Wall: time.Since(start), Stdout: out.Bytes()}
	if report, rerr := os.ReadFile(rf.Name()); rerr == nil {
		s.CPU, s.MaxRSS, rerr = parseTime(report)
		if rerr != nil && err == nil {
			return s, fmt.Errorf("running %s: reading GNU time's report: %w", line, rerr)
		}
	}
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return s, &ExitError{Command: line, Code: ee.ExitCode(), Stderr: tail(errb.String(), 2000)}
		}
		return s, fmt.Errorf("running %s: %w", line, err)
	}
	return s, nil
}

// parseTime reads the last line of GNU time's -f "%e %U %S %M" report
// (a line about a non-zero exit may come first).
func parseTime(b []byte) (cpu time.Duration, maxRSS int64, err error) {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := strings.Fields(lines[len(lines)-1])
	if len(f) != 4 {
		return 0, 0, fmt.Errorf("unexpected report %q", b)
	}
	var user, sys float64
	var kb int64
	if _, err := fmt.Sscan(f[1]+" "+f[2]+" "+f[3], &user, &sys, &kb); err != nil {
		return 0, 0, fmt.Errorf("unexpected report %q: %w", b, err)
	}
	return time.Duration((user + sys) * float64(time.Second)), kb * 1024, nil
}

// ExitError is a command that exited non-zero.
type ExitError struct {
	Command string
	Code    int
	Stderr  string
}

func (e *ExitError) Error() string {
	return fmt.Sprintf("%s: exit %d: %s", e.Command, e.Code, e.Stderr)
}

func commandLine(cmd *exec.Cmd) string { return strings.Join(cmd.Args, " ") }

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
