package images

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"time"

	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Spec describes a fixture image.
type Spec struct {
	// Layers is the number of layers; 0 means 1.
	Layers int
	// LayerSize is the size in bytes of the one file in each layer; 0
	// means 1 KiB. The bytes are random, so the compressed layer is a
	// little larger than this.
	LayerSize int64
	// Labels go into the image config (config.Labels).
	Labels map[string]string
	// OCI selects OCI media types for the manifest, config and layers;
	// otherwise Docker v2 schema 2 types are used.
	OCI bool
	// Zstd compresses layers with zstd (media type
	// application/vnd.oci.image.layer.v1.tar+zstd); it implies OCI.
	Zstd bool
	// Platform is recorded in the config; nil means linux/amd64.
	Platform *v1.Platform
	// Seed determines every byte of the image.
	Seed int64
}

// fixedTime is the creation time of every fixture, so that digests do not
// depend on the clock.
var fixedTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// Build returns the image spec describes. The same spec always gives the
// same digests. Layers are generated on demand while they are read, so a
// large fixture costs CPU, not memory.
func Build(spec Spec) (v1.Image, error) {
	if spec.Layers < 0 {
		return nil, fmt.Errorf("building fixture image: negative layer count %d", spec.Layers)
	}
	if spec.LayerSize < 0 {
		return nil, fmt.Errorf("building fixture image: negative layer size %d", spec.LayerSize)
	}
	if spec.Layers == 0 {
		spec.Layers = 1
	}
	if spec.LayerSize == 0 {
		spec.LayerSize = 1 << 10
	}
	oci := spec.OCI || spec.Zstd
	p := v1.Platform{OS: "linux", Architecture: "amd64"}
	if spec.Platform != nil {
		p = *spec.Platform
	}

	base := empty.Image
	if oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		OSVersion:    p.OSVersion,
		Variant:      p.Variant,
		OSFeatures:   p.OSFeatures,
		Created:      v1.Time{Time: fixedTime},
		Config: v1.Config{
			Env:    []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd:    []string{"/ferry-fixture"},
			Labels: spec.Labels,
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	img, err := mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, fmt.Errorf("building fixture image: %w", err)
	}

	adds := make([]mutate.Addendum, 0, spec.Layers)
	for i := range spec.Layers {
		seed := spec.Seed + int64(i)
		l, err := Layer(seed, spec.LayerSize, oci, spec.Zstd)
		if err != nil {
			return nil, fmt.Errorf("building fixture image: layer %d: %w", i, err)
		}
		adds = append(adds, mutate.Addendum{
			Layer: l,
			History: v1.History{
				Created:   v1.Time{Time: fixedTime},
				CreatedBy: fmt.Sprintf("ferry fixture layer (seed %d, %d bytes)", seed, spec.LayerSize),
			},
		})
	}
	img, err = mutate.Append(img, adds...)
	if err != nil {
		return nil, fmt.Errorf("building fixture image: %w", err)
	}
	return img, nil
}

// Layer returns one fixture layer: a tarball holding the single file
// "ferry-fixture/<seed>.bin" of size pseudo-random bytes, compressed with
// gzip (Docker or OCI media type) or zstd (OCI).
func Layer(seed, size int64, oci, zstd bool) (v1.Layer, error) {
	if size < 0 {
		return nil, errors.New("negative layer size")
	}
	opts := []tarball.LayerOption{tarball.WithMediaType(types.DockerLayer)}
	switch {
	case zstd:
		opts = []tarball.LayerOption{tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd)}
	case oci:
		opts = []tarball.LayerOption{tarball.WithMediaType(types.OCILayer)}
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) { return tarStream(seed, size) }, opts...)
}

// tarStream generates an uncompressed tarball without buffering the file:
// header block, size random bytes, padding to the block size, and the two
// zero blocks that end an archive.
func tarStream(seed, size int64) (io.ReadCloser, error) {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     fmt.Sprintf("ferry-fixture/%d.bin", seed),
		Mode:     0o644,
		Size:     size,
		ModTime:  fixedTime,
		Format:   tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	// tw is deliberately not closed: Close would complain that the file
	// body was not written through it.
	pad := (512 - size%512) % 512
	return io.NopCloser(io.MultiReader(
		bytes.NewReader(hdr.Bytes()),
		io.LimitReader(random(seed), size),
		io.LimitReader(zeros{}, pad+1024),
	)), nil
}

func random(seed int64) io.Reader {
	var key [32]byte
	copy(key[:], "ferry fixture layer seed........")
	binary.LittleEndian.PutUint64(key[:8], uint64(seed))
	return rand.NewChaCha8(key)
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// Index returns a multi-platform OCI index with one image per entry of
// platforms, keyed "os/arch[/variant]" ("linux/amd64", "linux/arm64/v8").
// The key sets each image's platform (Spec.Platform is overwritten) and
// every child uses OCI media types. Children are ordered by key.
func Index(platforms map[string]Spec) (v1.ImageIndex, error) {
	if len(platforms) == 0 {
		return nil, errors.New("building fixture index: no platforms")
	}
	keys := make([]string, 0, len(platforms))
	for k := range platforms {
		keys = append(keys, k)
	}
	sort.Strings(keys)

	adds := make([]mutate.IndexAddendum, 0, len(keys))
	for _, k := range keys {
		p, err := v1.ParsePlatform(k)
		if err != nil {
			return nil, fmt.Errorf("building fixture index: platform %q: %w", k, err)
		}
		if p.OS == "" || p.Architecture == "" {
			return nil, fmt.Errorf("building fixture index: platform %q: want os/arch[/variant]", k)
		}
		spec := platforms[k]
		spec.Platform = p
		spec.OCI = true
		img, err := Build(spec)
		if err != nil {
			return nil, fmt.Errorf("building fixture index: %s: %w", k, err)
		}
		mt, err := img.MediaType()
		if err != nil {
			return nil, fmt.Errorf("building fixture index: %s: %w", k, err)
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{MediaType: mt, Platform: p},
		})
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	return mutate.AppendManifests(idx, adds...), nil
}
