package images

import (
	"archive/tar"
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var update = flag.Bool("update", false, "rewrite golden files")

type digests struct {
	manifest, config v1.Hash
	layers           []v1.Hash
}

func digestsOf(t *testing.T, img v1.Image) digests {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	out := digests{manifest: d, config: m.Config.Digest}
	for _, l := range m.Layers {
		out.layers = append(out.layers, l.Digest)
	}
	return out
}

func TestBuild(t *testing.T) {
	arm := &v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}
	tests := []buildCase{
		{"defaults", Spec{}, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, 1, "linux/amd64"},
		{"docker", Spec{Layers: 3, LayerSize: 5000, Seed: 7}, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, 3, "linux/amd64"},
		{"oci", Spec{Layers: 2, OCI: true, Seed: 7}, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer, 2, "linux/amd64"},
		{"zstd implies oci", Spec{Layers: 2, Zstd: true, Seed: 7}, types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayerZStd, 2, "linux/amd64"},
		{"platform", Spec{Platform: arm, Seed: 7}, types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer, 1, "linux/arm64/v8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { checkBuild(t, tt) })
	}
}

// buildCase is a Spec and what Build makes of it.
type buildCase struct {
	name       string
	spec       Spec
	manifestMT types.MediaType
	configMT   types.MediaType
	layerMT    types.MediaType
	layers     int
	platform   string
}

// checkBuild builds tt.spec twice: the same digests, and the media
// types, layers and platform tt wants.
func checkBuild(t *testing.T, tt buildCase) {
	t.Helper()
	img, err := Build(tt.spec)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Build(tt.spec)
	if err != nil {
		t.Fatal(err)
	}
	a, b := digestsOf(t, img), digestsOf(t, again)
	if a.manifest != b.manifest || a.config != b.config {
		t.Fatalf("not deterministic: %v/%v vs %v/%v", a.manifest, a.config, b.manifest, b.config)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := img.MediaType(); mt != tt.manifestMT {
		t.Errorf("manifest media type %s, want %s", mt, tt.manifestMT)
	}
	if m.Config.MediaType != tt.configMT {
		t.Errorf("config media type %s, want %s", m.Config.MediaType, tt.configMT)
	}
	if len(m.Layers) != tt.layers {
		t.Fatalf("%d layers, want %d", len(m.Layers), tt.layers)
	}
	for i, l := range m.Layers {
		if l.MediaType != tt.layerMT {
			t.Errorf("layer %d media type %s, want %s", i, l.MediaType, tt.layerMT)
		}
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Platform().String(); got != tt.platform {
		t.Errorf("platform %s, want %s", got, tt.platform)
	}
	if len(cfg.RootFS.DiffIDs) != tt.layers {
		t.Errorf("%d diff ids, want %d", len(cfg.RootFS.DiffIDs), tt.layers)
	}
}

func TestBuildSeedChangesEverything(t *testing.T) {
	a, err := Build(Spec{Layers: 2, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Spec{Layers: 2, Seed: 100})
	if err != nil {
		t.Fatal(err)
	}
	da, db := digestsOf(t, a), digestsOf(t, b)
	if da.manifest == db.manifest || da.config == db.config {
		t.Fatal("different seeds gave the same image")
	}
	for _, x := range da.layers {
		for _, y := range db.layers {
			if x == y {
				t.Fatalf("layer %s shared between seeds 1 and 100", x)
			}
		}
	}
}

func TestBuildSeedsShareLayers(t *testing.T) {
	a, err := Build(Spec{Layers: 8, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(Spec{Layers: 8, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	in := map[v1.Hash]bool{}
	for _, h := range digestsOf(t, a).layers {
		in[h] = true
	}
	shared := 0
	for _, h := range digestsOf(t, b).layers {
		if in[h] {
			shared++
		}
	}
	if shared != 7 {
		t.Fatalf("seeds 1 and 2 share %d of 8 layers, want 7", shared)
	}
}

func TestBuildLabels(t *testing.T) {
	labels := map[string]string{"ferry.test/dyno": "crash", "org.opencontainers.image.version": "1.4.2"}
	img, err := Build(Spec{Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range labels {
		if cfg.Config.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, cfg.Config.Labels[k], v)
		}
	}
	plain, err := Build(Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if digestsOf(t, img).config == digestsOf(t, plain).config {
		t.Error("labels did not change the config digest")
	}
}

func TestBuildRejectsNegative(t *testing.T) {
	for _, spec := range []Spec{{Layers: -1}, {LayerSize: -1}} {
		if _, err := Build(spec); err == nil {
			t.Errorf("Build(%+v) succeeded", spec)
		}
	}
}

func TestLayerContent(t *testing.T) {
	for _, zstd := range []bool{false, true} {
		t.Run(fmt.Sprintf("zstd=%v", zstd), func(t *testing.T) {
			const size = 1500 // not a multiple of the tar block size
			l, err := Layer(42, size, true, zstd)
			if err != nil {
				t.Fatal(err)
			}
			rc, err := l.Uncompressed()
			if err != nil {
				t.Fatal(err)
			}
			defer rc.Close()
			tr := tar.NewReader(rc)
			hdr, err := tr.Next()
			if err != nil {
				t.Fatal(err)
			}
			if hdr.Name != "ferry-fixture/42.bin" || hdr.Size != size {
				t.Fatalf("entry %q of %d bytes", hdr.Name, hdr.Size)
			}
			body, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := io.ReadAll(io.LimitReader(random(42), size))
			if !bytes.Equal(body, want) {
				t.Fatal("file content is not the seeded stream")
			}
			if _, err := tr.Next(); err != io.EOF {
				t.Fatalf("second entry: %v, want EOF", err)
			}
		})
	}
}

// TestConfigDigestsGolden pins the config digests (which depend only on
// the uncompressed layers, not on the compressor) of a few fixtures, so an
// accidental change to the generator shows up. Run with -update to accept.
func TestConfigDigestsGolden(t *testing.T) {
	specs := []struct {
		name string
		spec Spec
	}{
		{"docker-1x1k-seed0", Spec{}},
		{"oci-3x4k-seed9", Spec{Layers: 3, LayerSize: 4096, OCI: true, Seed: 9}},
		{"labels-seed5", Spec{Seed: 5, Labels: map[string]string{"ferry.test/dyno": "crash"}}},
	}
	var b strings.Builder
	for _, s := range specs {
		img, err := Build(s.spec)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s\n", s.name, digestsOf(t, img).config)
	}
	golden := filepath.Join("testdata", "config-digests.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if b.String() != string(want) {
		t.Fatalf("config digests changed:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestIndex(t *testing.T) {
	platforms := map[string]Spec{
		"linux/arm64": {Layers: 2, Seed: 20},
		"linux/amd64": {Layers: 2, Seed: 10},
	}
	idx, err := Index(platforms)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Index(platforms)
	if err != nil {
		t.Fatal(err)
	}
	d1, _ := idx.Digest()
	d2, _ := again.Digest()
	if d1 != d2 {
		t.Fatalf("index not deterministic: %s vs %s", d1, d2)
	}
	if mt, _ := idx.MediaType(); mt != types.OCIImageIndex {
		t.Errorf("index media type %s", mt)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		if d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("child %s media type %s", d.Platform, d.MediaType)
		}
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Platform().String() != d.Platform.String() {
			t.Errorf("config says %s, index says %s", cfg.Platform(), d.Platform)
		}
		got = append(got, d.Platform.String())
	}
	if strings.Join(got, ",") != "linux/amd64,linux/arm64" {
		t.Fatalf("platforms %v", got)
	}
	if _, err := Index(nil); err == nil {
		t.Error("Index(nil) succeeded")
	}
	if _, err := Index(map[string]Spec{"": {}}); err == nil {
		t.Error("Index with an empty platform succeeded")
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestPushAndPull(t *testing.T) {
	host, stop, err := StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	ctx := context.Background()

	img, err := Build(Spec{Layers: 2, Labels: map[string]string{"ferry.test/dyno": "crash"}})
	if err != nil {
		t.Fatal(err)
	}
	d, err := Push(ctx, host+"/shop/web:1", img)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if d != want {
		t.Fatalf("Push returned %s, want %s", d, want)
	}
	pulled, err := remote.Image(mustRef(t, host+"/shop/web:1"))
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := pulled.Digest(); got != want {
		t.Fatalf("pulled %s, want %s", got, want)
	}
	cfg, err := pulled.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Config.Labels["ferry.test/dyno"] != "crash" {
		t.Errorf("labels after pull: %v", cfg.Config.Labels)
	}

	idx, err := Index(map[string]Spec{"linux/amd64": {}, "linux/arm64": {Seed: 3}})
	if err != nil {
		t.Fatal(err)
	}
	id, err := PushIndex(ctx, host+"/shop/multi:1", idx)
	if err != nil {
		t.Fatal(err)
	}
	desc, err := remote.Get(mustRef(t, host+"/shop/multi:1"))
	if err != nil {
		t.Fatal(err)
	}
	if desc.Digest != id || !desc.MediaType.IsIndex() {
		t.Fatalf("got %s %s, want index %s", desc.MediaType, desc.Digest, id)
	}

	if _, err := Push(ctx, "not a reference", img); err == nil {
		t.Error("Push to a bad reference succeeded")
	}
}

func TestRegistryScopesBlobsAndMounts(t *testing.T) {
	var uploads UploadCounter
	host, stop, err := StartRegistryWith(RegistryOptions{Wrap: uploads.Wrap})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()

	img, err := Build(Spec{Layers: 2, LayerSize: 3000})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Push(context.Background(), host+"/a/app:1", img); err != nil {
		t.Fatal(err)
	}
	m, _ := img.Manifest()
	total := m.Config.Size
	for _, l := range m.Layers {
		total += l.Size
	}
	if uploads.Bytes() != total || uploads.Blobs() != 3 {
		t.Fatalf("counted %d bytes in %d blobs, want %d in 3", uploads.Bytes(), uploads.Blobs(), total)
	}

	layer := m.Layers[0].Digest.String()
	status := func(method, path string) int {
		t.Helper()
		req, _ := http.NewRequest(method, "http://"+host+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := status(http.MethodHead, "/v2/a/app/blobs/"+layer); got != http.StatusOK {
		t.Fatalf("HEAD in the pushed repository: %d", got)
	}
	if got := status(http.MethodHead, "/v2/b/app/blobs/"+layer); got != http.StatusNotFound {
		t.Fatalf("HEAD in another repository: %d, want 404", got)
	}
	if got := status(http.MethodPost, "/v2/b/app/blobs/uploads/?mount="+layer+"&from=nowhere/app"); got != http.StatusAccepted {
		t.Fatalf("mount from a repository without the blob: %d, want 202 (plain upload)", got)
	}
	if got := status(http.MethodPost, "/v2/b/app/blobs/uploads/?mount="+layer+"&from=a/app"); got != http.StatusCreated {
		t.Fatalf("mount: %d, want 201", got)
	}
	if got := status(http.MethodHead, "/v2/b/app/blobs/"+layer); got != http.StatusOK {
		t.Fatalf("HEAD after mount: %d", got)
	}
	if uploads.Mounts() != 1 {
		t.Fatalf("counted %d mounts, want 1", uploads.Mounts())
	}
	uploads.Reset()
	if uploads.Bytes() != 0 || uploads.Blobs() != 0 || uploads.Mounts() != 0 {
		t.Fatal("Reset left counts")
	}
}

func TestFault(t *testing.T) {
	f := &Fault{Match: Matching(http.MethodGet, "/v2/"), Times: 2, Status: http.StatusTooManyRequests, RetryAfter: "1"}
	host, stop, err := StartRegistryWith(RegistryOptions{Wrap: Chain(f.Wrap)})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	var codes []int
	for range 3 {
		resp, err := http.Get("http://" + host + "/v2/")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
		if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("Retry-After %q", resp.Header.Get("Retry-After"))
		}
	}
	if fmt.Sprint(codes) != "[429 429 200]" {
		t.Fatalf("codes %v", codes)
	}
	if f.Injected() != 2 {
		t.Fatalf("injected %d", f.Injected())
	}
	// A request that does not match passes through untouched.
	resp, err := http.Head("http://" + host + "/v2/x/manifests/latest")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("unmatched request got %d", resp.StatusCode)
	}
}

func TestStartRegistryBadAddr(t *testing.T) {
	if _, _, err := StartRegistryWith(RegistryOptions{Addr: "256.0.0.1:1"}); err == nil {
		t.Fatal("listening on an invalid address succeeded")
	}
}
