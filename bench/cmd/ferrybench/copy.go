package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/registry"
	"github.com/ferry-dev/ferry/bench/internal/results"
)

// sample is one measured run of a tool.
type sample struct {
	wall, cpu float64 // seconds
	rss       float64 // MB (10^6 bytes)
	uploaded  float64 // blob bytes the destination received (-1: not counted)
	mounts    float64
}

func wall(s sample) float64     { return s.wall }
func cpu(s sample) float64      { return s.cpu }
func rss(s sample) float64      { return s.rss }
func uploaded(s sample) float64 { return s.uploaded }

func col(ss []sample, f func(sample) float64) []float64 {
	out := make([]float64, 0, len(ss))
	for _, s := range ss {
		out = append(out, f(s))
	}
	return out
}

// copyJob is one copy: host/repo@digest to host/repo:tag.
type copyJob struct {
	srcHost, srcRepo string
	digest           v1.Hash
	mediaType        string
	blobs            []string // config and layers, for the curl floor
	dstHost, dstRepo string
	tag              string
}

func (j copyJob) src() string { return j.srcHost + "/" + j.srcRepo + "@" + j.digest.String() }
func (j copyJob) dst() string { return j.dstHost + "/" + j.dstRepo + ":" + j.tag }

// copyTool is a way of copying an image.
type copyTool struct {
	name string
	argv func(j copyJob) []string
	line string // the command, for results.md
}

func (b *bench) copyTools() map[string]copyTool {
	crane := b.tool("crane")
	skopeo := b.tool("skopeo")
	return map[string]copyTool{
		"ferry": {
			name: "ferry",
			argv: func(j copyJob) []string {
				return append(append([]string{b.cfg.ferryCopy}, b.profileArgs()...), j.src(), j.dst())
			},
			line: "ferry-copy SRC@sha256:… DST:TAG   # bench/cmd/ferry-copy: pkg/image.Copy with ferry's defaults (4 blobs at a time)",
		},
		"crane copy": {
			name: "crane copy",
			argv: func(j copyJob) []string { return []string{crane, "copy", j.src(), j.dst()} },
			line: "crane copy SRC@sha256:… DST:TAG   # -j defaults to GOMAXPROCS",
		},
		"crane copy -j 8": {
			name: "crane copy -j 8",
			argv: func(j copyJob) []string { return []string{crane, "copy", "-j", "8", j.src(), j.dst()} },
			line: "crane copy -j 8 SRC@sha256:… DST:TAG",
		},
		"skopeo copy": {
			name: "skopeo copy",
			argv: func(j copyJob) []string {
				return []string{skopeo, "--insecure-policy", "copy", "--preserve-digests", "--src-tls-verify=false", "--dest-tls-verify=false",
					"docker://" + j.src(), "docker://" + j.dst()}
			},
			line: "skopeo --insecure-policy copy --preserve-digests --src-tls-verify=false --dest-tls-verify=false docker://SRC@sha256:… docker://DST:TAG",
		},
		"curl floor": {
			name: "curl floor",
			argv: func(j copyJob) []string {
				return append([]string{"sh", b.cfg.floor, j.srcHost, j.srcRepo, j.dstHost, j.dstRepo, j.tag, j.digest.String(), j.mediaType}, j.blobs...)
			},
			line: "sh bench/floor.sh SRC_HOST SRC_REPO DST_HOST DST_REPO TAG MANIFEST_DIGEST MEDIA_TYPE BLOB…   # per blob, in parallel: curl GET | curl -T - PUT (monolithic); then the manifest",
		},
	}
}

// profileArgs asks ferry-copy for a CPU profile when -profile is set.
func (b *bench) profileArgs() []string {
	if b.cfg.profile == "" {
		return nil
	}
	b.profiles++
	base := filepath.Join(b.cfg.profile, fmt.Sprintf("ferry-copy-%03d", b.profiles))
	return []string{"-cpuprofile", base + ".pprof", "-trace", base + ".trace"}
}

// env is the environment of every tool: PATH, an empty HOME (no docker
// credentials, no caches from earlier runs) and TMPDIR in the scratch.
func (b *bench) env() []string {
	home := filepath.Join(b.cfg.work, "home")
	_ = os.MkdirAll(home, 0o700)
	return []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home, "TMPDIR=" + b.cfg.work}
}

// runCopy runs t on j and checks that the destination tag names the
// source digest afterwards.
func (b *bench) runCopy(ctx context.Context, t copyTool, j copyJob, proxy *registry.Proxy) (sample, error) {
	argv := t.argv(j)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = b.env()
	if proxy != nil {
		proxy.Counter.Reset()
	}
	s, err := measure.Run(ctx, cmd)
	if err != nil {
		return sample{}, err
	}
	out := sample{wall: s.Wall.Seconds(), cpu: s.CPU.Seconds(), rss: float64(s.MaxRSS) / 1e6, uploaded: -1}
	if proxy != nil {
		out.uploaded = float64(proxy.Counter.Bytes())
		out.mounts = float64(proxy.Counter.Mounts())
	}
	got, err := manifestAt(ctx, j.dst())
	if err != nil {
		return sample{}, fmt.Errorf("%s: reading the copy back: %w", t.name, err)
	}
	if got.Digest != j.digest {
		return sample{}, fmt.Errorf("%s: destination names %s, want %s", t.name, got.Digest, j.digest)
	}
	return out, nil
}

// roundRobin runs every tool cfg.runs times, rotating their order each
// round, and returns the samples of the runs that succeeded.
func (b *bench) roundRobin(ctx context.Context, what string, tools []copyTool, one func(ctx context.Context, t copyTool, round int) (sample, error)) map[string][]sample {
	return b.roundRobinWarm(ctx, what, tools, false, one)
}

// roundRobinWarm is roundRobin, with one untimed round first when warm is
// set (it fills the page cache with the tools' binaries and the source
// registry's caches).
func (b *bench) roundRobinWarm(ctx context.Context, what string, tools []copyTool, warm bool, one func(ctx context.Context, t copyTool, round int) (sample, error)) map[string][]sample {
	out := map[string][]sample{}
	if warm {
		for _, t := range tools {
			if _, err := one(ctx, t, -1); err != nil {
				b.log.Printf("%s: %s, warm-up run failed: %v", what, t.name, err)
			}
		}
	}
	for round := range b.cfg.runs {
		for _, t := range measure.Rotate(tools, round) {
			if ctx.Err() != nil {
				return out
			}
			s, err := one(ctx, t, round)
			if err != nil {
				b.log.Printf("%s: %s, run %d failed: %v", what, t.name, round+1, err)
				b.note("%s: %s, run %d failed: %v", what, t.name, round+1, err)
				continue
			}
			b.log.Printf("%s: %s run %d: %.3fs wall, %.2fs cpu, %.1f MB", what, t.name, round+1, s.wall, s.cpu, s.rss)
			out[t.name] = append(out[t.name], s)
		}
	}
	for _, t := range tools {
		b.addRaw(what, t.name, out[t.name])
	}
	return out
}

func (b *bench) copyScenarios(ctx context.Context) error {
	c := b.cfg
	tools := b.copyTools()
	total := int64(c.layers) * c.layerSize
	size := humanBytes(total)
	desc := fmt.Sprintf("%s image, %d × %d MiB incompressible layers", size, c.layers, c.layerSize>>20)

	// The source registry holds app:v1 (layers 0..n-1) and app:v2
	// (layers 1..n: all but one shared with v1).
	src, err := registry.Start(ctx, b.tool("docker-registry"), filepath.Join(c.work, "source"))
	if err != nil {
		return err
	}
	defer src.Stop()
	v1img, err := fixture(0, c.layers, c.layerSize, false, platformAMD64)
	if err != nil {
		return err
	}
	v2img, err := fixture(1, c.layers, c.layerSize, false, platformAMD64)
	if err != nil {
		return err
	}
	b.log.Printf("pushing the %s fixtures to the source registry ...", size)
	d1, err := push(ctx, src.Host+"/app:v1", v1img)
	if err != nil {
		return err
	}
	d2, err := push(ctx, src.Host+"/app:v2", v2img)
	if err != nil {
		return err
	}
	blobs1, err := blobs(v1img)
	if err != nil {
		return err
	}
	mt, err := v1img.MediaType()
	if err != nil {
		return err
	}
	// A registry that holds app:v1 already, cloned for the runs that
	// need it.
	tmpl := filepath.Join(c.work, "template-v1")
	pre, err := registry.Start(ctx, b.tool("docker-registry"), tmpl)
	if err != nil {
		return err
	}
	if _, err := push(ctx, pre.Host+"/app:v1", v1img); err != nil {
		pre.Stop()
		return err
	}
	pre.Stop()

	// 1. Fresh copy between two registries.
	fresh := []copyTool{tools["ferry"], tools["crane copy"], tools["crane copy -j 8"], tools["skopeo copy"], tools["curl floor"]}
	res := b.roundRobinWarm(ctx, "fresh copy", fresh, true, func(ctx context.Context, t copyTool, round int) (sample, error) {
		root := filepath.Join(c.work, fmt.Sprintf("fresh-%d-%s", round+1, slug(t.name)))
		defer os.RemoveAll(root)
		dst, err := registry.Start(ctx, b.tool("docker-registry"), root)
		if err != nil {
			return sample{}, err
		}
		defer dst.Stop()
		return b.runCopy(ctx, t, copyJob{srcHost: src.Host, srcRepo: "app", digest: d1, mediaType: string(mt), blobs: blobs1, dstHost: dst.Host, dstRepo: "app", tag: "v1"}, nil)
	})
	for _, t := range fresh {
		b.addCommand("fresh copy", t.line)
	}
	fw := col(res["ferry"], wall)
	b.add(results.New("fresh copy between two registries, wall time", "s", fw, "crane copy -j 8", col(res["crane copy -j 8"], wall),
		&results.Bound{Text: "≤ 1.0× crane copy -j 8", OnRatio: true, Max: 1.0}).WithNote(desc))
	b.add(results.New("fresh copy, wall time vs skopeo", "s", fw, "skopeo copy --preserve-digests", col(res["skopeo copy"], wall),
		&results.Bound{Text: "≤ 0.8× skopeo", OnRatio: true, Max: 0.8}))
	b.add(results.New("fresh copy, wall time vs crane's default -j", "s", fw, "crane copy", col(res["crane copy"], wall), nil).
		WithNote("crane's -j defaults to GOMAXPROCS, 2 on this machine"))
	b.add(results.New("fresh copy, wall time vs the curl floor", "s", fw, "curl GET | curl PUT, all blobs at once", col(res["curl floor"], wall), nil))
	b.add(results.New("fresh copy, peak RSS", "MB", col(res["ferry"], rss), "crane copy -j 8", col(res["crane copy -j 8"], rss),
		&results.Bound{Text: "≤ 64 MB", Max: 64}))
	b.add(results.New("fresh copy, CPU time (user+system)", "s", col(res["ferry"], cpu), "crane copy -j 8", col(res["crane copy -j 8"], cpu), nil))
	b.add(results.New("fresh copy, CPU time vs skopeo", "s", col(res["ferry"], cpu), "skopeo copy --preserve-digests", col(res["skopeo copy"], cpu), nil))

	// 2a. Copy again when every blob is there (the same registry for
	// every run: the copy changes nothing).
	cmp := []copyTool{tools["ferry"], tools["crane copy -j 8"], tools["skopeo copy"]}
	presentRoot := filepath.Join(c.work, "present")
	if err := registry.CloneDir(tmpl, presentRoot); err != nil {
		return err
	}
	present, err := registry.Start(ctx, b.tool("docker-registry"), presentRoot)
	if err != nil {
		return err
	}
	proxy, err := registry.NewProxy(present.Host)
	if err != nil {
		present.Stop()
		return err
	}
	res = b.roundRobin(ctx, "copy, every blob present", cmp, func(ctx context.Context, t copyTool, _ int) (sample, error) {
		return b.runCopy(ctx, t, copyJob{srcHost: src.Host, srcRepo: "app", digest: d1, dstHost: proxy.Host, dstRepo: "app", tag: "v1"}, proxy)
	})
	proxy.Close()
	present.Stop()
	os.RemoveAll(presentRoot)
	b.add(results.New("copy again, every blob present, wall time", "s", col(res["ferry"], wall), "crane copy -j 8", col(res["crane copy -j 8"], wall),
		&results.Bound{Text: "≤ 0.1 s", Max: 0.1}).WithNote("same image and tag as the destination already has"))
	b.add(results.New("copy again, every blob present, blob bytes uploaded", "bytes", col(res["ferry"], uploaded), "crane copy -j 8", col(res["crane copy -j 8"], uploaded),
		&results.Bound{Text: "0 bytes", Max: 0}).WithNote("counted by a reverse proxy in front of the registry"))
	b.add(results.New("copy again, every blob present, wall time vs skopeo", "s", col(res["ferry"], wall), "skopeo copy --preserve-digests", col(res["skopeo copy"], wall), nil))

	// 2b. A new tag that shares all layers but one with what the
	// destination has.
	res = b.roundRobin(ctx, "copy, new tag sharing layers", cmp, func(ctx context.Context, t copyTool, round int) (sample, error) {
		root := filepath.Join(c.work, fmt.Sprintf("shared-%d-%s", round, slug(t.name)))
		defer os.RemoveAll(root)
		return b.withClone(ctx, tmpl, root, func(p *registry.Proxy) (sample, error) {
			return b.runCopy(ctx, t, copyJob{srcHost: src.Host, srcRepo: "app", digest: d2, dstHost: p.Host, dstRepo: "app", tag: "v2"}, p)
		})
	})
	shared := fmt.Sprintf("new tag sharing %d of %d layers with the destination", c.layers-1, c.layers)
	b.add(results.New(shared+", wall time", "s", col(res["ferry"], wall), "crane copy -j 8", col(res["crane copy -j 8"], wall), nil).
		WithNote(fmt.Sprintf("one %d MiB layer and the config to upload", c.layerSize>>20)))
	b.add(results.New(shared+", blob bytes uploaded", "bytes", col(res["ferry"], uploaded), "crane copy -j 8", col(res["crane copy -j 8"], uploaded), nil))
	b.add(results.New(shared+", wall time vs skopeo", "s", col(res["ferry"], wall), "skopeo copy --preserve-digests", col(res["skopeo copy"], wall), nil))

	// 2c. A copy between two repositories of one registry: every blob
	// can be mounted.
	res = b.roundRobin(ctx, "copy, cross-repository", cmp, func(ctx context.Context, t copyTool, round int) (sample, error) {
		root := filepath.Join(c.work, fmt.Sprintf("cross-%d-%s", round, slug(t.name)))
		defer os.RemoveAll(root)
		return b.withClone(ctx, tmpl, root, func(p *registry.Proxy) (sample, error) {
			return b.runCopy(ctx, t, copyJob{srcHost: p.Host, srcRepo: "app", digest: d1, dstHost: p.Host, dstRepo: "prod/app", tag: "v1"}, p)
		})
	})
	b.add(results.New("cross-repository copy in one registry, wall time", "s", col(res["ferry"], wall), "crane copy -j 8", col(res["crane copy -j 8"], wall),
		&results.Bound{Text: "≤ 0.1 s", Max: 0.1}).WithNote(size + " image, app → prod/app"))
	b.add(results.New("cross-repository copy, blob bytes uploaded", "bytes", col(res["ferry"], uploaded), "crane copy -j 8", col(res["crane copy -j 8"], uploaded),
		&results.Bound{Text: "0 bytes (every blob mounted)", Max: 0}))
	b.add(results.New("cross-repository copy, wall time vs skopeo", "s", col(res["ferry"], wall), "skopeo copy --preserve-digests", col(res["skopeo copy"], wall), nil))
	for _, s := range res["ferry"] {
		if want := float64(len(blobs1)); s.mounts != want {
			b.note("cross-repository copy: ferry mounted %.0f blobs in a run, want %.0f", s.mounts, want)
			break
		}
	}
	for _, t := range cmp {
		b.addCommand("copy again / new tag / cross-repository (through the counting proxy)", t.line)
	}
	return nil
}

// withClone clones the registry storage tmpl to root, serves it behind a
// counting proxy for f, then stops both.
func (b *bench) withClone(ctx context.Context, tmpl, root string, f func(p *registry.Proxy) (sample, error)) (sample, error) {
	if err := registry.CloneDir(tmpl, root); err != nil {
		return sample{}, err
	}
	r, err := registry.Start(ctx, b.tool("docker-registry"), root)
	if err != nil {
		return sample{}, err
	}
	defer r.Stop()
	p, err := registry.NewProxy(r.Host)
	if err != nil {
		return sample{}, err
	}
	defer p.Close()
	return f(p)
}

func slug(s string) string {
	return strings.Trim(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '-'
	}, strings.ToLower(s)), "-")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20:
		return fmt.Sprintf("%d MiB", n>>20)
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
