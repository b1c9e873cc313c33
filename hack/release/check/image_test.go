package check

import (
	"archive/tar"
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

var releasePlatforms = []v1.Platform{{OS: "linux", Architecture: "amd64"}, {OS: "linux", Architecture: "arm64"}}

// file is one file of a stand-in base image.
type file struct {
	path string
	mode int64
	data []byte
}

// pushBase pushes a two-platform stand-in for a base image: one layer of
// files, the config a base of that kind has, and returns it by digest,
// REPO:TAG@sha256:…, the way .ko.yaml and images.sh pin the real ones.
func pushBase(t *testing.T, ref string, files []file, env []string) string {
	t.Helper()
	var adds []mutate.IndexAddendum
	for _, p := range releasePlatforms {
		var buf bytes.Buffer
		tw := tar.NewWriter(&buf)
		for _, f := range files {
			hdr := &tar.Header{Name: strings.TrimPrefix(f.path, "/"), Mode: f.mode, Size: int64(len(f.data)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg}
			if err := tw.WriteHeader(hdr); err != nil {
				t.Fatal(err)
			}
			if _, err := tw.Write(f.data); err != nil {
				t.Fatal(err)
			}
		}
		if err := tw.Close(); err != nil {
			t.Fatal(err)
		}
		b := buf.Bytes()
		layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, tarball.WithMediaType(types.OCILayer))
		if err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON), layer)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cf = cf.DeepCopy()
		cf.OS, cf.Architecture = p.OS, p.Architecture
		cf.Config.Env = env
		if img, err = mutate.ConfigFile(img, cf); err != nil {
			t.Fatal(err)
		}
		plat := p
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &plat}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	d, err := images.PushIndex(context.Background(), ref, idx)
	if err != nil {
		t.Fatal(err)
	}
	return ref + "@" + d.String()
}

// releasedImage is one image index images.sh pushed, read back from the
// registry.
type releasedImage struct {
	ref    string // REPO:TAG@sha256:…
	digest v1.Hash
	index  v1.ImageIndex
}

func readReleased(t *testing.T, ref string) releasedImage {
	t.Helper()
	d, err := name.NewDigest(ref)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	idx, err := remote.Index(d)
	if err != nil {
		t.Fatalf("%s: %v", ref, err)
	}
	h, err := idx.Digest()
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != d.DigestStr() {
		t.Fatalf("%s: the registry serves %s", ref, h)
	}
	return releasedImage{ref: ref, digest: h, index: idx}
}

// platformImage returns the image of the index for a platform.
func (r releasedImage) platformImage(t *testing.T, p v1.Platform) v1.Image {
	t.Helper()
	im, err := r.index.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range im.Manifests {
		if m.Platform != nil && m.Platform.OS == p.OS && m.Platform.Architecture == p.Architecture {
			img, err := r.index.Image(m.Digest)
			if err != nil {
				t.Fatal(err)
			}
			return img
		}
	}
	t.Fatalf("%s has no %s image", r.ref, p)
	return nil
}

// rootfs is an image's file system, flattened from its layers the way a
// runtime does: later layers win, whiteouts delete.
type rootfs map[string]rootfsEntry

type rootfsEntry struct {
	hdr  *tar.Header
	data []byte
}

func flatten(t *testing.T, img v1.Image) rootfs {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	fs := rootfs{}
	for _, l := range layers {
		fs.add(t, l)
	}
	return fs
}

// add lays one layer over the file system.
func (fs rootfs) add(t *testing.T, l v1.Layer) {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := path.Clean("/" + h.Name)
		if fs.whiteout(p) {
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		fs[p] = rootfsEntry{h, b}
	}
}

// whiteout applies p when it is a whiteout — an opaque directory's marker,
// or a deleted file's — and reports whether it was one.
func (fs rootfs) whiteout(p string) bool {
	dir, base := path.Split(p)
	switch {
	case base == ".wh..wh..opq":
		for k := range fs {
			if strings.HasPrefix(k, dir) {
				delete(fs, k)
			}
		}
	case strings.HasPrefix(base, ".wh."):
		gone := path.Join(dir, strings.TrimPrefix(base, ".wh."))
		for k := range fs {
			if k == gone || strings.HasPrefix(k, gone+"/") {
				delete(fs, k)
			}
		}
	default:
		return false
	}
	return true
}

// resolve follows symbolic links inside the image's file system.
func (fs rootfs) resolve(p string) (rootfsEntry, string, error) {
	for range 40 {
		e, ok := fs[p]
		if !ok {
			return rootfsEntry{}, p, fmt.Errorf("%s is not in the image", p)
		}
		switch e.hdr.Typeflag {
		case tar.TypeSymlink:
			target := e.hdr.Linkname
			if !path.IsAbs(target) {
				target = path.Join(path.Dir(p), target)
			}
			p = path.Clean(target)
		case tar.TypeLink:
			p = path.Clean("/" + e.hdr.Linkname)
		default:
			return e, p, nil
		}
	}
	return rootfsEntry{}, p, fmt.Errorf("%s: too many symbolic links", p)
}

// runEntrypoint runs an image's entry point with args on this machine, the
// way a runtime would start it but without one: the executable comes out
// of the image's layers, the environment out of its config. It returns the
// output and the path the executable had in the image.
func runEntrypoint(t *testing.T, img v1.Image, args ...string) (string, string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	argv := append(append(append([]string(nil), cf.Config.Entrypoint...), cf.Config.Cmd...), args...)
	if len(cf.Config.Entrypoint) == 0 {
		t.Fatalf("the image has no entry point (cmd %q)", cf.Config.Cmd)
	}
	fs := flatten(t, img)
	e, at, err := fs.resolve(argv[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.hdr.Mode&0o111 == 0 {
		t.Fatalf("the entry point %s has mode %o: not executable", at, e.hdr.Mode)
	}
	exe := filepath.Join(t.TempDir(), path.Base(at))
	if err := os.WriteFile(exe, e.data, 0o755); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, argv[1:]...)
	cmd.Env = append(cf.Config.Env, "HOME="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %q from the image: %v\n%s", at, argv[1:], err, out)
	}
	return string(out), at
}

// elfMachine returns the architecture of an ELF binary in the image, and
// whether it is static (no program interpreter).
func elfMachine(t *testing.T, data []byte) (elf.Machine, bool) {
	t.Helper()
	f, err := elf.NewFile(bytes.NewReader(data))
	if err != nil {
		t.Fatalf("not an ELF binary: %v", err)
	}
	static := true
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			static = false
		}
	}
	return f.Machine, static
}

var goarchMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

func nativePlatform() v1.Platform { return v1.Platform{OS: "linux", Architecture: runtime.GOARCH} }
