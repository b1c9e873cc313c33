// Command ferry-copy runs ferry's image copy (pkg/image.Copy) once, as its
// own process, so that the benchmarks can measure it like crane and skopeo.
// ferry has no copy command of its own: a promotion copies as one step.
//
//	ferry-copy [-j N] [-heroku] [-platform linux/amd64] [-cpuprofile FILE] [-trace FILE] SRC@sha256:... DST:TAG
//
// With -heroku the destination gets one Docker v2 schema 2 image (the
// conversion path), authenticated as user "_" with the password in
// $FERRY_COPY_PASSWORD. The copy result is printed as JSON on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"runtime/pprof"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/pkg/image"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "ferry-copy:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("ferry-copy", flag.ContinueOnError)
	jobs := fs.Int("j", 0, "blobs copied in parallel (0: ferry's default)")
	heroku := fs.Bool("heroku", false, "write one Docker v2 schema 2 image, as for registry.heroku.com")
	platform := fs.String("platform", "linux/amd64", "platform picked from an index with -heroku")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile (pprof) of the copy to this file")
	trace := fs.String("trace", "", "write one line per HTTP request (start offset, duration, method, path, status) to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		return fmt.Errorf("want SRC@sha256:... and DST:TAG, got %d arguments", fs.NArg())
	}
	src, ok, err := image.Pinned(fs.Arg(0))
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("source %s is not pinned to a digest", fs.Arg(0))
	}
	dst, err := name.NewTag(fs.Arg(1), name.WeakValidation)
	if err != nil {
		return fmt.Errorf("parsing destination: %w", err)
	}
	p, err := v1.ParsePlatform(*platform)
	if err != nil {
		return fmt.Errorf("parsing platform: %w", err)
	}
	opt := image.CopyOptions{Jobs: *jobs, DockerV2S2: *heroku, Platform: *p}
	if *heroku {
		opt.DestAuth = &authn.Basic{Username: "_", Password: os.Getenv("FERRY_COPY_PASSWORD")}
	}
	if *trace != "" {
		f, err := os.Create(*trace)
		if err != nil {
			return err
		}
		defer f.Close()
		opt.Transport = &tracer{next: remote.DefaultTransport, w: f, start: time.Now()}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	res, err := image.Copy(ctx, src, dst, opt)
	if err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"manifest": res.Manifest.String(),
		"config":   res.Config.String(),
		"uploaded": res.Uploaded,
		"skipped":  res.Skipped,
		"mounted":  res.Mounted,
	})
}

// tracer logs every request the copy makes, for finding where its time
// goes. Query strings are left out: they may carry upload state tokens.
type tracer struct {
	next  http.RoundTripper
	start time.Time
	mu    sync.Mutex
	w     io.Writer
}

func (t *tracer) RoundTrip(req *http.Request) (*http.Response, error) {
	begin := time.Now()
	resp, err := t.next.RoundTrip(req)
	status := "error: "
	if err != nil {
		status += err.Error()
	} else {
		status = resp.Status
	}
	t.mu.Lock()
	fmt.Fprintf(t.w, "%8.1fms %7.1fms %-6s %s %s\n", begin.Sub(t.start).Seconds()*1000, time.Since(begin).Seconds()*1000, req.Method, req.URL.Path, status)
	t.mu.Unlock()
	return resp, err
}
