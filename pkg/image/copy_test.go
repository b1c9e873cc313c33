package image_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// fast keeps retry tests quick; Retry-After is still honoured.
var fast = httpx.Policy{Backoff: 5 * time.Millisecond}

// registry starts an in-process registry whose upload bytes are counted on
// the server side, behind the given middlewares (outermost first).
func registry(t *testing.T, wraps ...func(http.Handler) http.Handler) (string, *images.UploadCounter) {
	t.Helper()
	uploads := &images.UploadCounter{}
	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Wrap: images.Chain(append(wraps, uploads.Wrap)...)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host, uploads
}

func build(t *testing.T, spec images.Spec) v1.Image {
	t.Helper()
	img, err := images.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func push(t *testing.T, repo string, img v1.Image) image.Image {
	t.Helper()
	d, err := images.Push(context.Background(), repo+":src", img)
	if err != nil {
		t.Fatal(err)
	}
	return image.Image{Repository: repo, Digest: d}
}

func pushIndex(t *testing.T, repo string, idx v1.ImageIndex) image.Image {
	t.Helper()
	d, err := images.PushIndex(context.Background(), repo+":src", idx)
	if err != nil {
		t.Fatal(err)
	}
	return image.Image{Repository: repo, Digest: d}
}

func tag(t *testing.T, s string) name.Tag {
	t.Helper()
	tg, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tg
}

// blobBytes is the size of img's config plus the layers in which.
func blobBytes(t *testing.T, img v1.Image, which func(i int) bool) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for i, l := range m.Layers {
		if which(i) {
			n += l.Size
		}
	}
	return n
}

func all(int) bool { return true }

func TestCopySkipsAndMounts(t *testing.T) {
	srcHost, srcUploads := registry(t)
	dstHost, dstUploads := registry(t)

	a := build(t, images.Spec{Layers: 8, LayerSize: 20_000, Seed: 1})
	b := build(t, images.Spec{Layers: 8, LayerSize: 20_000, Seed: 2}) // shares layers 2..8 of a
	srcA := push(t, srcHost+"/src/app", a)
	srcB := push(t, srcHost+"/src/app", b)

	steps := []struct {
		name         string
		src          image.Image
		dst          string
		counter      *images.UploadCounter
		wantUploaded int64
		wantSkipped  int
		wantMounted  int
	}{
		{"fresh", srcA, dstHost + "/prod/app:v1", dstUploads, blobBytes(t, a, all), 0, 0},
		{"again", srcA, dstHost + "/prod/app:v1", dstUploads, 0, 9, 0},
		{"again under another tag", srcA, dstHost + "/prod/app:v1-copy", dstUploads, 0, 9, 0},
		{"7 of 8 layers shared", srcB, dstHost + "/prod/app:v2", dstUploads, blobBytes(t, b, func(i int) bool { return i == 7 }), 7, 0},
		{"other repository of the same registry", srcA, srcHost + "/other/app:v1", srcUploads, 0, 0, 9},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			s.counter.Reset()
			res, err := image.Copy(context.Background(), s.src, tag(t, s.dst), image.CopyOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Manifest != s.src.Digest {
				t.Errorf("manifest %s, want the source digest %s", res.Manifest, s.src.Digest)
			}
			if res.Uploaded != s.wantUploaded || res.Skipped != s.wantSkipped || res.Mounted != s.wantMounted {
				t.Errorf("uploaded %d, skipped %d, mounted %d; want %d, %d, %d",
					res.Uploaded, res.Skipped, res.Mounted, s.wantUploaded, s.wantSkipped, s.wantMounted)
			}
			if got := s.counter.Bytes(); got != res.Uploaded {
				t.Errorf("registry received %d bytes, Copy reports %d", got, res.Uploaded)
			}
			if got := s.counter.Mounts(); got != s.wantMounted {
				t.Errorf("registry performed %d mounts, want %d", got, s.wantMounted)
			}
			desc, err := remote.Get(tag(t, s.dst))
			if err != nil {
				t.Fatal(err)
			}
			if desc.Digest != s.src.Digest {
				t.Errorf("destination tag names %s, want %s", desc.Digest, s.src.Digest)
			}
		})
	}
}

func TestCopyIndexUnchanged(t *testing.T) {
	srcHost, _ := registry(t)
	dstHost, _ := registry(t)
	idx, err := images.Index(map[string]images.Spec{"linux/amd64": {Layers: 2, Seed: 1}, "linux/arm64": {Layers: 2, Seed: 50}})
	if err != nil {
		t.Fatal(err)
	}
	src := pushIndex(t, srcHost+"/src/multi", idx)

	res, err := image.Copy(context.Background(), src, tag(t, dstHost+"/prod/multi:v1"), image.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest != src.Digest {
		t.Fatalf("index digest %s, want %s", res.Manifest, src.Digest)
	}
	if res.Skipped != 0 || res.Mounted != 0 || res.Uploaded == 0 {
		t.Errorf("fresh index copy: %+v", res)
	}
	got, err := remote.Index(tag(t, dstHost+"/prod/multi:v1"))
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := got.Digest(); d != src.Digest {
		t.Fatalf("destination index %s, want %s", d, src.Digest)
	}
	im, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 2 {
		t.Fatalf("destination index has %d manifests", len(im.Manifests))
	}
	amd64, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	if cfg, _ := amd64.ConfigName(); im.Manifests[0].Platform.String() != "linux/amd64" || res.Config != cfg {
		t.Errorf("Config %s, want the linux/amd64 config %s", res.Config, cfg)
	}
	for _, d := range im.Manifests {
		if _, err := got.Image(d.Digest); err != nil {
			t.Errorf("child %s missing at the destination: %v", d.Platform, err)
		}
	}

	again, err := image.Copy(context.Background(), src, tag(t, dstHost+"/prod/multi:v1"), image.CopyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if again.Uploaded != 0 || again.Skipped != 6 {
		t.Errorf("second index copy: %+v, want nothing uploaded and 6 blobs skipped", again)
	}
}

// herokuCheck asserts what registry.heroku.com needs and what ferry
// promises: Docker media types, the source's config bytes and layer blobs.
func herokuCheck(t *testing.T, dst name.Tag, res image.CopyResult, want v1.Image) {
	t.Helper()
	got, err := remote.Image(dst)
	if err != nil {
		t.Fatal(err)
	}
	if mt, _ := got.MediaType(); mt != types.DockerManifestSchema2 {
		t.Errorf("manifest media type %s", mt)
	}
	if d, _ := got.Digest(); d != res.Manifest {
		t.Errorf("destination manifest %s, Copy reported %s", d, res.Manifest)
	}
	gm, err := got.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	wm, err := want.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if gm.Config.MediaType != types.DockerConfigJSON {
		t.Errorf("config media type %s", gm.Config.MediaType)
	}
	if gm.Config.Digest != wm.Config.Digest || res.Config != wm.Config.Digest {
		t.Errorf("config digest %s (reported %s), source %s", gm.Config.Digest, res.Config, wm.Config.Digest)
	}
	gc, _ := got.RawConfigFile()
	wc, _ := want.RawConfigFile()
	if !bytes.Equal(gc, wc) {
		t.Error("config bytes differ from the source's")
	}
	if len(gm.Layers) != len(wm.Layers) {
		t.Fatalf("%d layers, source has %d", len(gm.Layers), len(wm.Layers))
	}
	for i := range gm.Layers {
		if gm.Layers[i].Digest != wm.Layers[i].Digest || gm.Layers[i].Size != wm.Layers[i].Size {
			t.Errorf("layer %d is %s, source %s", i, gm.Layers[i].Digest, wm.Layers[i].Digest)
		}
		if gm.Layers[i].MediaType != types.DockerLayer {
			t.Errorf("layer %d media type %s", i, gm.Layers[i].MediaType)
		}
	}
}

func TestCopyHeroku(t *testing.T) {
	srcHost, _ := registry(t)
	dstHost, _ := registry(t)

	amd := images.Spec{Layers: 3, OCI: true, Seed: 10, Labels: map[string]string{"ferry.test/dyno": "up"}}
	arm := images.Spec{Layers: 3, OCI: true, Seed: 20}
	idx, err := images.Index(map[string]images.Spec{"linux/amd64": amd, "linux/arm64": arm})
	if err != nil {
		t.Fatal(err)
	}
	amdImg := build(t, images.Spec{Layers: 3, OCI: true, Seed: 10, Labels: amd.Labels, Platform: &v1.Platform{OS: "linux", Architecture: "amd64"}})
	armImg := build(t, images.Spec{Layers: 3, OCI: true, Seed: 20, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}})
	docker := build(t, images.Spec{Layers: 2, Seed: 30})

	multi := pushIndex(t, srcHost+"/src/multi", idx)
	single := push(t, srcHost+"/src/single", amdImg)
	dockerSrc := push(t, srcHost+"/src/docker", docker)

	tests := []struct {
		name     string
		src      image.Image
		dst      string
		platform v1.Platform
		want     v1.Image
		mounted  int
	}{
		{"oci index picks linux/amd64", multi, dstHost + "/app/web:latest", v1.Platform{}, amdImg, 0},
		{"platform option picks linux/arm64", multi, dstHost + "/app/arm:latest", v1.Platform{OS: "linux", Architecture: "arm64"}, armImg, 0},
		{"single oci image", single, dstHost + "/app/worker:latest", v1.Platform{}, amdImg, 0},
		{"docker image unchanged", dockerSrc, dstHost + "/app/docker:latest", v1.Platform{}, docker, 0},
		{"mounts within one registry", single, srcHost + "/heroku/web:latest", v1.Platform{}, amdImg, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := tag(t, tt.dst)
			res, err := image.Copy(context.Background(), tt.src, dst, image.CopyOptions{DockerV2S2: true, Platform: tt.platform})
			if err != nil {
				t.Fatal(err)
			}
			herokuCheck(t, dst, res, tt.want)
			if res.Mounted != tt.mounted {
				t.Errorf("mounted %d, want %d", res.Mounted, tt.mounted)
			}
			if tt.mounted > 0 && res.Uploaded != 0 {
				t.Errorf("uploaded %d bytes although every blob could be mounted", res.Uploaded)
			}
		})
	}

	// A Docker image that already qualifies keeps its manifest digest.
	res, err := image.Copy(context.Background(), dockerSrc, tag(t, dstHost+"/app/docker:again"), image.CopyOptions{DockerV2S2: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest != dockerSrc.Digest {
		t.Errorf("docker image changed digest: %s, want %s", res.Manifest, dockerSrc.Digest)
	}
}

func TestCopyHerokuErrors(t *testing.T) {
	srcHost, _ := registry(t)
	dstHost, _ := registry(t)

	noAmd, err := images.Index(map[string]images.Spec{"linux/arm64": {}, "linux/s390x": {Seed: 2}})
	if err != nil {
		t.Fatal(err)
	}
	noAmdSrc := pushIndex(t, srcHost+"/src/noamd", noAmd)
	zstd := build(t, images.Spec{Layers: 2, Zstd: true, Seed: 3})
	zstdSrc := push(t, srcHost+"/src/zstd", zstd)
	zm, _ := zstd.Manifest()
	armSrc := push(t, srcHost+"/src/arm", build(t, images.Spec{Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}))

	tests := []struct {
		name     string
		src      image.Image
		wantIs   error
		wantAs   bool // a *PlatformError
		contains []string
	}{
		{"index without the platform", noAmdSrc, nil, true, []string{"linux/amd64", "linux/arm64", "linux/s390x"}},
		{"zstd layer", zstdSrc, image.ErrHerokuIncompatible, false, []string{zm.Layers[0].Digest.String(), "zstd", "gzip"}},
		{"image for another platform", armSrc, nil, true, []string{"linux/amd64", "linux/arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := tag(t, dstHost+"/app/web:latest")
			_, err := image.Copy(context.Background(), tt.src, dst, image.CopyOptions{DockerV2S2: true})
			if err == nil {
				t.Fatal("copy succeeded")
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error %v is not %v", err, tt.wantIs)
			}
			var pe *image.PlatformError
			if tt.wantAs != errors.As(err, &pe) {
				t.Errorf("error %v: PlatformError %v, want %v", err, !tt.wantAs, tt.wantAs)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "copying "+tt.src.Ref()+" to "+dst.String()+": ") {
				t.Errorf("error lacks context: %s", msg)
			}
			for _, s := range tt.contains {
				if !strings.Contains(msg, s) {
					t.Errorf("error %q does not mention %q", msg, s)
				}
			}
			if _, err := remote.Head(dst); err == nil {
				t.Error("something was tagged at the destination")
			}
		})
	}

	// Outside Heroku mode the same zstd image copies fine.
	if _, err := image.Copy(context.Background(), zstdSrc, tag(t, dstHost+"/plain/zstd:v1"), image.CopyOptions{}); err != nil {
		t.Fatalf("plain copy of a zstd image: %v", err)
	}
}

// retryCase is one copy into a registry that fails as fault says.
type retryCase struct {
	name        string
	fault       *images.Fault
	wantErr     bool
	wantFaults  int // when set: exactly this many
	minDuration time.Duration
	maxDuration time.Duration
}

func TestCopyRetries(t *testing.T) {
	tests := []retryCase{
		{
			name:        "429 with Retry-After on uploads",
			fault:       &images.Fault{Match: images.Matching(http.MethodPatch, "/blobs/uploads/"), Times: 2, Status: http.StatusTooManyRequests, RetryAfter: "1"},
			minDuration: 900 * time.Millisecond, // the backoff alone is 5ms
			maxDuration: 10 * time.Second,
		},
		{
			name:        "503 burst on every kind of request",
			fault:       &images.Fault{Times: 4, Status: http.StatusServiceUnavailable},
			maxDuration: 5 * time.Second,
		},
		{
			name:        "503 burst on blob existence checks",
			fault:       &images.Fault{Match: images.Matching(http.MethodHead, "/blobs/"), Times: 3},
			maxDuration: 5 * time.Second,
		},
		{
			name:        "502 on the manifest put",
			fault:       &images.Fault{Match: images.Matching(http.MethodPut, "/manifests/"), Times: 2, Status: http.StatusBadGateway},
			maxDuration: 5 * time.Second,
		},
		{
			name:    "503 that never ends gives up",
			fault:   &images.Fault{Match: images.Matching(http.MethodPatch, "/blobs/uploads/"), Times: 1 << 30, RetryAfter: "1"},
			wantErr: true,
			// Each of the 3 blobs is tried 5 times (the default attempts)
			// by go-containerregistry's upload loop, and each PATCH is
			// sent once: no retry at two levels.
			wantFaults:  15,
			maxDuration: 20 * time.Second,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func (tt retryCase) run(t *testing.T) {
	srcHost, _ := registry(t)
	dstHost, _ := registry(t, tt.fault.Wrap)
	img := build(t, images.Spec{Layers: 2, Seed: 5})
	src := push(t, srcHost+"/src/app", img)

	var mu sync.Mutex
	var logged []string
	logf := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		logged = append(logged, fmt.Sprintf(format, args...))
	}
	start := time.Now()
	res, err := image.Copy(context.Background(), src, tag(t, dstHost+"/prod/app:v1"), image.CopyOptions{Retry: fast, Logf: logf})
	took := time.Since(start)
	if tt.fault.Injected() == 0 {
		t.Fatal("the fault never fired")
	}
	if tt.wantFaults != 0 && tt.fault.Injected() != tt.wantFaults {
		t.Errorf("the fault fired %d times, want %d", tt.fault.Injected(), tt.wantFaults)
	}
	mu.Lock()
	checkRetryLines(t, logged, tt.fault.Injected(), dstHost)
	mu.Unlock()
	if took < tt.minDuration || took > tt.maxDuration {
		t.Errorf("took %v, want between %v and %v", took, tt.minDuration, tt.maxDuration)
	}
	if tt.wantErr {
		if err == nil {
			t.Fatal("copy succeeded against a registry that always fails")
		}
		if !strings.Contains(err.Error(), "503") && !strings.Contains(err.Error(), "UNAVAILABLE") {
			t.Errorf("error does not say what the registry answered: %v", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest != src.Digest {
		t.Errorf("manifest %s, want %s", res.Manifest, src.Digest)
	}
}

// checkRetryLines checks that every failed answer was logged, once,
// naming the request and the retry.
func checkRetryLines(t *testing.T, logged []string, faults int, host string) {
	t.Helper()
	if len(logged) != faults {
		t.Errorf("%d retries logged for %d faults: %q", len(logged), faults, logged)
	}
	for _, l := range logged {
		if !strings.Contains(l, host+"/v2/") || !strings.Contains(l, "retrying") {
			t.Errorf("retry line does not name the request: %q", l)
		}
	}
}

func TestCopyCancel(t *testing.T) {
	srcHost, _ := registry(t)
	hang := &images.Fault{Match: images.Matching(http.MethodPatch, "/blobs/uploads/"), Times: 1 << 30, Delay: time.Minute}
	dstHost, _ := registry(t, hang.Wrap)
	src := push(t, srcHost+"/src/app", build(t, images.Spec{Layers: 2, LayerSize: 1 << 20}))

	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(300*time.Millisecond, cancel)
	start := time.Now()
	_, err := image.Copy(ctx, src, tag(t, dstHost+"/prod/app:v1"), image.CopyOptions{})
	took := time.Since(start)
	if err == nil {
		t.Fatal("copy succeeded although every upload hangs")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error %v is not context.Canceled", err)
	}
	if took > 3*time.Second {
		t.Errorf("copy took %v to notice the cancellation", took)
	}
}

// basicAuth demands user "_" and password key, as registry.heroku.com does.
func basicAuth(key string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if u, p, ok := r.BasicAuth(); !ok || u != "_" || p != key {
				w.Header().Set("WWW-Authenticate", `Basic realm="heroku"`)
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusUnauthorized)
				_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestCopyDestAuth(t *testing.T) {
	const key = "hrku-s3cr3t-api-key"
	srcHost, _ := registry(t)
	dstHost, _ := registry(t, basicAuth(key))
	src := push(t, srcHost+"/src/app", build(t, images.Spec{}))

	tests := []struct {
		name    string
		opt     image.CopyOptions
		wantErr bool
	}{
		{"right key", image.CopyOptions{DestAuth: &authn.Basic{Username: "_", Password: key}}, false},
		{"wrong key", image.CopyOptions{DestAuth: &authn.Basic{Username: "_", Password: key + "-wrong"}}, true},
		{"anonymous", image.CopyOptions{}, true},
		// The destination authenticator overrides a keychain that has no
		// entry for it; the source stays anonymous.
		{"keychain and dest auth", image.CopyOptions{Keychain: authn.NewMultiKeychain(), DestAuth: &authn.Basic{Username: "_", Password: key}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opt.Retry = fast
			_, err := image.Copy(context.Background(), src, tag(t, dstHost+"/app/web:latest"), tt.opt)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
			if err == nil {
				return
			}
			msg := err.Error()
			for _, secret := range []string{key, base64.StdEncoding.EncodeToString([]byte("_:" + key))} {
				if strings.Contains(msg, secret) {
					t.Fatalf("error leaks a credential: %s", msg)
				}
			}
			if !strings.Contains(msg, "UNAUTHORIZED") && !strings.Contains(msg, "401") {
				t.Errorf("error does not say access was denied: %s", msg)
			}
		})
	}
}

// slow holds every request that matches back for d before serving it.
func slow(match func(*http.Request) bool, d time.Duration) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if match(r) {
				time.Sleep(d)
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestCopyProgress(t *testing.T) {
	srcHost, _ := registry(t)
	dstHost, _ := registry(t, slow(images.Matching(http.MethodPut, "/blobs/uploads/"), 150*time.Millisecond))
	img := build(t, images.Spec{Layers: 8, LayerSize: 512 << 10, Seed: 9})
	src := push(t, srcHost+"/src/app", img)

	var (
		mu    sync.Mutex
		calls []image.Progress
		busy  bool
	)
	start := time.Now()
	res, err := image.Copy(context.Background(), src, tag(t, dstHost+"/prod/app:v1"), image.CopyOptions{
		Jobs: 2,
		Progress: func(p image.Progress) {
			mu.Lock()
			if busy {
				t.Error("Progress called concurrently")
			}
			busy = true
			calls = append(calls, p)
			mu.Unlock()
			time.Sleep(time.Millisecond)
			mu.Lock()
			busy = false
			mu.Unlock()
		},
	})
	took := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if len(calls) == 0 {
		t.Fatal("Progress never called")
	}
	last := calls[len(calls)-1]
	if last.Complete != last.Total || last.LayersDone != 8 || last.Layers != 8 {
		t.Errorf("final progress %+v, want everything done over 8 layers", last)
	}
	if min := blobBytes(t, img, all); last.Total < min {
		t.Errorf("total %d is less than the blob bytes %d", last.Total, min)
	}
	if limit := int(took/(200*time.Millisecond)) + 2; len(calls) > limit {
		t.Errorf("%d calls in %v; throttling allows %d", len(calls), took, limit)
	}
	midway := false
	for i, p := range calls {
		if p.Complete > p.Total || p.LayersDone > p.Layers {
			t.Errorf("progress overshoots: %+v", p)
		}
		if i > 0 && p.LayersDone < calls[i-1].LayersDone {
			t.Errorf("layers done went back: %+v after %+v", p, calls[i-1])
		}
		midway = midway || (p.LayersDone > 0 && p.LayersDone < p.Layers && p.Complete > 0 && p.Complete < p.Total)
	}
	if !midway {
		t.Errorf("no report from the middle of the copy: %+v", calls)
	}
	if res.Uploaded == 0 {
		t.Error("nothing uploaded")
	}
}

// tamper answers GET of one tag's manifest with other manifest bytes.
func tamper(path string, raw []byte, mt types.MediaType) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodGet && r.URL.Path == path {
				w.Header().Set("Content-Type", string(mt))
				_, _ = w.Write(raw)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func TestCopyVerifiesDestination(t *testing.T) {
	other := build(t, images.Spec{Seed: 77})
	raw, _ := other.RawManifest()
	srcHost, _ := registry(t)
	dstHost, _ := registry(t, tamper("/v2/prod/app/manifests/v1", raw, types.DockerManifestSchema2))
	src := push(t, srcHost+"/src/app", build(t, images.Spec{Seed: 1}))

	_, err := image.Copy(context.Background(), src, tag(t, dstHost+"/prod/app:v1"), image.CopyOptions{})
	if err == nil || !strings.Contains(err.Error(), "destination tag names") {
		t.Fatalf("err = %v, want the read-back check to fail", err)
	}
}

func TestCopyBadSource(t *testing.T) {
	host, _ := registry(t)
	missing := image.Image{Repository: host + "/src/none", Digest: v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("a", 64)}}
	tests := []struct {
		name string
		src  image.Image
		want string
	}{
		{"not pinned", image.Image{Repository: host + "/src/app"}, "not pinned"},
		{"missing", missing, "reading source"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := image.Copy(context.Background(), tt.src, tag(t, host+"/prod/app:v1"), image.CopyOptions{Retry: fast})
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "copying ") {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

// RemoteOptions give ferry's own registry reads the copy's policy: a burst
// of 503s longer than go-containerregistry's default three attempts is
// ridden out, and each retry is logged.
func TestRemoteOptionsOnReads(t *testing.T) {
	burst := &images.Fault{Match: images.Matching(http.MethodGet, "/blobs/"), Times: 4, Status: http.StatusServiceUnavailable}
	var armed atomic.Bool
	host, _ := registry(t, func(next http.Handler) http.Handler {
		faulty := burst.Wrap(next)
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if armed.Load() {
				faulty.ServeHTTP(w, r)
				return
			}
			next.ServeHTTP(w, r)
		})
	})
	img := build(t, images.Spec{Seed: 9})
	src := push(t, host+"/src/app", img)
	armed.Store(true)
	var mu sync.Mutex
	var lines []string
	opts := image.RemoteOptions(nil, httpx.Policy{Backoff: time.Millisecond}, func(f string, a ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(f, a...))
	})
	ref, err := name.NewDigest(src.Ref())
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(ref, opts...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatalf("reading the config through a burst of 4 503s: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if burst.Injected() != 4 || len(lines) != 4 {
		t.Errorf("%d faults, %d retries logged: %q", burst.Injected(), len(lines), lines)
	}
}

// A registry that serves an oversized manifest, or an image with an absurd
// number of layers, is refused before anything is written, and ferry reads
// only a bounded part of what it serves.
func TestCopyRefusesHugeManifests(t *testing.T) {
	for _, c := range []struct {
		layers int
		want   string
	}{{image.MaxLayers + 1, "layers, more than the 1000 ferry copies"}, {40_000, "larger than the 4 MiB ferry reads"}} {
		t.Run(fmt.Sprint(c.layers), func(t *testing.T) {
			var sent atomic.Int64
			config := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"config":{}}`)
			cfg := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(config))}
			m := v1.Manifest{SchemaVersion: 2, MediaType: types.DockerManifestSchema2,
				Config: v1.Descriptor{MediaType: types.DockerConfigJSON, Size: int64(len(config)), Digest: cfg}}
			for i := range c.layers {
				m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.DockerLayer, Size: 1, Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%064x", i)}})
			}
			raw, err := json.Marshal(m)
			if err != nil {
				t.Fatal(err)
			}
			digest := v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sha256.Sum256(raw))}
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				switch {
				case strings.HasSuffix(r.URL.Path, "/manifests/"+digest.String()):
					w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
					w.Header().Set("Docker-Content-Digest", digest.String())
					n, _ := w.Write(raw)
					sent.Add(int64(n))
				case strings.HasSuffix(r.URL.Path, "/blobs/"+cfg.String()):
					_, _ = w.Write(config)
				case r.URL.Path == "/v2/":
				default:
					http.NotFound(w, r)
				}
			}))
			t.Cleanup(srv.Close)
			dstHost, uploads := registry(t)
			src := image.Image{Repository: strings.TrimPrefix(srv.URL, "http://") + "/evil/app", Digest: digest}
			_, err = image.Copy(context.Background(), src, tag(t, dstHost+"/prod/app:v1"), image.CopyOptions{Retry: fast, DockerV2S2: true})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Copy = %v, want %q", err, c.want)
			}
			if uploads.Bytes() != 0 || uploads.Blobs() != 0 {
				t.Errorf("%d bytes, %d blobs written", uploads.Bytes(), uploads.Blobs())
			}
			// Go's HTTP server may buffer a little past what the client
			// read; the point is that ferry stopped reading.
			if len(raw) > 8*image.MaxManifestBytes && sent.Load() > 2*image.MaxManifestBytes {
				t.Errorf("the registry sent %d bytes of a %d byte manifest", sent.Load(), len(raw))
			}
		})
	}
}
