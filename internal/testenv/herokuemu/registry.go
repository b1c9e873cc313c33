package herokuemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// RegistryRealm is the realm of the Basic challenge the registry sends.
const RegistryRealm = "registry.heroku.com"

func discardLogger() *log.Logger { return log.New(io.Discard, "", 0) }

// blobStore keeps blob contents once and links them into repositories, as
// a distribution registry does: a blob is visible in a repository only
// after it was uploaded there or mounted into it.
type blobStore struct {
	mu    sync.Mutex
	data  map[v1.Hash][]byte
	links map[string]map[v1.Hash]bool
}

func newBlobStore() *blobStore {
	return &blobStore{data: map[v1.Hash][]byte{}, links: map[string]map[v1.Hash]bool{}}
}

func (b *blobStore) has(repo string, h v1.Hash) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.links[repo][h]
}

func (b *blobStore) link(repo string, h v1.Hash) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.links[repo] == nil {
		b.links[repo] = map[v1.Hash]bool{}
	}
	b.links[repo][h] = true
}

func (b *blobStore) bytes(repo string, h v1.Hash) ([]byte, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.links[repo][h] {
		return nil, false
	}
	d, ok := b.data[h]
	return d, ok
}

func (b *blobStore) Stat(_ context.Context, repo string, h v1.Hash) (int64, error) {
	d, ok := b.bytes(repo, h)
	if !ok {
		return 0, registry.ErrNotFound
	}
	return int64(len(d)), nil
}

func (b *blobStore) Get(_ context.Context, repo string, h v1.Hash) (io.ReadCloser, error) {
	d, ok := b.bytes(repo, h)
	if !ok {
		return nil, registry.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(d)), nil
}

func (b *blobStore) Put(_ context.Context, repo string, h v1.Hash, rc io.ReadCloser) error {
	defer rc.Close()
	d, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	// pkg/registry names the repository of a finished chunked upload
	// (PUT /v2/APP/PROCESS/blobs/uploads/ID) "APP/PROCESS/blobs".
	if r, ok := strings.CutSuffix(repo, "/blobs"); ok && strings.Count(repo, "/") == 2 {
		repo = r
	}
	b.mu.Lock()
	b.data[h] = d
	b.mu.Unlock()
	b.link(repo, h)
	return nil
}

func writeRegistryError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", fmt.Sprintf("Basic realm=%q", RegistryRealm))
	}
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "detail": nil}}})
}

func unauthorized(w http.ResponseWriter) {
	writeRegistryError(w, http.StatusUnauthorized, "UNAUTHORIZED", "authentication required")
}

// registryKey returns the key of a request authenticated as "_" with an
// API key as the password.
func (e *Emulator) registryKey(r *http.Request) (*key, string) {
	user, pass, ok := basicKey(r.Header.Get("Authorization"))
	if !ok || user != "_" {
		return nil, ""
	}
	return e.lookupKey(pass), pass
}

// repoApp returns the app of repository "APP/PROCESS" when the key may use
// it.
func (e *Emulator) repoApp(k *key, repo string) *app {
	parts := strings.Split(repo, "/")
	if len(parts) != 2 || !processType.MatchString(parts[1]) {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[parts[0]]
	if !ok || (!k.all && !k.apps[a.name]) {
		return nil
	}
	return a
}

// splitRegistryPath splits "/v2/NAME/KIND/REST" into NAME, KIND and REST.
func splitRegistryPath(p string) (name, kind, rest string, ok bool) {
	p, found := strings.CutPrefix(p, "/v2/")
	if !found {
		return "", "", "", false
	}
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.LastIndex(p, k); i > 0 {
			return p[:i], strings.Trim(k, "/"), p[i+len(k):], true
		}
	}
	return "", "", "", false
}

func (e *Emulator) serveRegistry(w http.ResponseWriter, r *http.Request) {
	rec := &images.StatusRecorder{ResponseWriter: w}
	k, pass := e.registryKey(r)
	seed := k != nil && pass == e.seedKey
	at := time.Now()
	defer func() { e.record("registry", r, at, rec.Status, seed) }()
	if f := e.takeFault(r.Method, r.URL.Path); f != nil {
		if f.Apply {
			e.routeRegistry(httptest.NewRecorder(), r, k)
		}
		e.writeFault(rec, r, f, false)
		return
	}
	e.routeRegistry(rec, r, k)
}

func (e *Emulator) routeRegistry(w http.ResponseWriter, r *http.Request, k *key) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	if k == nil {
		unauthorized(w)
		return
	}
	if r.URL.Path == "/v2/" || r.URL.Path == "/v2" {
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, "{}")
		return
	}
	repo, kind, rest, ok := splitRegistryPath(r.URL.Path)
	if !ok {
		writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		return
	}
	a := e.repoApp(k, repo)
	if a == nil {
		unauthorized(w)
		return
	}
	switch {
	case kind == "manifests" && r.Method == http.MethodPut:
		e.putManifest(w, r, a, repo)
		return
	case kind == "manifests" && r.Method == http.MethodDelete, kind == "blobs" && r.Method == http.MethodDelete:
		writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		return
	case kind == "blobs" && r.Method == http.MethodPost && strings.TrimSuffix(rest, "/") == "uploads":
		q := r.URL.Query()
		if mount, from := q.Get("mount"), q.Get("from"); mount != "" {
			h, err := v1.NewHash(mount)
			if err == nil && from != "" && e.repoApp(k, from) != nil && e.blobs.has(from, h) {
				e.blobs.link(repo, h)
				w.Header().Set("Location", "/v2/"+repo+"/blobs/"+h.String())
				w.Header().Set("Docker-Content-Digest", h.String())
				w.WriteHeader(http.StatusCreated)
				return
			}
			// Not mountable from there: start a plain upload.
			q.Del("mount")
			q.Del("from")
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		}
	}
	e.reg.ServeHTTP(w, r)
}

// putManifest accepts only single-platform Docker v2 schema 2 manifests
// whose blobs are in the repository, and records what was pushed.
func (e *Emulator) putManifest(w http.ResponseWriter, r *http.Request, a *app, repo string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
	if err != nil {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return
	}
	ct := r.Header.Get("Content-Type")
	if types.MediaType(ct) != types.DockerManifestSchema2 {
		// Indexes, manifest lists, OCI manifests and schema 1 alike:
		// registry.heroku.com answers UNSUPPORTED (HTTP 405).
		writeRegistryError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "The operation is unsupported.")
		return
	}
	var m v1.Manifest
	if err := json.Unmarshal(body, &m); err != nil || m.SchemaVersion != 2 ||
		(m.MediaType != "" && m.MediaType != types.DockerManifestSchema2) {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid")
		return
	}
	if m.Config.MediaType != types.DockerConfigJSON {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", fmt.Sprintf("manifest invalid: config media type %q", m.Config.MediaType))
		return
	}
	for _, l := range m.Layers {
		switch l.MediaType {
		case types.DockerLayer, types.DockerForeignLayer, types.DockerUncompressedLayer:
		default:
			writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", fmt.Sprintf("manifest invalid: layer media type %q", l.MediaType))
			return
		}
		if l.MediaType != types.DockerForeignLayer && !e.blobs.has(repo, l.Digest) {
			writeRegistryError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry: "+l.Digest.String())
			return
		}
	}
	cfgBytes, ok := e.blobs.bytes(repo, m.Config.Digest)
	if !ok {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_BLOB_UNKNOWN", "blob unknown to registry: "+m.Config.Digest.String())
		return
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(cfgBytes))
	if err != nil {
		writeRegistryError(w, http.StatusBadRequest, "MANIFEST_INVALID", "manifest invalid: config: "+err.Error())
		return
	}
	r2 := r.Clone(r.Context())
	r2.Body = io.NopCloser(bytes.NewReader(body))
	r2.ContentLength = int64(len(body))
	rec := &images.StatusRecorder{ResponseWriter: w}
	e.reg.ServeHTTP(rec, r2)
	if rec.Status != http.StatusCreated {
		return
	}
	h, _, _ := v1.SHA256(bytes.NewReader(body))
	e.mu.Lock()
	a.pushed[repo] = append(a.pushed[repo], &pushedImage{
		repo: repo, manifestDigest: h.String(), configDigest: m.Config.Digest.String(),
		labels: cfg.Config.Labels, arch: cfg.Architecture, os: cfg.OS,
	})
	e.mu.Unlock()
}

// Pushed returns the image ids (config digests) pushed to APP/PROCESS, in
// push order.
func (e *Emulator) Pushed(appName, process string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return nil
	}
	var out []string
	for _, p := range a.pushed[appName+"/"+process] {
		out = append(out, p.configDigest)
	}
	return out
}
