package image

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrHerokuIncompatible is wrapped by every error about an image that
// registry.heroku.com cannot take, whatever ferry does to it.
var ErrHerokuIncompatible = errors.New("image is not compatible with heroku")

// PlatformError reports that no image for the wanted platform exists: an
// index without that platform, or (in Heroku mode) a single image built for
// another one.
type PlatformError struct {
	Want v1.Platform
	// Have lists the platforms that exist ("linux/arm64", ...).
	Have []string
}

func (e *PlatformError) Error() string {
	if len(e.Have) == 0 {
		return fmt.Sprintf("no image for %s (the source names no platforms)", e.Want.String())
	}
	return fmt.Sprintf("no image for %s (available: %s)", e.Want.String(), strings.Join(e.Have, ", "))
}

// ConvertForHeroku returns img as registry.heroku.com accepts it: one
// Docker v2 schema 2 manifest whose config has media type
// application/vnd.docker.container.image.v1+json and whose layers are
// Docker gzip (application/vnd.docker.image.rootfs.diff.tar.gzip) or plain
// tar layers.
//
// Only media types change. Layer blobs are reused as they are, never
// recompressed, so layer digests stay; the config blob is kept byte for
// byte, so the config digest, which Heroku calls the image id, stays too.
// An image that already qualifies is returned unchanged, manifest digest
// included.
//
// Errors wrapping [ErrHerokuIncompatible] name what cannot be converted:
// zstd layers (converting would mean recompressing, which changes the
// digests), non-distributable layers (registry.heroku.com does not fetch
// foreign URLs), layers and configs of unknown types, and anything that is
// not a single image manifest.
func ConvertForHeroku(img v1.Image) (v1.Image, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	served, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("reading manifest media type: %w", err)
	}
	mt := m.MediaType
	if mt == "" {
		// OCI manifests may leave the field out; the registry's
		// Content-Type then says what it is.
		mt = served
	}
	switch {
	case mt == types.OCIManifestSchema1 || mt == types.DockerManifestSchema2:
	case mt.IsIndex():
		return nil, fmt.Errorf("%w: %s is an index of several images; pick one platform first", ErrHerokuIncompatible, mt)
	default:
		return nil, fmt.Errorf("%w: manifest media type %q is not a docker v2 schema 2 or OCI image manifest", ErrHerokuIncompatible, mt)
	}
	if m.SchemaVersion != 2 {
		return nil, fmt.Errorf("%w: manifest schema version %d, want 2", ErrHerokuIncompatible, m.SchemaVersion)
	}

	switch m.Config.MediaType {
	case types.DockerConfigJSON, types.OCIConfigJSON:
	default:
		return nil, fmt.Errorf("%w: config %s has media type %q, which is not a container image config", ErrHerokuIncompatible, m.Config.Digest, m.Config.MediaType)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config %s: %w", m.Config.Digest, err)
	}
	if h, n, err := v1.SHA256(bytes.NewReader(cfg)); err != nil || h != m.Config.Digest || n != m.Config.Size {
		return nil, fmt.Errorf("config blob does not match the manifest: it is %s (%d bytes), the manifest says %s (%d bytes)", h, n, m.Config.Digest, m.Config.Size)
	}
	if _, err := v1.ParseConfigFile(bytes.NewReader(cfg)); err != nil {
		return nil, fmt.Errorf("%w: config %s is not an image config: %w", ErrHerokuIncompatible, m.Config.Digest, err)
	}

	// The manifest is kept as it is only when its body and its media type
	// both say Docker v2 schema 2 and nothing else needs changing.
	changed := m.MediaType != types.DockerManifestSchema2 || served != types.DockerManifestSchema2 ||
		m.Config.MediaType != types.DockerConfigJSON
	layers := make([]v1.Descriptor, 0, len(m.Layers))
	for i, l := range m.Layers {
		to, err := herokuLayerType(l)
		if err != nil {
			return nil, fmt.Errorf("%w: layer %d (%s): %s", ErrHerokuIncompatible, i, l.Digest, err)
		}
		changed = changed || to != l.MediaType
		layers = append(layers, v1.Descriptor{MediaType: to, Size: l.Size, Digest: l.Digest})
	}
	if !changed {
		return img, nil
	}

	out := &v1.Manifest{
		SchemaVersion: 2,
		MediaType:     types.DockerManifestSchema2,
		Config:        v1.Descriptor{MediaType: types.DockerConfigJSON, Size: m.Config.Size, Digest: m.Config.Digest},
		Layers:        layers,
	}
	outRaw, err := json.Marshal(out)
	if err != nil {
		return nil, fmt.Errorf("encoding docker manifest: %w", err)
	}
	d, _, err := v1.SHA256(bytes.NewReader(outRaw))
	if err != nil {
		return nil, fmt.Errorf("hashing docker manifest: %w", err)
	}
	return &herokuImage{src: img, raw: outRaw, manifest: out, digest: d, config: cfg}, nil
}

// herokuLayerType maps a layer to the Docker media type Heroku accepts, or
// says why there is none.
func herokuLayerType(l v1.Descriptor) (types.MediaType, error) {
	if l.Digest.Algorithm == "" || l.Size < 0 {
		return "", fmt.Errorf("invalid descriptor (size %d)", l.Size)
	}
	switch l.MediaType {
	case types.DockerLayer, types.OCILayer:
		if len(l.URLs) > 0 {
			return "", errors.New("the layer is fetched from external URLs, which registry.heroku.com does not do")
		}
		return types.DockerLayer, nil
	case types.DockerUncompressedLayer, types.OCIUncompressedLayer:
		if len(l.URLs) > 0 {
			return "", errors.New("the layer is fetched from external URLs, which registry.heroku.com does not do")
		}
		return types.DockerUncompressedLayer, nil
	case types.OCILayerZStd:
		return "", errors.New("zstd-compressed layers are not accepted (heroku takes gzip or plain tar layers, and recompressing would change the digests); rebuild the image with gzip compression")
	case types.DockerForeignLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer:
		return "", fmt.Errorf("non-distributable (foreign) layer %s: its bytes live outside the registry and registry.heroku.com does not fetch them", l.MediaType)
	default:
		return "", fmt.Errorf("unknown layer media type %q", l.MediaType)
	}
}

// herokuImage is a source image behind a rewritten Docker manifest. Blobs
// come from the source unchanged; only their declared media types differ.
type herokuImage struct {
	src      v1.Image
	raw      []byte
	manifest *v1.Manifest
	digest   v1.Hash
	config   []byte
}

var _ v1.Image = (*herokuImage)(nil)

func (i *herokuImage) MediaType() (types.MediaType, error) { return types.DockerManifestSchema2, nil }
func (i *herokuImage) Size() (int64, error)                { return int64(len(i.raw)), nil }
func (i *herokuImage) Digest() (v1.Hash, error)            { return i.digest, nil }
func (i *herokuImage) RawManifest() ([]byte, error)        { return i.raw, nil }
func (i *herokuImage) Manifest() (*v1.Manifest, error)     { return i.manifest.DeepCopy(), nil }
func (i *herokuImage) ConfigName() (v1.Hash, error)        { return i.manifest.Config.Digest, nil }
func (i *herokuImage) RawConfigFile() ([]byte, error)      { return i.config, nil }

func (i *herokuImage) ConfigFile() (*v1.ConfigFile, error) {
	return v1.ParseConfigFile(bytes.NewReader(i.config))
}

func (i *herokuImage) Layers() ([]v1.Layer, error) {
	ls := make([]v1.Layer, 0, len(i.manifest.Layers))
	for _, d := range i.manifest.Layers {
		l, err := i.layer(d)
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	return ls, nil
}

func (i *herokuImage) LayerByDigest(h v1.Hash) (v1.Layer, error) {
	if h == i.manifest.Config.Digest {
		return i.ConfigLayer()
	}
	for _, d := range i.manifest.Layers {
		if d.Digest == h {
			return i.layer(d)
		}
	}
	return nil, fmt.Errorf("no layer %s in image %s", h, i.digest)
}

func (i *herokuImage) LayerByDiffID(h v1.Hash) (v1.Layer, error) {
	d, err := partial.DiffIDToBlob(i, h)
	if err != nil {
		return nil, err
	}
	return i.LayerByDigest(d)
}

// ConfigLayer is the source's config blob (mountable when the source is
// remote), declared as a Docker config.
func (i *herokuImage) ConfigLayer() (v1.Layer, error) {
	l, err := partial.ConfigLayer(i.src)
	if err != nil {
		return nil, err
	}
	return retype(l, types.DockerConfigJSON), nil
}

func (i *herokuImage) layer(d v1.Descriptor) (v1.Layer, error) {
	l, err := i.src.LayerByDigest(d.Digest)
	if err != nil {
		return nil, err
	}
	return retype(l, d.MediaType), nil
}

// retype changes a layer's declared media type, keeping a remote layer
// mountable from its source repository.
func retype(l v1.Layer, mt types.MediaType) v1.Layer {
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: typedLayer{ml.Layer, mt}, Reference: ml.Reference}
	}
	return typedLayer{l, mt}
}

type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
