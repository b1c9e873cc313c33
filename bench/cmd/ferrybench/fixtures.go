package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// The bench builds its own fixtures rather than internal/testenv/images':
// those gzip at the default level, which costs about a minute per GiB of
// random bytes; these are gzip streams at level 0 (stored blocks), just as
// incompressible and still valid layer tarballs.

var fixtureTime = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// fixture is an image with layers seed, seed+1, ..., so that images whose
// seeds differ by k share layers-k layers.
func fixture(seed int64, layers int, size int64, oci bool, platform v1.Platform) (v1.Image, error) {
	base := empty.Image
	layerType := types.DockerLayer
	if oci {
		base = mutate.MediaType(base, types.OCIManifestSchema1)
		base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
		layerType = types.OCILayer
	}
	img, err := mutate.ConfigFile(base, &v1.ConfigFile{
		Architecture: platform.Architecture,
		OS:           platform.OS,
		Variant:      platform.Variant,
		Created:      v1.Time{Time: fixtureTime},
		Config:       v1.Config{Cmd: []string{"/bench"}, Labels: map[string]string{"seed": fmt.Sprint(seed)}},
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, err
	}
	adds := make([]mutate.Addendum, 0, layers)
	for i := range layers {
		s := seed + int64(i)
		l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return tarStream(s, size) },
			tarball.WithCompressionLevel(gzip.NoCompression), tarball.WithMediaType(layerType))
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.Addendum{Layer: l, History: v1.History{Created: v1.Time{Time: fixtureTime}, CreatedBy: fmt.Sprintf("bench layer %d", s)}})
	}
	return mutate.Append(img, adds...)
}

// tarStream is a tarball holding one file of size pseudo-random bytes.
func tarStream(seed, size int64) (io.ReadCloser, error) {
	var hdr bytes.Buffer
	tw := tar.NewWriter(&hdr)
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg, Name: fmt.Sprintf("bench/%d.bin", seed), Mode: 0o644,
		Size: size, ModTime: fixtureTime, Format: tar.FormatPAX,
	}); err != nil {
		return nil, err
	}
	var key [32]byte
	copy(key[:], "ferry bench layer...............")
	binary.LittleEndian.PutUint64(key[:8], uint64(seed))
	pad := (512 - size%512) % 512
	return io.NopCloser(io.MultiReader(
		bytes.NewReader(hdr.Bytes()),
		io.LimitReader(rand.NewChaCha8(key), size),
		bytes.NewReader(make([]byte, pad+1024)),
	)), nil
}

// index is an OCI index of one image per platform; image i starts at
// seed+1000*i.
func index(seed int64, layers int, size int64, platforms ...v1.Platform) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for i, p := range platforms {
		img, err := fixture(seed+1000*int64(i), layers, size, true, p)
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1, Platform: &p}})
	}
	return mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...), nil
}

func push(ctx context.Context, ref string, img v1.Image) (v1.Hash, error) {
	r, err := name.NewTag(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.Write(r, img, remote.WithContext(ctx), remote.WithJobs(8)); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture to %s: %w", ref, err)
	}
	return img.Digest()
}

func pushIndex(ctx context.Context, ref string, idx v1.ImageIndex) (v1.Hash, error) {
	r, err := name.NewTag(ref)
	if err != nil {
		return v1.Hash{}, err
	}
	if err := remote.WriteIndex(r, idx, remote.WithContext(ctx), remote.WithJobs(8)); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture index to %s: %w", ref, err)
	}
	return idx.Digest()
}

// blobs lists the digests of an image's config and layers.
func blobs(img v1.Image) ([]string, error) {
	m, err := img.Manifest()
	if err != nil {
		return nil, err
	}
	out := []string{m.Config.Digest.String()}
	for _, l := range m.Layers {
		out = append(out, l.Digest.String())
	}
	return out, nil
}

// manifestAt reads the digest and media type a reference names.
func manifestAt(ctx context.Context, ref string, opts ...remote.Option) (*remote.Descriptor, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, err
	}
	return remote.Get(r, append([]remote.Option{remote.WithContext(ctx)}, opts...)...)
}

// platformAMD64 is the platform of every single-platform fixture.
var platformAMD64 = v1.Platform{OS: "linux", Architecture: "amd64"}
