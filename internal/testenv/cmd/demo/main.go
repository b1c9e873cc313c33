package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

// deadline bounds the whole demo; with cached binaries it takes well under
// a minute.
const deadline = 5 * time.Minute

// Exit codes of the demo.
const (
	exitOK          = 0
	exitFailed      = 1 // some step did not behave as expected
	exitUsage       = 2
	exitInterrupted = 130
)

func main() {
	// The admin clients log through klog and print API warnings; the demo
	// speaks through its own lines only.
	klog.SetOutput(discard{})
	klog.LogToStderr(false)
	rest.SetDefaultWarningHandler(rest.NoWarnings{})
	os.Exit(mainCode())
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// signalError is the cause of a cancellation by SIGINT or SIGTERM.
type signalError struct{ sig os.Signal }

func (e signalError) Error() string { return "received " + e.sig.String() }

func mainCode() int {
	ferryFlag := flag.String("ferry", "bin/ferry", "the ferry binary to run (make build writes bin/ferry)")
	keep := flag.Bool("keep", false, "keep the sandbox's folder (kubeconfig, the control planes' logs); it is named at the end")
	flag.Usage = func() {
		_, _ = fmt.Fprintf(flag.CommandLine.Output(), "usage: demo -ferry bin/ferry [-keep]\n\n"+
			"Starts a local sandbox (two Kubernetes control planes, a registry, a Heroku\n"+
			"emulator), runs ferry against it and checks what ferry did. Run it with make demo.\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() > 0 {
		flag.Usage()
		return exitUsage
	}
	bin, err := ferryBinary(*ferryFlag)
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo: %v\n", err)
		return exitUsage
	}

	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	stopSignals := onSignals(cancel)
	defer stopSignals()
	ctx, cancelDeadline := context.WithTimeoutCause(ctx, deadline, fmt.Errorf("the demo took longer than %s", deadline))
	defer cancelDeadline()

	start := time.Now()
	n := &narrator{w: os.Stdout}
	n.section("", "ferry demo: promote, verify, and restore by itself")
	n.info("ferry binary: %s (%s)", *ferryFlag, version(ctx, bin))
	n.info("about 20 seconds; Ctrl-C stops it, lets ferry restore what it changed, and cleans up")

	sb := &sandbox{}
	n.section("", "starting the sandbox: everything on 127.0.0.1, nothing leaves this machine")
	if err := sb.start(ctx, n); err != nil {
		n.check("start the sandbox", err)
	} else {
		d := &demo{n: n, sb: sb, ferry: &ferry{bin: bin, env: baseEnv(sb.dir, sb.kubeconfig), out: os.Stdout}}
		d.run(ctx)
	}

	n.section("", "cleaning up")
	if err := sb.stop(*keep); err != nil {
		n.check("stop the sandbox", err)
	} else if *keep {
		n.info("stopped %s; kept %s (kubeconfig, and the control planes' logs in ferry-testenv-*)", sb.started(), sb.dir)
	} else {
		n.info("stopped %s; removed %s", sb.started(), sb.dir)
	}

	interrupted := context.Cause(ctx) // a signal, or the deadline
	n.summary(time.Since(start), interrupted)
	var sigErr signalError
	switch {
	case errors.As(interrupted, &sigErr):
		return exitInterrupted
	case interrupted != nil || n.failures() > 0:
		return exitFailed
	}
	return exitOK
}

// onSignals cancels the demo on the first SIGINT or SIGTERM: a running
// ferry is told to stop (it restores what it changed) and the sandbox is
// taken down. A second signal only says so; a third quits at once.
func onSignals(cancel context.CancelCauseFunc) (stop func()) {
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		count := 0
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				count++
				switch count {
				case 1:
					fmt.Fprintf(os.Stderr, "\ndemo: %s: stopping ferry (it restores what it changed), then the sandbox\n", s)
					cancel(signalError{s})
				case 2:
					fmt.Fprintln(os.Stderr, "demo: still cleaning up; one more signal quits at once (temporary folders may stay behind)")
				default:
					fmt.Fprintln(os.Stderr, "demo: quitting; the control planes die with this process")
					os.Exit(exitInterrupted)
				}
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
	}
}

// ferryBinary checks the -ferry path and makes it absolute.
func ferryBinary(p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", fmt.Errorf("-ferry %s: %w", p, err)
	}
	fi, err := os.Stat(abs)
	switch {
	case err != nil:
		return "", fmt.Errorf("-ferry %s: %w (run make build first, or make demo)", p, err)
	case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
		return "", fmt.Errorf("-ferry %s: not an executable file", p)
	}
	return abs, nil
}

// version asks the binary for its version line.
func version(ctx context.Context, bin string) string {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "version")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("ferry version failed: %v", err)
	}
	return strings.TrimSpace(string(out))
}
