package image_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/google/go-containerregistry/pkg/name"
)

// sink is a destination registry that verifies blob digests as they
// stream in and keeps nothing but manifests, so a benchmark measures the
// client's memory rather than the server's. It never has a blob.
type sink struct {
	mu        sync.Mutex
	uploads   map[string]hash.Hash
	manifests map[string][]byte
	next      int
}

func newSink() *sink { return &sink{uploads: map[string]hash.Hash{}, manifests: map[string][]byte{}} }

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p := r.URL.Path
	switch {
	case p == "/v2/" || p == "/v2":
		w.WriteHeader(http.StatusOK)
	case strings.Contains(p, "/blobs/uploads"):
		s.upload(w, r)
	case strings.Contains(p, "/blobs/"):
		w.WriteHeader(http.StatusNotFound)
	case strings.Contains(p, "/manifests/"):
		s.manifest(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func (s *sink) upload(w http.ResponseWriter, r *http.Request) {
	path := r.URL.Path
	repo := strings.TrimPrefix(path[:strings.Index(path, "/blobs/uploads")], "/v2/")
	switch r.Method {
	case http.MethodPost:
		s.mu.Lock()
		s.next++
		id := fmt.Sprint(s.next)
		s.uploads[id] = sha256.New()
		s.mu.Unlock()
		w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
		w.WriteHeader(http.StatusAccepted)
	case http.MethodPatch, http.MethodPut:
		id := path[strings.LastIndex(path, "/")+1:]
		s.mu.Lock()
		h := s.uploads[id]
		s.mu.Unlock()
		if h == nil {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if _, err := io.Copy(h, r.Body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		if r.Method == http.MethodPatch {
			w.Header().Set("Location", "/v2/"+repo+"/blobs/uploads/"+id)
			w.WriteHeader(http.StatusAccepted)
			return
		}
		if want := r.URL.Query().Get("digest"); want != "sha256:"+hex.EncodeToString(h.Sum(nil)) {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		delete(s.uploads, id)
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

func (s *sink) manifest(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodPut:
		b, err := io.ReadAll(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		s.mu.Lock()
		s.manifests[r.URL.Path] = b
		s.manifests[r.URL.Path+"#type"] = []byte(r.Header.Get("Content-Type"))
		s.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	case http.MethodGet, http.MethodHead:
		s.mu.Lock()
		b, ok := s.manifests[r.URL.Path]
		ct := s.manifests[r.URL.Path+"#type"]
		s.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		sum := sha256.Sum256(b)
		w.Header().Set("Content-Type", string(ct))
		w.Header().Set("Docker-Content-Digest", "sha256:"+hex.EncodeToString(sum[:]))
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		if r.Method == http.MethodGet {
			_, _ = w.Write(b)
		}
	default:
		w.WriteHeader(http.StatusMethodNotAllowed)
	}
}

// BenchmarkCopy copies an image of 8 layers from an in-process registry
// into a sink, uploading every byte each time: 64 MiB as the brief asks,
// and 16 MiB beside it. B/op must stay flat across sizes and far below the
// bytes one op moves: layers are streamed, never held in memory.
func BenchmarkCopy(b *testing.B) {
	srcHost, stop, err := images.StartRegistry()
	if err != nil {
		b.Fatal(err)
	}
	defer stop()

	for _, layerSize := range []int64{2 << 20, 8 << 20} {
		b.Run(fmt.Sprintf("8x%dMiB", layerSize>>20), func(b *testing.B) {
			// A sink of its own: with -count, the runs of one size
			// must not find each other's blobs.
			dst := httptest.NewServer(newSink())
			defer dst.Close()
			dstHost := strings.TrimPrefix(dst.URL, "http://")
			img, err := images.Build(images.Spec{Layers: 8, LayerSize: layerSize, Seed: layerSize})
			if err != nil {
				b.Fatal(err)
			}
			d, err := images.Push(context.Background(), srcHost+"/src/app:v1", img)
			if err != nil {
				b.Fatal(err)
			}
			src := image.Image{Repository: srcHost + "/src/app", Digest: d}
			m, err := img.Manifest()
			if err != nil {
				b.Fatal(err)
			}
			size := m.Config.Size
			for _, l := range m.Layers {
				size += l.Size
			}

			b.SetBytes(size)
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				dstTag, err := name.NewTag(fmt.Sprintf("%s/prod/app:%d-%d", dstHost, layerSize, i))
				if err != nil {
					b.Fatal(err)
				}
				res, err := image.Copy(context.Background(), src, dstTag, image.CopyOptions{})
				if err != nil {
					b.Fatal(err)
				}
				if res.Uploaded != size {
					b.Fatalf("uploaded %d bytes, want %d", res.Uploaded, size)
				}
			}
		})
	}
}
