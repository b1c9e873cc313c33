package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// What the image holds and how it starts; the Dockerfile says the same
// (hack/image's tests compare the two).
const (
	binaryPath = "/ferry"
	caPath     = "/etc/ssl/certs/ca-certificates.crt"
	// defaultPath is the PATH docker build gives an image built FROM
	// scratch; set explicitly so both builders agree.
	defaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	source      = "https://github.com/ferry-dev/ferry"
	description = "ferry promotes the exact image staging runs to production, verifies it, and rolls back by itself when production is unhealthy."
)

var entrypoint = []string{binaryPath}

// labels are the image's OCI labels (and the index's annotations).
func labels(version string) map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "ferry",
		"org.opencontainers.image.description": description,
		"org.opencontainers.image.source":      source,
		"org.opencontainers.image.licenses":    "Apache-2.0",
		"org.opencontainers.image.version":     version,
	}
}

// file is one regular file of the layer.
type file struct {
	path string // absolute, in the image
	mode int64
	data []byte
}

// layerTar writes a tar of files and the directories above them, owned by
// root, every time stamp set to epoch, in a stable order.
func layerTar(files []file, epoch time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	seen := map[string]bool{}
	for _, f := range files {
		name := strings.TrimPrefix(path.Clean(f.path), "/")
		var dirs []string
		for d := path.Dir(name); d != "." && !seen[d]; d = path.Dir(d) {
			dirs = append([]string{d}, dirs...)
			seen[d] = true
		}
		for _, d := range dirs {
			if err := tw.WriteHeader(&tar.Header{
				Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch,
				Uname: "root", Gname: "root", Format: tar.FormatPAX,
			}); err != nil {
				return nil, err
			}
		}
		if err := tw.WriteHeader(&tar.Header{
			Typeflag: tar.TypeReg, Name: name, Mode: f.mode, Size: int64(len(f.data)), ModTime: epoch,
			Uname: "root", Gname: "root", Format: tar.FormatPAX,
		}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(f.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ferryLayer is the one layer ferry adds: the binary and the CA bundle.
func ferryLayer(binary, caCerts []byte, epoch time.Time, mt types.MediaType) (v1.Layer, error) {
	b, err := layerTar([]file{
		{path: caPath, mode: 0o644, data: caCerts},
		{path: binaryPath, mode: 0o755, data: binary},
	}, epoch)
	if err != nil {
		return nil, fmt.Errorf("writing the layer: %w", err)
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mt))
}

// imageSpec is one platform's image.
type imageSpec struct {
	platform v1.Platform
	binary   []byte
	caCerts  []byte
	version  string
	epoch    time.Time
	// base is the image to build on; nil means scratch.
	base v1.Image
}

// buildImage puts ferry's layer on the base (or on nothing) and sets the
// config: entrypoint /ferry, no command, user root, PATH and SSL_CERT_FILE,
// labels, platform, creation time.
func buildImage(s imageSpec) (v1.Image, error) {
	img := s.base
	layerType := types.OCILayer
	if img == nil {
		img = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	} else {
		mt, err := img.MediaType()
		if err != nil {
			return nil, fmt.Errorf("reading the base image: %w", err)
		}
		if mt == types.DockerManifestSchema2 {
			layerType = types.DockerLayer
		}
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading the base image's config: %w", err)
		}
		if cf.OS != s.platform.OS || cf.Architecture != s.platform.Architecture {
			return nil, fmt.Errorf("the base image is %s/%s, not %s", cf.OS, cf.Architecture, s.platform)
		}
	}
	layer, err := ferryLayer(s.binary, s.caCerts, s.epoch, layerType)
	if err != nil {
		return nil, err
	}
	img, err = mutate.Append(img, mutate.Addendum{
		Layer: layer,
		History: v1.History{
			Created:   v1.Time{Time: s.epoch},
			CreatedBy: "hack/image: " + binaryPath + " and " + caPath,
			Comment:   "ferry " + s.version,
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = s.platform.OS, s.platform.Architecture
	if s.platform.Variant != "" {
		cf.Variant = s.platform.Variant // else keep the base's (arm64's v8)
	}
	cf.Created = v1.Time{Time: s.epoch}
	c := &cf.Config
	c.Entrypoint = append([]string(nil), entrypoint...)
	c.Cmd = nil
	c.Env = setEnv(c.Env, "PATH", defaultPath, false)
	c.Env = setEnv(c.Env, "SSL_CERT_FILE", caPath, true)
	if c.Labels == nil {
		c.Labels = map[string]string{}
	}
	for k, v := range labels(s.version) {
		c.Labels[k] = v
	}
	// GitHub asks docker actions to run as root (the runner's file-command
	// files and workspace are mounted in); keep the base's user, which for
	// scratch and busybox is root.
	return mutate.ConfigFile(img, cf)
}

// setEnv sets NAME=value in env; an existing NAME is kept unless replace.
func setEnv(env []string, name, value string, replace bool) []string {
	out := make([]string, 0, len(env)+1)
	found := false
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k == name {
			found = true
			if replace {
				kv = name + "=" + value
			}
		}
		out = append(out, kv)
	}
	if !found {
		out = append(out, name+"="+value)
	}
	return out
}

// buildIndex combines per-platform images into an OCI index annotated like
// the images are labelled (GHCR shows an index's annotations).
func buildIndex(imgs []v1.Image, version string) (v1.ImageIndex, error) {
	var adds []mutate.IndexAddendum
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: cf.Platform()},
		})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	return mutate.Annotations(idx, labels(version)).(v1.ImageIndex), nil
}

// compressedSize is the sum of the compressed sizes of img's layers.
func compressedSize(img v1.Image) (int64, error) {
	layers, err := img.Layers()
	if err != nil {
		return 0, err
	}
	var n int64
	for _, l := range layers {
		s, err := l.Size()
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, nil
}
