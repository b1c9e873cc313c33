package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/registry"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
)

// herokuScenario copies a multi-platform OCI index into the Heroku
// emulator's registry, which takes one Docker v2 schema 2 image only:
// ferry's conversion path against skopeo's (--format v2s2).
func (b *bench) herokuScenario(ctx context.Context) error {
	c := b.cfg
	layerSize := max(c.layerSize/4, 1<<20)
	desc := fmt.Sprintf("OCI index linux/amd64 + linux/arm64, %d × %d MiB layers each; linux/amd64 written as Docker v2 schema 2", c.layers, layerSize>>20)

	src, err := registry.Start(ctx, b.tool("docker-registry"), filepath.Join(c.work, "heroku-source"))
	if err != nil {
		return err
	}
	defer src.Stop()
	idx, err := index(100, c.layers, layerSize, platformAMD64, v1.Platform{OS: "linux", Architecture: "arm64"})
	if err != nil {
		return err
	}
	b.log.Printf("pushing the multi-platform fixture ...")
	digest, err := pushIndex(ctx, src.Host+"/multi:v1", idx)
	if err != nil {
		return err
	}
	amd64, err := idx.Image(mustFirst(idx))
	if err != nil {
		return err
	}
	wantConfig, err := amd64.ConfigName()
	if err != nil {
		return err
	}
	srcRef := src.Host + "/multi@" + digest.String()

	type tool struct {
		name string
		argv func(dst, key, authfile string) []string
		line string
	}
	tools := []tool{
		{
			name: "ferry",
			argv: func(dst, _, _ string) []string { return []string{c.ferryCopy, "-heroku", srcRef, dst} },
			line: "FERRY_COPY_PASSWORD=$HEROKU_API_KEY ferry-copy -heroku SRC_INDEX@sha256:… REGISTRY/APP/web:latest   # pkg/image.Copy with DockerV2S2, as pkg/heroku calls it",
		},
		{
			name: "skopeo copy --format v2s2",
			argv: func(dst, _, authfile string) []string {
				return []string{b.tool("skopeo"), "--insecure-policy", "--override-os", "linux", "--override-arch", "amd64", "copy", "--format", "v2s2",
					"--src-tls-verify=false", "--dest-tls-verify=false", "--dest-authfile", authfile, "docker://" + srcRef, "docker://" + dst}
			},
			line: "skopeo --insecure-policy --override-os linux --override-arch amd64 copy --format v2s2 --src-tls-verify=false --dest-tls-verify=false --dest-authfile AUTH.json docker://SRC_INDEX@sha256:… docker://REGISTRY/APP/web:latest   # AUTH.json: user _ and the API key",
		},
	}
	res := map[string][]sample{}
	for round := range c.runs {
		for _, t := range measure.Rotate(tools, round) {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			s, err := b.herokuCopy(ctx, round, t.name, t.argv, wantConfig)
			if err != nil {
				b.log.Printf("heroku copy: %s, run %d failed: %v", t.name, round+1, err)
				b.note("heroku copy: %s, run %d failed: %v", t.name, round+1, err)
				continue
			}
			b.log.Printf("heroku copy: %s run %d: %.3fs wall, %.2fs cpu, %.1f MB", t.name, round+1, s.wall, s.cpu, s.rss)
			res[t.name] = append(res[t.name], s)
		}
	}
	for _, t := range tools {
		b.addRaw("copy into the Heroku emulator", t.name, res[t.name])
		b.addCommand("copy into the Heroku emulator's registry", t.line)
	}
	anchor := "skopeo copy --format v2s2"
	b.add(results.New("copy into Heroku's registry from a multi-platform OCI index, wall time", "s", col(res["ferry"], wall), anchor, col(res[anchor], wall), nil).WithNote(desc))
	b.add(results.New("copy into Heroku's registry, peak RSS", "MB", col(res["ferry"], rss), anchor, col(res[anchor], rss), nil))
	b.add(results.New("copy into Heroku's registry, CPU time", "s", col(res["ferry"], cpu), anchor, col(res[anchor], cpu), nil))
	return nil
}

// herokuCopy runs one copy into a new emulator (so no tool can mount or
// find blobs from an earlier run) and checks what arrived: one Docker v2
// schema 2 manifest whose config digest is the source's.
func (b *bench) herokuCopy(ctx context.Context, round int, name string, argv func(dst, key, authfile string) []string, wantConfig v1.Hash) (sample, error) {
	e, err := herokuemu.New(herokuemu.Options{})
	if err != nil {
		return sample{}, err
	}
	defer e.Close()
	key := randomKey()
	e.AddKey(key, "shop")
	if _, err := e.CreateApp("shop", "container"); err != nil {
		return sample{}, err
	}
	authfile := filepath.Join(b.cfg.work, fmt.Sprintf("heroku-auth-%d.json", round))
	auth, _ := json.Marshal(map[string]any{"auths": map[string]any{e.RegistryHost(): map[string]string{"auth": base64.StdEncoding.EncodeToString([]byte("_:" + key))}}})
	if err := os.WriteFile(authfile, auth, 0o600); err != nil {
		return sample{}, err
	}
	defer os.Remove(authfile)

	dst := e.RegistryHost() + "/shop/web:latest"
	args := argv(dst, key, authfile)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(b.env(), "FERRY_COPY_PASSWORD="+key)
	s, err := measure.Run(ctx, cmd)
	if err != nil {
		return sample{}, err
	}
	got, err := manifestAt(ctx, dst, remote.WithAuth(&authn.Basic{Username: "_", Password: key}))
	if err != nil {
		return sample{}, fmt.Errorf("%s: reading the copy back: %w", name, err)
	}
	if got.MediaType != types.DockerManifestSchema2 {
		return sample{}, fmt.Errorf("%s: destination has %s, want a Docker v2 schema 2 manifest", name, got.MediaType)
	}
	m, err := v1.ParseManifest(bytes.NewReader(got.Manifest))
	if err != nil {
		return sample{}, err
	}
	if m.Config.Digest != wantConfig {
		return sample{}, fmt.Errorf("%s: config digest %s, want the source's %s", name, m.Config.Digest, wantConfig)
	}
	return sample{wall: s.Wall.Seconds(), cpu: s.CPU.Seconds(), rss: float64(s.MaxRSS) / 1e6, uploaded: -1}, nil
}

func mustFirst(idx v1.ImageIndex) v1.Hash {
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) == 0 {
		return v1.Hash{}
	}
	return im.Manifests[0].Digest
}

func randomKey() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "bench-" + hex.EncodeToString(b[:])
}
