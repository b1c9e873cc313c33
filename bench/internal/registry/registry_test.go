package registry

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestProxyCountsUploadsAndMounts runs the proxy in front of the in-process
// test registry (docker-registry itself is installed only by `make bench`).
func TestProxyCountsUploadsAndMounts(t *testing.T) {
	host, stop, err := images.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	p, err := NewProxy(host)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	img, err := images.Build(images.Spec{Layers: 3, LayerSize: 4096, Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := images.Push(ctx, p.Host+"/a/app:v1", img); err != nil {
		t.Fatal(err)
	}
	size := int64(0)
	layers, _ := img.Layers()
	for _, l := range layers {
		n, _ := l.Size()
		size += n
	}
	cfg, _ := img.RawConfigFile()
	if got, want := p.Counter.Bytes(), size+int64(len(cfg)); got != want {
		t.Errorf("uploaded %d bytes through the proxy, want %d (layers and config)", got, want)
	}
	if got := p.Counter.Blobs(); got != 4 {
		t.Errorf("%d blobs committed, want 4", got)
	}

	// A copy inside the registry through the proxy mounts every blob.
	p.Counter.Reset()
	d, _ := img.Digest()
	src, _ := name.NewDigest(p.Host + "/a/app@" + d.String())
	desc, err := remote.Get(src)
	if err != nil {
		t.Fatal(err)
	}
	got, err := desc.Image()
	if err != nil {
		t.Fatal(err)
	}
	dst, _ := name.NewTag(p.Host + "/b/app:v1")
	if err := remote.Write(dst, got); err != nil {
		t.Fatal(err)
	}
	if p.Counter.Bytes() != 0 || p.Counter.Mounts() != 4 {
		t.Errorf("cross-repository copy: %d bytes, %d mounts; want 0 bytes and 4 mounts", p.Counter.Bytes(), p.Counter.Mounts())
	}
}

func TestCloneDir(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if out, err := exec.Command("sh", "-c", "mkdir -p "+src+"/a/b && echo hi > "+src+"/a/b/f").CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	dst := filepath.Join(dir, "x", "dst")
	if err := CloneDir(src, dst); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cat", filepath.Join(dst, "a", "b", "f")).Output(); err != nil || string(out) != "hi\n" {
		t.Fatalf("clone holds %q, %v", out, err)
	}
	if err := CloneDir(src, dst); err == nil {
		t.Error("cloning onto an existing folder succeeded")
	}
}
