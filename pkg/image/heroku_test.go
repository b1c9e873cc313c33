package image_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/image"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var update = flag.Bool("update", false, "rewrite golden files")

// rawImage is an image made of given manifest and config bytes, served
// with a given Content-Type; it has no layer blobs.
type rawImage struct {
	manifest, config []byte
	mt               types.MediaType
}

func (r rawImage) RawManifest() ([]byte, error)        { return r.manifest, nil }
func (r rawImage) RawConfigFile() ([]byte, error)      { return r.config, nil }
func (r rawImage) MediaType() (types.MediaType, error) { return r.mt, nil }
func (r rawImage) LayerByDigest(v1.Hash) (partial.CompressedLayer, error) {
	return nil, errors.New("raw images have no layer blobs")
}

func newRawImage(t testing.TB, manifest, config []byte, mt types.MediaType) v1.Image {
	t.Helper()
	img, err := partial.CompressedToImage(rawImage{manifest: manifest, config: config, mt: mt})
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// rawConfig is deliberately not what encoding/json would produce (key
// order, spacing, an unknown field): re-serializing it would change its
// digest.
var rawConfig = []byte(`{"os":"linux",  "architecture":"amd64", "x-built-by":"hand",
 "rootfs":{"type":"layers","diff_ids":["sha256:1111111111111111111111111111111111111111111111111111111111111111","sha256:2222222222222222222222222222222222222222222222222222222222222222"]},
 "config":{"Labels":{"ferry.test/dyno":"up"}}}
`)

func digestOf(b []byte) v1.Hash {
	h, _, _ := v1.SHA256(bytes.NewReader(b))
	return h
}

func layerDesc(mt types.MediaType, hex byte, size int64) map[string]any {
	return map[string]any{"mediaType": string(mt), "digest": "sha256:" + strings.Repeat(string(hex), 64), "size": size}
}

// manifestJSON builds manifest bytes; mt "" leaves the field out.
func manifestJSON(t testing.TB, mt, cfgMT types.MediaType, config []byte, layers ...map[string]any) []byte {
	t.Helper()
	m := map[string]any{
		"schemaVersion": 2,
		"config":        map[string]any{"mediaType": string(cfgMT), "digest": digestOf(config).String(), "size": len(config)},
		"layers":        layers,
		"annotations":   map[string]string{"org.opencontainers.image.source": "https://example.com/shop"},
	}
	if mt != "" {
		m["mediaType"] = string(mt)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestConvertForHeroku(t *testing.T) {
	gz := layerDesc(types.OCILayer, 'a', 1000)
	plain := layerDesc(types.OCIUncompressedLayer, 'b', 3072)
	dgz := layerDesc(types.DockerLayer, 'a', 1000)
	ociMT, ociCfg := types.OCIManifestSchema1, types.OCIConfigJSON
	dockerMT, dockerCfg := types.DockerManifestSchema2, types.DockerConfigJSON

	tests := []convertCase{
		{name: "oci gzip and plain tar", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, gz, plain), served: ociMT,
			wantLayers: []types.MediaType{types.DockerLayer, types.DockerUncompressedLayer}},
		{name: "oci without mediaType field", manifest: manifestJSON(t, "", ociCfg, rawConfig, gz), served: ociMT,
			wantLayers: []types.MediaType{types.DockerLayer}},
		{name: "docker with an oci layer", manifest: manifestJSON(t, dockerMT, dockerCfg, rawConfig, gz), served: dockerMT,
			wantLayers: []types.MediaType{types.DockerLayer}},
		{name: "docker with an oci config", manifest: manifestJSON(t, dockerMT, ociCfg, rawConfig, dgz), served: dockerMT,
			wantLayers: []types.MediaType{types.DockerLayer}},
		{name: "docker served as something else", manifest: manifestJSON(t, dockerMT, dockerCfg, rawConfig, dgz), served: "application/json",
			wantLayers: []types.MediaType{types.DockerLayer}},
		{name: "docker already", manifest: manifestJSON(t, dockerMT, dockerCfg, rawConfig, dgz), served: dockerMT,
			wantLayers: []types.MediaType{types.DockerLayer}, unchanged: true},
		{name: "no layers", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig), served: ociMT, wantLayers: []types.MediaType{}},

		{name: "zstd", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, gz, layerDesc(types.OCILayerZStd, 'c', 10)), served: ociMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: "layer 1 (sha256:" + strings.Repeat("c", 64) + "): zstd"},
		{name: "oci non-distributable", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, layerDesc(types.OCIRestrictedLayer, 'd', 10)), served: ociMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: "non-distributable"},
		{name: "docker foreign", manifest: manifestJSON(t, dockerMT, dockerCfg, rawConfig, layerDesc(types.DockerForeignLayer, 'd', 10)), served: dockerMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: "non-distributable"},
		{name: "layer with urls", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, map[string]any{"mediaType": string(types.OCILayer), "digest": "sha256:" + strings.Repeat("e", 64), "size": 5, "urls": []string{"https://example.com/l"}}), served: ociMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: "external URLs"},
		{name: "unknown layer type", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, layerDesc("application/vnd.in-toto+json", 'f', 10)), served: ociMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: `unknown layer media type "application/vnd.in-toto+json"`},
		{name: "helm chart", manifest: manifestJSON(t, ociMT, "application/vnd.cncf.helm.config.v1+json", rawConfig, gz), served: ociMT,
			wantIs: image.ErrHerokuIncompatible, wantErr: "not a container image config"},
		{name: "index", manifest: manifestJSON(t, types.OCIImageIndex, ociCfg, rawConfig), served: types.OCIImageIndex,
			wantIs: image.ErrHerokuIncompatible, wantErr: "pick one platform"},
		{name: "schema 1", manifest: manifestJSON(t, types.DockerManifestSchema1, dockerCfg, rawConfig), served: types.DockerManifestSchema1,
			wantIs: image.ErrHerokuIncompatible, wantErr: "not a docker v2 schema 2 or OCI image manifest"},
		{name: "config bytes differ from the manifest", manifest: manifestJSON(t, ociMT, ociCfg, rawConfig, gz), config: []byte(`{"os":"linux"}`), served: ociMT,
			wantErr: "config blob does not match the manifest"},
		{name: "not json", manifest: []byte("{"), served: ociMT, wantErr: "parsing manifest"},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

// convertCase is one manifest through ConvertForHeroku.
type convertCase struct {
	name       string
	manifest   []byte
	config     []byte
	served     types.MediaType
	wantLayers []types.MediaType // on success
	unchanged  bool
	wantErr    string
	wantIs     error
}

func (tt convertCase) run(t *testing.T) {
	cfg := rawConfig
	if tt.config != nil {
		cfg = tt.config
	}
	in := newRawImage(t, tt.manifest, cfg, tt.served)
	out, err := image.ConvertForHeroku(in)
	if tt.wantErr != "" {
		if err == nil {
			t.Fatal("converted")
		}
		if !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("error %q does not contain %q", err, tt.wantErr)
		}
		if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
			t.Errorf("error %v is not %v", err, tt.wantIs)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	inDigest, _ := in.Digest()
	outDigest, _ := out.Digest()
	if (inDigest == outDigest) != tt.unchanged {
		t.Errorf("manifest digest kept = %v, want %v", inDigest == outDigest, tt.unchanged)
	}
	raw, _ := out.RawManifest()
	if digestOf(raw) != outDigest {
		t.Error("Digest is not the digest of RawManifest")
	}
	m := checkHerokuShape(t, out, rawConfig)
	src, _ := v1.ParseManifest(bytes.NewReader(tt.manifest))
	if len(m.Layers) != len(tt.wantLayers) {
		t.Fatalf("%d layers, want %d", len(m.Layers), len(tt.wantLayers))
	}
	for i, l := range m.Layers {
		if l.MediaType != tt.wantLayers[i] || l.Digest != src.Layers[i].Digest || l.Size != src.Layers[i].Size {
			t.Errorf("layer %d: %s %s %d, source %s %s %d", i, l.MediaType, l.Digest, l.Size,
				src.Layers[i].MediaType, src.Layers[i].Digest, src.Layers[i].Size)
		}
	}
}

// checkHerokuShape checks what every conversion must give: a Docker v2
// schema 2 manifest and config, with config bytes cfg and their digest,
// and returns the manifest.
func checkHerokuShape(t *testing.T, out v1.Image, cfg []byte) *v1.Manifest {
	t.Helper()
	if mt, _ := out.MediaType(); mt != types.DockerManifestSchema2 {
		t.Fatalf("media type %s", mt)
	}
	raw, err := out.RawManifest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("output manifest does not parse: %v", err)
	}
	if m.MediaType != types.DockerManifestSchema2 || m.Config.MediaType != types.DockerConfigJSON {
		t.Fatalf("manifest %q, config %q", m.MediaType, m.Config.MediaType)
	}
	if got, _ := out.RawConfigFile(); !bytes.Equal(got, cfg) {
		t.Fatal("config bytes changed")
	}
	if name, _ := out.ConfigName(); name != digestOf(cfg) || m.Config.Digest != name {
		t.Fatalf("config digest %s / %s, want %s", name, m.Config.Digest, digestOf(cfg))
	}
	return m
}

// TestConvertForHerokuGolden pins the exact manifest registry.heroku.com
// receives for an OCI image.
func TestConvertForHerokuGolden(t *testing.T) {
	in := newRawImage(t, manifestJSON(t, types.OCIManifestSchema1, types.OCIConfigJSON, rawConfig,
		layerDesc(types.OCILayer, 'a', 1000), layerDesc(types.OCIUncompressedLayer, 'b', 3072)), rawConfig, types.OCIManifestSchema1)
	out, err := image.ConvertForHeroku(in)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := out.RawManifest()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, raw, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteString("\n")
	golden := filepath.Join("testdata", "heroku-manifest.golden.json")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(golden, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(pretty.Bytes(), want) {
		t.Fatalf("converted manifest:\n%s\nwant:\n%s", pretty.Bytes(), want)
	}
}

// checkBlobs reads every blob of img and checks it against the manifest
// and the config's diff ids.
func checkBlobs(t *testing.T, img v1.Image) {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	ls, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != len(m.Layers) || len(ls) != len(cfg.RootFS.DiffIDs) {
		t.Fatalf("%d layers, %d in the manifest, %d diff ids", len(ls), len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	for i, l := range ls {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		h, n, err := v1.SHA256(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if h != m.Layers[i].Digest || n != m.Layers[i].Size {
			t.Errorf("layer %d blob is %s (%d bytes), manifest says %s (%d)", i, h, n, m.Layers[i].Digest, m.Layers[i].Size)
		}
		byDiff, err := img.LayerByDiffID(cfg.RootFS.DiffIDs[i])
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := byDiff.Digest(); d != h {
			t.Errorf("layer %d by diff id is %s, want %s", i, d, h)
		}
	}
}

// TestConvertForHerokuImage converts a complete image and reads every blob
// of the result.
func TestConvertForHerokuImage(t *testing.T) {
	for _, oci := range []bool{true, false} {
		img := build(t, images.Spec{Layers: 3, OCI: oci, Seed: 4})
		out, err := image.ConvertForHeroku(img)
		if err != nil {
			t.Fatal(err)
		}
		checkBlobs(t, out)
		in, _ := img.Digest()
		got, _ := out.Digest()
		if (in == got) == oci {
			t.Errorf("oci=%v: manifest digest kept = %v", oci, in == got)
		}
		ls, err := out.Layers()
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range ls {
			if mt, _ := l.MediaType(); mt != types.DockerLayer {
				t.Errorf("layer media type %s", mt)
			}
		}
		cl, err := partial.ConfigLayer(out)
		if err != nil {
			t.Fatal(err)
		}
		if d, _ := cl.Digest(); d != mustConfigName(t, img) {
			t.Errorf("config layer %s", d)
		}
	}
}

func mustConfigName(t *testing.T, img v1.Image) v1.Hash {
	t.Helper()
	h, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestConvertForHerokuKeepsLayersMountable: a converted remote image still
// names its source repository, so remote.Write can mount its blobs.
func TestConvertForHerokuKeepsLayersMountable(t *testing.T) {
	host, _ := registry(t)
	src := push(t, host+"/src/app", build(t, images.Spec{Layers: 2, OCI: true}))
	img, err := remote.Image(tag(t, src.Repository+":src"), remote.WithContext(context.Background()))
	if err != nil {
		t.Fatal(err)
	}
	out, err := image.ConvertForHeroku(img)
	if err != nil {
		t.Fatal(err)
	}
	ls, err := out.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cl, err := partial.ConfigLayer(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range append(ls, cl) {
		ml, ok := l.(*remote.MountableLayer)
		if !ok {
			t.Fatalf("layer is a %T, not mountable", l)
		}
		if ml.Reference.Context().String() != src.Repository {
			t.Errorf("mountable from %s, want %s", ml.Reference.Context(), src.Repository)
		}
	}
}

func FuzzConvert(f *testing.F) {
	gz := layerDesc(types.OCILayer, 'a', 1000)
	for _, seed := range []struct {
		manifest []byte
		mt       types.MediaType
	}{
		{manifestJSON(f, types.OCIManifestSchema1, types.OCIConfigJSON, rawConfig, gz, layerDesc(types.OCIUncompressedLayer, 'b', 3)), types.OCIManifestSchema1},
		{manifestJSON(f, "", types.OCIConfigJSON, rawConfig, gz), types.OCIManifestSchema1},
		{manifestJSON(f, types.DockerManifestSchema2, types.DockerConfigJSON, rawConfig, layerDesc(types.DockerLayer, 'a', 1)), types.DockerManifestSchema2},
		{manifestJSON(f, types.OCIManifestSchema1, types.OCIConfigJSON, rawConfig, layerDesc(types.OCILayerZStd, 'c', 1)), types.OCIManifestSchema1},
		{manifestJSON(f, types.OCIImageIndex, types.OCIConfigJSON, rawConfig), types.OCIImageIndex},
		{[]byte(`{"schemaVersion":2,"layers":[{"digest":"sha256:","size":-1}]}`), ""},
		{[]byte(`null`), ""},
	} {
		f.Add(seed.manifest, rawConfig, string(seed.mt))
	}
	f.Fuzz(func(t *testing.T, manifest, config []byte, mt string) {
		out, err := image.ConvertForHeroku(newRawImage(t, manifest, config, types.MediaType(mt)))
		if err != nil {
			if out != nil {
				t.Fatal("an image and an error")
			}
			return
		}
		// Whatever converts must be what Heroku takes, with the source's
		// config bytes and layer digests.
		m := checkHerokuShape(t, out, config)
		src, err := v1.ParseManifest(bytes.NewReader(manifest))
		if err != nil {
			t.Fatalf("input converted but does not parse: %v", err)
		}
		if m.Config.Digest != src.Config.Digest {
			t.Fatalf("config digest %s, source %s", m.Config.Digest, src.Config.Digest)
		}
		if len(m.Layers) != len(src.Layers) {
			t.Fatalf("%d layers, source %d", len(m.Layers), len(src.Layers))
		}
		for i, l := range m.Layers {
			if l.Digest != src.Layers[i].Digest || l.Size != src.Layers[i].Size {
				t.Fatalf("layer %d changed", i)
			}
			if l.MediaType != types.DockerLayer && l.MediaType != types.DockerUncompressedLayer {
				t.Fatalf("layer %d media type %s", i, l.MediaType)
			}
		}
	})
}
