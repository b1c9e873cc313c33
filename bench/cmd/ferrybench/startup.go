package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
)

// startupRuns is how often each command runs per round.
const startupRuns = 20

// startupScenario times `ferry version` against `crane version` with
// hyperfine (no shell in between), in rounds that alternate which comes
// first, and reports the binary's size. The container image is measured
// when hack/image exists.
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

	if _, err := os.Stat(filepath.Join(b.cfg.repo, "hack", "image")); err != nil {
		b.add(results.Pending("container image size", "MB", "≤ 30 MB", "hack/image does not exist yet: nothing builds ferry's container image"))
		return nil
	}
	compressed, uncompressed, err := b.imageSize(ctx)
	if err != nil {
		b.add(results.Pending("container image size", "MB", "≤ 30 MB", "building it with hack/image failed: "+err.Error()))
		return nil
	}
	b.add(results.New("container image size, compressed (what a pull downloads)", "MB", []float64{compressed / 1e6}, "", nil, &results.Bound{Text: "≤ 30 MB", Max: 30}).
		WithNote("hack/image on bin/ferry: manifest, config and layers as stored in the registry"))
	b.add(results.New("container image size, uncompressed (what `docker images` shows)", "MB", []float64{uncompressed / 1e6}, "", nil, &results.Bound{Text: "≤ 30 MB", Max: 30}))
	b.addCommand("container image size", "go run ./hack/image -binary linux/$(go env GOARCH)=bin/ferry -version bench -oci-layout DIR   # then the sizes in DIR's manifest")
	return nil
}

// imageSize builds ferry's container image from the binary under test with
// hack/image into an OCI layout and returns its compressed size (manifest,
// config and layers, as pulled) and its uncompressed size (config and
// layer contents).
func (b *bench) imageSize(ctx context.Context) (compressed, uncompressed float64, err error) {
	dir := filepath.Join(b.cfg.work, "oci-layout")
	cmd := exec.Command("go", "run", "./hack/image", "-binary", "linux/"+runtime.GOARCH+"="+b.cfg.ferry, "-version", "bench", "-oci-layout", dir)
	cmd.Dir = b.cfg.repo
	if _, err := measure.Run(ctx, cmd); err != nil {
		return 0, 0, err
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		return 0, 0, err
	}
	idx, err := p.ImageIndex()
	if err != nil {
		return 0, 0, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return 0, 0, err
	}
	if len(im.Manifests) == 0 {
		return 0, 0, errors.New("the layout holds no image")
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		return 0, 0, fmt.Errorf("the layout's first entry is not an image: %w", err)
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
