package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// startupRuns is how often each command runs per round.
const startupRuns = 20

// startupScenario times `ferry version` against `crane version` with
// hyperfine (no shell in between), in rounds that alternate which comes
// first, then reports the sizes (sizeScenario).
func (b *bench) startupScenario(ctx context.Context) error {
	cmds := []struct{ name, line string }{
		{"ferry version", b.cfg.ferry + " version"},
		{"crane version", b.tool("crane") + " version"},
	}
	times := map[string][]float64{}
	for round := range b.cfg.runs {
		order := measure.Rotate(cmds, round)
		out := filepath.Join(b.cfg.work, fmt.Sprintf("hyperfine-%d.json", round))
		args := []string{"-N", "--warmup", "3", "--runs", fmt.Sprint(startupRuns), "--export-json", out}
		for _, c := range order {
			args = append(args, c.line)
		}
		cmd := exec.Command(b.tool("hyperfine"), args...)
		cmd.Env = b.env()
		if _, err := measure.Run(ctx, cmd); err != nil {
			return err
		}
		data, err := os.ReadFile(out)
		if err != nil {
			return err
		}
		var hf struct {
			Results []struct {
				Command string    `json:"command"`
				Times   []float64 `json:"times"`
			} `json:"results"`
		}
		if err := json.Unmarshal(data, &hf); err != nil {
			return fmt.Errorf("reading hyperfine's results: %w", err)
		}
		for i, r := range hf.Results {
			for _, t := range r.Times {
				times[order[i].name] = append(times[order[i].name], t*1000)
			}
		}
	}
	b.addRawValues("cold start (ms)", "ferry version", times["ferry version"])
	b.addRawValues("cold start (ms)", "crane version", times["crane version"])
	b.add(results.New("`ferry version` start-up", "ms", times["ferry version"], "crane version", times["crane version"],
		&results.Bound{Text: "≤ 30 ms", Max: 30}).
		WithNote(fmt.Sprintf("hyperfine -N, %d rounds × %d runs after 3 warm-ups, order alternating; page cache warm", b.cfg.runs, startupRuns)))
	b.addCommand("start-up", fmt.Sprintf("hyperfine -N --warmup 3 --runs %d --export-json OUT.json 'bin/ferry version' 'crane version'   # %d rounds, order alternating", startupRuns, b.cfg.runs))

	return b.sizeScenario(ctx)
}

// sizeScenario reports the binary's size and the container image's, which
// hack/release/images.sh builds with ko.
func (b *bench) sizeScenario(ctx context.Context) error {
	st, err := os.Stat(b.cfg.ferry)
	if err != nil {
		return err
	}
	size := float64(st.Size()) / 1e6
	f := results.New("binary size (make build: static, -trimpath, -s -w)", "MB", []float64{size}, "", nil, nil)
	if cs, err := os.Stat(b.tool("crane")); err == nil {
		f = results.New("binary size (make build: static, -trimpath, -s -w)", "MB", []float64{size}, "crane (built -s -w)", []float64{float64(cs.Size()) / 1e6}, nil)
	}
	b.add(f.WithNote("a size: measured once"))
	b.addCommand("binary size", "make build && stat -c %s bin/ferry")

	if b.cfg.ko == "" {
		b.add(results.Pending("container image size", "MB", "≤ 30 MB", "no -ko given: bench/run.sh passes hack/build-tool.sh ko"))
		return nil
	}
	compressed, uncompressed, err := b.imageSize(ctx)
	if err != nil {
		b.add(results.Pending("container image size", "MB", "≤ 30 MB", "building it with ko (hack/release/images.sh) failed: "+err.Error()))
		return nil
	}
	b.add(results.New("container image size, compressed (what a pull downloads), without the base", "MB", []float64{compressed / 1e6}, "", nil, &results.Bound{Text: "≤ 30 MB", Max: 30}).
		WithNote("ko (hack/release/images.sh) on an empty base: ferry's layers, manifest and config as stored in the registry; the pinned base (distroless/static for the action, Alpine for the orb) comes on top and cannot be pulled here"))
	b.add(results.New("container image size, uncompressed (what `docker images` shows), without the base", "MB", []float64{uncompressed / 1e6}, "", nil, &results.Bound{Text: "≤ 30 MB", Max: 30}))
	b.addCommand("container image size", "KO=$(hack/build-tool.sh ko) KO_DOCKER_REPO=127.0.0.1:PORT/ferry ACTION_BASE_IMAGE=EMPTY@sha256:… SHELL_BASE_IMAGE=EMPTY@sha256:… hack/release/images.sh v0.0.0-bench   # then the sizes of the linux/$(go env GOARCH) image's manifest, config and layers")
	return nil
}

// imageSize builds ferry's container image for this machine's platform
// with ko, as a release does (hack/release/images.sh), on an empty base in
// a registry on loopback, and returns its compressed size (manifest,
// config and layers, as pulled) and its uncompressed size (config and
// layer contents): what ferry adds to its base.
func (b *bench) imageSize(ctx context.Context) (compressed, uncompressed float64, err error) {
	host, stop, err := images.StartRegistry()
	if err != nil {
		return 0, 0, err
	}
	defer stop()
	base, err := pushEmptyBase(ctx, host+"/empty:base")
	if err != nil {
		return 0, 0, fmt.Errorf("pushing the empty base: %w", err)
	}
	out := filepath.Join(b.cfg.work, "images")
	cmd := exec.Command(filepath.Join(b.cfg.repo, "hack", "release", "images.sh"), "v0.0.0-bench")
	cmd.Dir = b.cfg.repo
	cmd.Env = append(os.Environ(), "KO="+b.cfg.ko, "KO_DOCKER_REPO="+host+"/ferry", "ACTION_BASE_IMAGE="+base, "SHELL_BASE_IMAGE="+base, "OUT="+out)
	if _, err := measure.Run(ctx, cmd); err != nil {
		return 0, 0, err
	}
	ref, err := os.ReadFile(filepath.Join(out, "action.ref"))
	if err != nil {
		return 0, 0, err
	}
	d, err := name.NewDigest(strings.TrimSpace(string(ref)))
	if err != nil {
		return 0, 0, err
	}
	img, err := remote.Image(d, remote.WithContext(ctx), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))
	if err != nil {
		return 0, 0, err
	}
	m, err := img.Manifest()
	if err != nil {
		return 0, 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, 0, err
	}
	compressed = float64(len(raw) + int(m.Config.Size))
	uncompressed = float64(m.Config.Size)
	layers, err := img.Layers()
	if err != nil {
		return 0, 0, err
	}
	for _, l := range layers {
		size, err := l.Size()
		if err != nil {
			return 0, 0, err
		}
		compressed += float64(size)
		rc, err := l.Uncompressed()
		if err != nil {
			return 0, 0, err
		}
		n, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err != nil {
			return 0, 0, err
		}
		uncompressed += float64(n)
	}
	return compressed, uncompressed, nil
}

// pushEmptyBase pushes an index of layerless linux/amd64 and linux/arm64
// images and returns it as REF@sha256:…, the way images.sh wants a base.
func pushEmptyBase(ctx context.Context, ref string) (string, error) {
	var adds []mutate.IndexAddendum
	for _, arch := range []string{"amd64", "arm64"} {
		img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
		cf, err := img.ConfigFile()
		if err != nil {
			return "", err
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = "linux", arch
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			return "", err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}}})
	}
	d, err := images.PushIndex(ctx, ref, mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...))
	if err != nil {
		return "", err
	}
	return ref + "@" + d.String(), nil
}
