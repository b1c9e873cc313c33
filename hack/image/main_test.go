package main

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// fixture writes a fake ferry binary and CA bundle and returns their
// paths and contents.
type fixture struct {
	binary, ca         string
	binaryData, caData []byte
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	dir := t.TempDir()
	f := fixture{
		binary:     filepath.Join(dir, "ferry"),
		ca:         filepath.Join(dir, "ca.crt"),
		binaryData: []byte("\x7fELF pretend this is ferry"),
		caData:     []byte("-----BEGIN CERTIFICATE-----\npretend\n-----END CERTIFICATE-----\n"),
	}
	if err := os.WriteFile(f.binary, f.binaryData, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.ca, f.caData, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func startRegistry(t *testing.T) string {
	t.Helper()
	host, stop, err := images.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host
}

// runImage runs the command and fails the test unless it exits 0.
func runImage(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	// An empty docker config: the machine's credentials stay out of it.
	environ := []string{"DOCKER_CONFIG=" + t.TempDir()}
	if code := run(context.Background(), args, environ, &out, &errb); code != 0 {
		t.Fatalf("image %s: exit %d\n%s%s", strings.Join(args, " "), code, out.String(), errb.String())
	}
	return out.String()
}

// layerFiles reads a layer's tar: path → header and content.
type entry struct {
	hdr  *tar.Header
	data []byte
}

func layerFiles(t *testing.T, l v1.Layer) map[string]entry {
	t.Helper()
	rc, err := l.Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := map[string]entry{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out["/"+strings.TrimSuffix(h.Name, "/")] = entry{h, b}
	}
}

// checkFerryLayer asserts what the layer ferry adds holds.
func checkFerryLayer(t *testing.T, l v1.Layer, f fixture, epoch time.Time) {
	t.Helper()
	files := layerFiles(t, l)
	var names []string
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	want := []string{"/etc", "/etc/ssl", "/etc/ssl/certs", caPath, binaryPath}
	sort.Strings(want)
	if !reflect.DeepEqual(names, want) {
		t.Fatalf("layer holds %v, want %v", names, want)
	}
	for _, c := range []struct {
		path string
		mode int64
		data []byte
	}{
		{binaryPath, 0o755, f.binaryData},
		{caPath, 0o644, f.caData},
		{"/etc/ssl/certs", 0o755, nil},
	} {
		e := files[c.path]
		if e.hdr.Mode != c.mode || e.hdr.Uid != 0 || e.hdr.Gid != 0 || !e.hdr.ModTime.Equal(epoch) {
			t.Errorf("%s: mode %o uid %d gid %d mtime %s, want %o 0 0 %s", c.path, e.hdr.Mode, e.hdr.Uid, e.hdr.Gid, e.hdr.ModTime, c.mode, epoch)
		}
		if c.data != nil && !bytes.Equal(e.data, c.data) {
			t.Errorf("%s: content %q, want %q", c.path, e.data, c.data)
		}
	}
}

func TestScratchIndexPushedToEveryTag(t *testing.T) {
	f := newFixture(t)
	host := startRegistry(t)
	out := runImage(t,
		"-binary", "linux/amd64="+f.binary, "-binary", "linux/arm64="+f.binary,
		"-ca-certs", f.ca, "-version", "v1.2.3", "-epoch", "1700000000",
		"-tag", host+"/ferry-dev/ferry:v1.2.3", "-tag", host+"/ferry-dev/ferry:v1",
	)
	epoch := time.Unix(1700000000, 0).UTC()

	var digests []v1.Hash
	for _, tag := range []string{"v1.2.3", "v1"} {
		idx, err := remote.Index(mustRef(t, host+"/ferry-dev/ferry:"+tag))
		if err != nil {
			t.Fatalf("%s: %v", tag, err)
		}
		d, err := idx.Digest()
		if err != nil {
			t.Fatal(err)
		}
		digests = append(digests, d)
	}
	if digests[0] != digests[1] {
		t.Fatalf("the tags name different indexes: %v", digests)
	}
	if !strings.Contains(out, "pushed "+host+"/ferry-dev/ferry:v1@"+digests[0].String()) {
		t.Errorf("output does not report the push of v1 with its digest:\n%s", out)
	}

	idx, err := remote.Index(mustRef(t, host+"/ferry-dev/ferry:v1.2.3"))
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if im.MediaType != types.OCIImageIndex || !reflect.DeepEqual(im.Annotations, labels("v1.2.3")) {
		t.Errorf("index media type %s annotations %v", im.MediaType, im.Annotations)
	}
	var plats []string
	for _, m := range im.Manifests {
		plats = append(plats, m.Platform.String())
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if got := cf.Platform().String(); got != m.Platform.String() {
			t.Errorf("config platform %s, index says %s", got, m.Platform)
		}
		c := cf.Config
		if !reflect.DeepEqual(c.Entrypoint, []string{"/ferry"}) || c.Cmd != nil || c.User != "" || c.WorkingDir != "" {
			t.Errorf("%s: entrypoint %q cmd %q user %q workdir %q, want [/ferry], none, root, none", m.Platform, c.Entrypoint, c.Cmd, c.User, c.WorkingDir)
		}
		wantEnv := []string{"PATH=" + defaultPath, "SSL_CERT_FILE=" + caPath}
		if !reflect.DeepEqual(c.Env, wantEnv) {
			t.Errorf("%s: env %q, want %q", m.Platform, c.Env, wantEnv)
		}
		if !reflect.DeepEqual(c.Labels, labels("v1.2.3")) || c.Labels["org.opencontainers.image.source"] != "https://github.com/ferry-dev/ferry" {
			t.Errorf("%s: labels %v", m.Platform, c.Labels)
		}
		if !cf.Created.Equal(epoch) {
			t.Errorf("%s: created %s, want %s", m.Platform, cf.Created, epoch)
		}
		layers, err := img.Layers()
		if err != nil {
			t.Fatal(err)
		}
		if len(layers) != 1 {
			t.Fatalf("%s: %d layers, want 1 (scratch + ferry)", m.Platform, len(layers))
		}
		if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
			t.Errorf("%s: layer media type %s", m.Platform, mt)
		}
		checkFerryLayer(t, layers[0], f, epoch)
	}
	sort.Strings(plats)
	if !reflect.DeepEqual(plats, []string{"linux/amd64", "linux/arm64"}) {
		t.Errorf("platforms %v", plats)
	}
}

func TestSameInputsSameDigest(t *testing.T) {
	f := newFixture(t)
	build := func(version string) v1.Hash {
		dir := filepath.Join(t.TempDir(), "layout")
		runImage(t, "-binary", "linux/amd64="+f.binary, "-ca-certs", f.ca, "-version", version, "-oci-layout", dir)
		p, err := layoutIndex(dir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a, b := build("v1"), build("v1")
	if a != b {
		t.Fatalf("two builds of the same inputs differ: %s and %s", a, b)
	}
	if c := build("v2"); c == a {
		t.Fatalf("a different version label gave the same digest %s", c)
	}
}

func layoutIndex(dir string) (v1.Hash, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return v1.Hash{}, err
	}
	im, err := v1.ParseIndexManifest(bytes.NewReader(b))
	if err != nil {
		return v1.Hash{}, err
	}
	return im.Manifests[0].Digest, nil
}

// pushBase pushes a two-platform stand-in for busybox: a shell's PATH, a
// command, a label of its own.
func pushBase(t *testing.T, host string) string {
	t.Helper()
	specs := map[string]images.Spec{}
	for i, p := range []string{"linux/amd64", "linux/arm64"} {
		plat, _ := v1.ParsePlatform(p)
		specs[p] = images.Spec{Seed: int64(10 + i), Platform: plat, Labels: map[string]string{"org.opencontainers.image.title": "busybox", "base.only": "kept"}}
	}
	idx, err := images.Index(specs)
	if err != nil {
		t.Fatal(err)
	}
	// Give each image the config a shell image has.
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	ref := host + "/library/busybox:1.37.0-musl"
	var adds []mutate.IndexAddendum
	for _, m := range im.Manifests {
		img, err := idx.Image(m.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		cfg := cf.Config
		cfg.Env = []string{"PATH=/bin:/usr/bin"}
		cfg.Cmd = []string{"sh"}
		img, err = mutate.Config(img, cfg)
		if err != nil {
			t.Fatal(err)
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: m.Platform}})
	}
	base := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	if _, err := images.PushIndex(context.Background(), ref, base); err != nil {
		t.Fatal(err)
	}
	return ref
}

func TestBaseImageKeepsItsLayersAndShell(t *testing.T) {
	f := newFixture(t)
	host := startRegistry(t)
	base := pushBase(t, host)
	runImage(t, "-binary", "linux/arm64="+f.binary, "-ca-certs", f.ca, "-version", "v1.2.3",
		"-base", base, "-tag", host+"/ferry-dev/ferry:v1.2.3-busybox")

	img, err := remote.Image(mustRef(t, host+"/ferry-dev/ferry:v1.2.3-busybox"))
	if err != nil {
		t.Fatal(err)
	}
	baseImg, err := remote.Image(mustRef(t, base), remote.WithPlatform(v1.Platform{OS: "linux", Architecture: "arm64"}))
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	baseLayers, _ := baseImg.Layers()
	if len(layers) != len(baseLayers)+1 {
		t.Fatalf("%d layers, want the base's %d and ferry's", len(layers), len(baseLayers))
	}
	for i := range baseLayers {
		a, _ := layers[i].Digest()
		b, _ := baseLayers[i].Digest()
		if a != b {
			t.Errorf("layer %d is %s, the base's is %s", i, a, b)
		}
	}
	checkFerryLayer(t, layers[len(layers)-1], f, time.Unix(0, 0).UTC())
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if cf.Architecture != "arm64" || !reflect.DeepEqual(c.Entrypoint, []string{"/ferry"}) || c.Cmd != nil || c.User != "" {
		t.Errorf("arch %s entrypoint %q cmd %q user %q", cf.Architecture, c.Entrypoint, c.Cmd, c.User)
	}
	if want := []string{"PATH=/bin:/usr/bin", "SSL_CERT_FILE=" + caPath}; !reflect.DeepEqual(c.Env, want) {
		t.Errorf("env %q, want the base's PATH and %q", c.Env, want)
	}
	if c.Labels["base.only"] != "kept" || c.Labels["org.opencontainers.image.title"] != "ferry" || c.Labels["org.opencontainers.image.version"] != "v1.2.3" {
		t.Errorf("labels %v: want the base's own kept and ferry's set", c.Labels)
	}
}

func TestBaseWithoutThePlatformFails(t *testing.T) {
	f := newFixture(t)
	host := startRegistry(t)
	plat := &v1.Platform{OS: "linux", Architecture: "amd64"}
	img, err := images.Build(images.Spec{Seed: 3, Platform: plat})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := images.Push(context.Background(), host+"/amd64only:1", img); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"-binary", "linux/arm64=" + f.binary, "-ca-certs", f.ca, "-base", host + "/amd64only:1", "-oci-layout", t.TempDir()}, []string{"DOCKER_CONFIG=" + t.TempDir()}, &out, &errb)
	if code != 1 || !strings.Contains(errb.String(), "linux/amd64, not linux/arm64") {
		t.Fatalf("want exit 1 naming the platform mismatch, got %d: %s", code, errb.String())
	}
}

func TestBadFlags(t *testing.T) {
	f := newFixture(t)
	cases := []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "give at least one -binary"},
		{"no destination", []string{"-binary", "linux/amd64=" + f.binary}, "give -tag or -oci-layout"},
		{"not linux", []string{"-binary", "darwin/arm64=" + f.binary, "-oci-layout", "x"}, "not a linux platform"},
		{"no path", []string{"-binary", "linux/amd64", "-oci-layout", "x"}, "want os/arch=path"},
		{"twice", []string{"-binary", "linux/amd64=a", "-binary", "linux/amd64=b", "-oci-layout", "x"}, "given twice"},
		{"bad tag", []string{"-binary", "linux/amd64=a", "-tag", "UPPER/Case:x"}, "-tag"},
		{"bad epoch", []string{"-binary", "linux/amd64=a", "-oci-layout", "x", "-epoch", "yesterday"}, "not Unix seconds"},
		{"argument", []string{"-binary", "linux/amd64=a", "-oci-layout", "x", "extra"}, "unexpected argument"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), c.args, nil, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
				t.Fatalf("want exit 2 and %q, got %d: %s", c.want, code, errb.String())
			}
		})
	}
}

func TestRegistryCredentialsGoOnlyToTagRegistries(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	kc := keychain([]string{"ghcr.io/ferry-dev/ferry:v1"}, []string{"REGISTRY_USERNAME=bot", "REGISTRY_PASSWORD=s3cret-token"})
	for _, c := range []struct {
		registry string
		want     authn.AuthConfig
	}{
		{"ghcr.io", authn.AuthConfig{Username: "bot", Password: "s3cret-token"}},
		{"index.docker.io", authn.AuthConfig{}},
	} {
		reg, _ := name.NewRegistry(c.registry)
		a, err := kc.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		got, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if *got != c.want {
			t.Errorf("%s: credentials %+v, want %+v", c.registry, *got, c.want)
		}
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
