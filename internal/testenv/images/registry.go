package images

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// RegistryOptions configures [StartRegistryWith].
type RegistryOptions struct {
	// Wrap, when set, wraps the registry handler: count requests, inject
	// faults, demand credentials. It sees every request, mounts included.
	Wrap func(http.Handler) http.Handler
	// Addr is the listen address; empty means 127.0.0.1 on a free port.
	Addr string
	// Log receives one line per request; nil discards them.
	Log io.Writer
	// Referrers serves the OCI 1.1 referrers API; without it a client
	// must use the referrers tag fallback (sha256-<hex>).
	Referrers bool
}

// StartRegistry serves an empty registry on 127.0.0.1 and returns its
// host ("127.0.0.1:PORT", which go-containerregistry reaches over plain
// http) and a function that stops it.
func StartRegistry() (host string, stop func(), err error) {
	return StartRegistryWith(RegistryOptions{})
}

// StartRegistryWith is [StartRegistry] with options.
func StartRegistryWith(opt RegistryOptions) (host string, stop func(), err error) {
	addr := opt.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("starting registry: %w", err)
	}
	logw := opt.Log
	if logw == nil {
		logw = io.Discard
	}
	h := newHandler(logw, opt.Referrers)
	if opt.Wrap != nil {
		h = opt.Wrap(h)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	return strings.TrimPrefix(srv.URL, "http://"), srv.Close, nil
}

// Handler returns the registry StartRegistry serves (per-repository blobs,
// cross-repository mounts), without a listener, for servers that put
// their own authentication in front of it. Each call returns an empty
// registry.
func Handler() http.Handler { return newHandler(io.Discard, false) }

func newHandler(logw io.Writer, referrers bool) http.Handler {
	blobs := newScopedBlobs()
	return blobs.mounts(registry.New(
		registry.Logger(log.New(logw, "registry: ", 0)),
		registry.WithBlobHandler(blobs),
		registry.WithReferrersSupport(referrers),
	))
}

// scopedBlobs stores each blob once but lets a repository see only the
// blobs pushed to it or mounted into it.
type scopedBlobs struct {
	mu    sync.Mutex
	data  map[v1.Hash][]byte
	repos map[string]map[v1.Hash]bool
}

var (
	_ registry.BlobHandler       = (*scopedBlobs)(nil)
	_ registry.BlobStatHandler   = (*scopedBlobs)(nil)
	_ registry.BlobPutHandler    = (*scopedBlobs)(nil)
	_ registry.BlobDeleteHandler = (*scopedBlobs)(nil)
)

func newScopedBlobs() *scopedBlobs {
	return &scopedBlobs{data: map[v1.Hash][]byte{}, repos: map[string]map[v1.Hash]bool{}}
}

// repoKey undoes a quirk of the registry package, which names the
// repository of an upload commit (PUT /v2/R/blobs/uploads/ID) "R/blobs".
func repoKey(repo string) string { return strings.TrimSuffix(repo, "/blobs") }

func (s *scopedBlobs) lookup(repo string, h v1.Hash) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repos[repoKey(repo)][h] {
		return nil, registry.ErrNotFound
	}
	b, ok := s.data[h]
	if !ok {
		return nil, registry.ErrNotFound
	}
	return b, nil
}

func (s *scopedBlobs) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	b, err := s.lookup(repo, h)
	return int64(len(b)), err
}

func (s *scopedBlobs) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	b, err := s.lookup(repo, h)
	if err != nil {
		return nil, err
	}
	// Stored blobs are never modified, so readers can share them.
	return io.NopCloser(bytes.NewReader(b)), nil
}

func (s *scopedBlobs) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	// rc verifies size and digest as it is read: read it to the end.
	b, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data[h] = b
	s.see(repoKey(repo), h)
	return nil
}

func (s *scopedBlobs) Delete(_ context.Context, repo string, h v1.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repos[repoKey(repo)][h] {
		return registry.ErrNotFound
	}
	delete(s.repos[repoKey(repo)], h)
	return nil
}

func (s *scopedBlobs) see(repo string, h v1.Hash) {
	if s.repos[repo] == nil {
		s.repos[repo] = map[v1.Hash]bool{}
	}
	s.repos[repo][h] = true
}

// mount makes blob h of repository from visible in repository to.
func (s *scopedBlobs) mount(from, to string, h v1.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.repos[from][h] {
		return false
	}
	s.see(to, h)
	return true
}

// mounts answers POST /v2/R/blobs/uploads/?mount=D&from=S with 201 when S
// holds D, and leaves every other request to next (which then starts an
// ordinary upload, as the distribution spec asks).
func (s *scopedBlobs) mounts(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := strings.TrimSuffix(r.URL.Path, "/")
		q := r.URL.Query()
		if r.Method == http.MethodPost && strings.HasPrefix(p, "/v2/") && strings.HasSuffix(p, "/blobs/uploads") &&
			q.Get("mount") != "" && q.Get("from") != "" {
			repo := strings.TrimSuffix(strings.TrimPrefix(p, "/v2/"), "/blobs/uploads")
			if h, err := v1.NewHash(q.Get("mount")); err == nil && s.mount(q.Get("from"), repo, h) {
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+h.String())
				w.Header().Set("Docker-Content-Digest", h.String())
				w.WriteHeader(http.StatusCreated)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}
