package regemu

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// Access is one request a registry answered.
type Access struct {
	Method string
	Path   string
	Repo   string // "" for /v2/ and token endpoints
	// Identity is who the credential stands for ("" anonymous):
	// "AWS:arn:...", "oauth2accesstoken:sa@...", a GitHub login, a Docker
	// Hub user, an Entra object id, a Basic user.
	Identity string
	// Credential names the kind of credential ("ecr", "google",
	// "github", "dockerhub", "acr", "basic", "bearer", "").
	Credential string
	Status     int
}

// AllowFunc decides whether identity may perform action ("pull" or
// "push") on repo.
type AllowFunc func(identity, repo, action string) bool

// auth is one registry's authentication scheme.
type auth interface {
	// hosts lists the host names to route (the registry first).
	hosts() []string
	// token serves the scheme's token endpoints; false if r is not one.
	token(w http.ResponseWriter, r *http.Request) (handled bool, a Access)
	// check authenticates a /v2/ request for repo and action.
	check(r *http.Request, repo, action string) (a Access, deny func(http.ResponseWriter))
}

// Registry is an in-process registry behind one cloud's authentication.
type Registry struct {
	// Host is the registry host name ("ghcr.io").
	Host  string
	inner http.Handler
	auth  auth

	mu     sync.Mutex
	served []Access
}

func newRegistry(host string, a auth) *Registry {
	return &Registry{Host: host, inner: images.Handler(), auth: a}
}

// Install routes the registry's host names on n.
func (g *Registry) Install(n *cloudnet.Net) {
	for _, h := range g.auth.hosts() {
		n.Handle(h, g)
	}
}

// Served returns the requests answered so far.
func (g *Registry) Served() []Access {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.served)
}

// Identities returns the distinct identities that were served a 2xx
// answer for a repository, in first-seen order.
func (g *Registry) Identities() []string {
	var out []string
	for _, a := range g.Served() {
		if a.Repo != "" && a.Status < 300 && !slices.Contains(out, a.Identity) {
			out = append(out, a.Identity)
		}
	}
	return out
}

// Minted returns the registry tokens its token service issued (none for
// Basic and ECR registries, whose clients send their credential on every
// request), so a test can assert that none appears in what a client
// printed.
func (g *Registry) Minted() []string {
	if f, ok := g.auth.(*tokenFlow); ok {
		return f.ts.all()
	}
	return nil
}

// Reset forgets the served requests.
func (g *Registry) Reset() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.served = nil
}

func (g *Registry) record(a Access) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.served = append(g.served, a)
}

// ServeHTTP authenticates, then serves the registry.
func (g *Registry) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rec := &images.StatusRecorder{ResponseWriter: w}
	if ok, a := g.auth.token(rec, r); ok {
		a.Method, a.Path, a.Status = r.Method, r.URL.Path, rec.Status
		g.record(a)
		return
	}
	if !strings.HasPrefix(r.URL.Path, "/v2/") {
		http.NotFound(w, r) // the token host of Docker Hub serves nothing else
		return
	}
	repo, action := repoAction(r)
	a, deny := g.auth.check(r, repo, action)
	a.Method, a.Path, a.Repo = r.Method, r.URL.Path, repo
	if deny != nil {
		deny(rec)
	} else {
		g.inner.ServeHTTP(rec, r)
	}
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	a.Status = rec.Status
	g.record(a)
}

// repoAction reads the repository and the action a /v2/ request needs.
func repoAction(r *http.Request) (string, string) {
	p := strings.TrimPrefix(r.URL.Path, "/v2/")
	if p == r.URL.Path || p == "" {
		return "", "pull"
	}
	for _, sep := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.LastIndex(p, sep); i > 0 {
			p = p[:i]
			break
		}
	}
	action := "pull"
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		action = "push"
	}
	return p, action
}

// Seed writes img to REPO:TAG (or REPO@digest) on the registry, without
// credentials, as test setup.
func (g *Registry) Seed(ctx context.Context, repoRef string, img v1.Image) (v1.Hash, error) {
	return images.Push(ctx, g.Host+"/"+repoRef, img, remote.WithTransport(inProcess{g.inner}))
}

// Ref parses HOST/repoRef.
func (g *Registry) Ref(repoRef string) (name.Reference, error) {
	return name.ParseReference(g.Host + "/" + repoRef)
}

// inProcess sends requests straight to a handler.
type inProcess struct{ h http.Handler }

func (t inProcess) RoundTrip(r *http.Request) (*http.Response, error) {
	rec := httptest.NewRecorder()
	in := r.Clone(r.Context())
	if in.Body == nil {
		in.Body = http.NoBody // a server request always has a body
	}
	// As a server sees it: the path and query only (go-containerregistry's
	// registry puts URL.Host into the name of a monolithic upload's
	// repository), the host in Host.
	in.URL = &url.URL{Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	in.Host = r.URL.Host
	in.RequestURI = r.URL.RequestURI()
	t.h.ServeHTTP(rec, in)
	resp := rec.Result()
	resp.Request = r
	return resp, nil
}

// tokens is a registry token service's memory: opaque token → grant.
type tokens struct {
	mu sync.Mutex
	m  map[string]grant
}

type grant struct {
	identity, credential string
	scopes               map[string][]string // repo → actions
	expires              time.Time
}

func (ts *tokens) issue(g grant) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	tok := base64.RawURLEncoding.EncodeToString(b)
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if ts.m == nil {
		ts.m = map[string]grant{}
	}
	ts.m[tok] = g
	return tok
}

// all returns every token issued.
func (ts *tokens) all() []string {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	out := make([]string, 0, len(ts.m))
	for t := range ts.m {
		out = append(out, t)
	}
	return out
}

func (ts *tokens) lookup(tok string) (grant, bool) {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for t, g := range ts.m {
		if subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1 && time.Now().Before(g.expires) {
			return g, true
		}
	}
	return grant{}, false
}

// parseScopes reads scope=repository:NAME:ACTIONS parameters.
func parseScopes(r *http.Request) map[string][]string {
	out := map[string][]string{}
	for _, s := range r.URL.Query()["scope"] {
		for part := range strings.FieldsSeq(s) {
			f := strings.Split(part, ":")
			if len(f) == 3 && f[0] == "repository" {
				out[f[1]] = append(out[f[1]], strings.Split(f[2], ",")...)
			}
		}
	}
	return out
}

func writeErrors(w http.ResponseWriter, status int, code, msg string, detail any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{{"code": code, "message": msg, "detail": detail}}})
}

func bearerChallenge(realm, service, repo, action string) string {
	c := fmt.Sprintf("Bearer realm=%q,service=%q", realm, service)
	if repo != "" {
		c += fmt.Sprintf(",scope=%q", "repository:"+repo+":"+action)
	}
	return c
}

func allowAll(identity, _, _ string) bool { return identity != "" }

// StartBasic serves Basic(users) over plain http on 127.0.0.1 (a
// loopback registry, as go-containerregistry reaches 127.0.0.1 over http
// and without the proxy); Host is 127.0.0.1:PORT.
func StartBasic(users map[string]string, allow AllowFunc) (*Registry, func(), error) {
	srv := httptest.NewUnstartedServer(nil)
	host := srv.Listener.Addr().String()
	g := Basic(host, users, allow)
	srv.Config.Handler = g
	srv.Start()
	return g, srv.Close, nil
}
