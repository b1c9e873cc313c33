// Command ferry promotes the exact image staging runs to production
// Kubernetes Deployments and Heroku apps, verifies them, and restores them
// when they turn out unhealthy. It is configured from the environment
// (FERRY_*, or INPUT_* in GitHub Actions); see `ferry help`.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
)

func main() {
	// client-go logs through klog and prints API warnings; ferry reports
	// through its own lines only.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
	rest.SetDefaultWarningHandler(rest.NoWarnings{})

	// The first SIGINT/SIGTERM cancels the run; the pipeline then restores
	// what it changed on a context of its own. Later signals are ignored so
	// that the restore can finish (CI systems escalate to SIGKILL).
	ctx, cancel := context.WithCancelCause(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		n := 0
		for s := range sigs {
			n++
			if n == 1 {
				fmt.Fprintf(os.Stderr, "ferry: received %s: stopping, and restoring whatever changed\n", s)
				cancel(fmt.Errorf("received %s", s))
				continue
			}
			fmt.Fprintf(os.Stderr, "ferry: received %s again: still restoring, please wait\n", s)
		}
	}()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}
