package herokuemu

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

const (
	shopKey  = "key-shop"
	otherKey = "key-other"
	v3       = "application/vnd.heroku+json; version=3"
	docker   = "application/vnd.heroku+json; version=3.docker-releases"
)

func start(t *testing.T, opts Options) *Emulator {
	t.Helper()
	e, err := New(opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	e.AddKey(shopKey, "shop")
	e.AddKey(otherKey, "other")
	for _, a := range []struct{ name, stack string }{{"shop", "container"}, {"other", "container"}, {"slugs", "heroku-24"}} {
		if _, err := e.CreateApp(a.name, a.stack); err != nil {
			t.Fatalf("CreateApp: %v", err)
		}
	}
	return e
}

// push builds an image from spec and pushes it to APP/PROCESS:latest with
// k, returning its image id.
func push(t *testing.T, e *Emulator, k, app, proc string, spec images.Spec) string {
	t.Helper()
	img, err := images.Build(spec)
	if err != nil {
		t.Fatal(err)
	}
	ref := fmt.Sprintf("%s/%s/%s:latest", e.RegistryHost(), app, proc)
	if _, err := images.Push(context.Background(), ref, img, remote.WithAuth(&authn.Basic{Username: "_", Password: k})); err != nil {
		t.Fatalf("push %s: %v", ref, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		t.Fatal(err)
	}
	return id.String()
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decoding %s: %v", r.body, err)
	}
}

func (r reply) errID(t *testing.T) string {
	t.Helper()
	var e struct{ ID, Message string }
	r.json(t, &e)
	if e.Message == "" {
		t.Errorf("error body %s has no message", r.body)
	}
	return e.ID
}

func call(t *testing.T, e *Emulator, method, path, k, accept string, body any, hdr ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, e.APIURL()+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if k != "" {
		req.Header.Set("Authorization", "Bearer "+k)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func upd(typ, img string) map[string]any {
	return map[string]any{"type": typ, "docker_image": img}
}

func patch(t *testing.T, e *Emulator, k string, ups ...map[string]any) reply {
	t.Helper()
	return call(t, e, http.MethodPatch, "/apps/shop/formation", k, docker, map[string]any{"updates": ups})
}

func TestAPIErrors(t *testing.T) {
	e := start(t, Options{})
	tests := []struct {
		name         string
		method, path string
		key, accept  string
		status       int
		id           string
	}{
		{"no accept", "GET", "/apps/shop", shopKey, "", 400, "missing_version"},
		{"accept without version", "GET", "/apps/shop", shopKey, "application/vnd.heroku+json", 400, "missing_version"},
		{"no credentials", "GET", "/apps/shop", "", v3, 401, "unauthorized"},
		{"unknown key", "GET", "/apps/shop", "nope", v3, 401, "unauthorized"},
		{"no access", "GET", "/apps/other", shopKey, v3, 403, "forbidden"},
		{"unknown app", "GET", "/apps/nosuch", shopKey, v3, 404, "not_found"},
		{"unknown release", "GET", "/apps/shop/releases/42", shopKey, v3, 404, "not_found"},
		{"unknown endpoint", "GET", "/apps/shop/builds", shopKey, v3, 404, "not_found"},
		{"unknown dyno", "GET", "/apps/shop/dynos/web.1", shopKey, v3, 404, "not_found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, e, tt.method, tt.path, tt.key, tt.accept, nil)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.status, r.body)
			}
			if id := r.errID(t); id != tt.id {
				t.Errorf("error id %q, want %q", id, tt.id)
			}
		})
	}
}

func TestAccountAndApp(t *testing.T) {
	e := start(t, Options{})
	r := call(t, e, "GET", "/account", shopKey, v3, nil)
	var acct struct{ Email, ID string }
	r.json(t, &acct)
	if r.status != 200 || acct.Email == "" || acct.ID == "" {
		t.Fatalf("GET /account: %d %s", r.status, r.body)
	}
	for _, tt := range []struct{ app, stack string }{{"shop", "container"}, {"slugs", "heroku-24"}} {
		e.AddKey(shopKey, tt.app)
		r = call(t, e, "GET", "/apps/"+tt.app, shopKey, v3, nil)
		var app struct {
			Name       string
			WebURL     string `json:"web_url"`
			Stack      struct{ Name string }
			BuildStack struct{ Name string } `json:"build_stack"`
		}
		r.json(t, &app)
		if r.status != 200 || app.Name != tt.app || app.Stack.Name != tt.stack || app.BuildStack.Name != tt.stack {
			t.Errorf("GET /apps/%s: %d %s", tt.app, r.status, r.body)
		}
		if !strings.HasPrefix(app.WebURL, "http://127.0.0.1:") || !strings.HasSuffix(app.WebURL, "/") {
			t.Errorf("web_url %q is not a loopback root URL", app.WebURL)
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := start(t, Options{RateLimit: 3})
	for i, want := range []string{"2", "1", "0"} {
		r := call(t, e, "GET", "/apps/shop", shopKey, v3, nil)
		if r.status != 200 || r.header.Get("RateLimit-Remaining") != want {
			t.Fatalf("request %d: %d, RateLimit-Remaining %q, want 200, %q", i, r.status, r.header.Get("RateLimit-Remaining"), want)
		}
	}
	r := call(t, e, "GET", "/apps/shop", shopKey, v3, nil)
	if r.status != 429 || r.errID(t) != "rate_limit" || r.header.Get("RateLimit-Remaining") != "0" {
		t.Fatalf("over budget: %d %v %s", r.status, r.header, r.body)
	}
	// The rate-limits endpoint is free and reports the budget.
	r = call(t, e, "GET", "/account/rate-limits", shopKey, v3, nil)
	if r.status != 200 || string(r.body) != `{"remaining":0}` {
		t.Fatalf("rate-limits: %d %s", r.status, r.body)
	}
	// Other keys have their own budget.
	if r := call(t, e, "GET", "/apps/other", otherKey, v3, nil); r.status != 200 {
		t.Fatalf("other shopKey: %d", r.status)
	}
	e.SetRateLimit(shopKey, 5)
	if r := call(t, e, "GET", "/apps/shop", shopKey, v3, nil); r.status != 200 || r.header.Get("RateLimit-Remaining") != "4" {
		t.Fatalf("after refill: %d %q", r.status, r.header.Get("RateLimit-Remaining"))
	}
}

func TestRegistryAuthAndRepositories(t *testing.T) {
	e := start(t, Options{})
	base := "http://" + e.RegistryHost()
	tests := []struct {
		name       string
		path       string
		user, pass string
		status     int
	}{
		{"ping without credentials", "/v2/", "", "", 401},
		{"ping with a wrong user", "/v2/", "me", shopKey, 401},
		{"ping with a wrong key", "/v2/", "_", "nope", 401},
		{"ping", "/v2/", "_", shopKey, 200},
		{"other app", "/v2/other/web/tags/list", "_", shopKey, 401},
		{"unknown app", "/v2/nosuch/web/tags/list", "_", shopKey, 401},
		{"three components", "/v2/shop/web/x/tags/list", "_", shopKey, 401},
		{"one component", "/v2/shop/tags/list", "_", shopKey, 401},
		{"empty repository", "/v2/shop/web/tags/list", "_", shopKey, 404},
		{"catalog", "/v2/_catalog", "_", shopKey, 405},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", base+tt.path, nil)
			if tt.user != "" || tt.pass != "" {
				req.SetBasicAuth(tt.user, tt.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") != `Basic realm="registry.heroku.com"` {
				t.Errorf("WWW-Authenticate %q", resp.Header.Get("WWW-Authenticate"))
			}
		})
	}
}

func TestRegistryManifestRules(t *testing.T) {
	e := start(t, Options{})
	auth := remote.WithAuth(&authn.Basic{Username: "_", Password: shopKey})
	ref := e.RegistryHost() + "/shop/web:latest"
	ctx := context.Background()

	oci, err := images.Build(images.Spec{OCI: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = images.Push(ctx, ref, oci, auth)
	if err == nil || !strings.Contains(err.Error(), "UNSUPPORTED") {
		t.Fatalf("pushing an OCI manifest: %v, want UNSUPPORTED", err)
	}
	idx, err := images.Index(map[string]images.Spec{"linux/amd64": {Seed: 2}, "linux/arm64": {Seed: 3, Platform: &v1.Platform{OS: "linux", Architecture: "arm64"}}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = images.PushIndex(ctx, ref, idx, auth)
	if err == nil || !strings.Contains(err.Error(), "UNSUPPORTED") {
		t.Fatalf("pushing an index: %v, want UNSUPPORTED", err)
	}
	// Nothing recorded so far... except the index's v2s2 children, which
	// are pushed (by digest) before the index itself.
	before := len(e.Pushed("shop", "web"))

	id := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 4, Labels: map[string]string{"a": "b"}})
	got := e.Pushed("shop", "web")
	if len(got) != before+1 || got[len(got)-1] != id {
		t.Fatalf("Pushed = %v, want it to end with %s", got, id)
	}
	// The registry serves it back as v2s2.
	desc, err := remote.Get(mustTag(t, ref), auth)
	if err != nil || desc.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
		t.Fatalf("reading back: %v %v", desc, err)
	}
	// Deleting is not supported.
	req, _ := http.NewRequest("DELETE", "http://"+e.RegistryHost()+"/v2/shop/web/manifests/"+desc.Digest.String(), nil)
	req.SetBasicAuth("_", shopKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("DELETE manifest: %d, want 405", resp.StatusCode)
	}
}

func TestRegistryBlobsPerRepository(t *testing.T) {
	e := start(t, Options{})
	e.AddKey(shopKey, "other") // shopKey may use both apps now
	img, err := images.Build(images.Spec{Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	push(t, e, shopKey, "shop", "web", images.Spec{Seed: 5})
	layers, _ := img.Layers()
	digest, _ := layers[0].Digest()
	head := func(repo string) int {
		req, _ := http.NewRequest("HEAD", "http://"+e.RegistryHost()+"/v2/"+repo+"/blobs/"+digest.String(), nil)
		req.SetBasicAuth("_", shopKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	mount := func(k, repo, from string) int {
		req, _ := http.NewRequest("POST", "http://"+e.RegistryHost()+"/v2/"+repo+"/blobs/uploads/?mount="+digest.String()+"&from="+from, nil)
		req.SetBasicAuth("_", k)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := head("shop/web"); s != 200 {
		t.Fatalf("HEAD in the pushed repository: %d", s)
	}
	if s := head("shop/worker"); s != 404 {
		t.Fatalf("HEAD in another repository: %d, want 404 (blobs are per repository)", s)
	}
	e.AddKey("key-worker-only", "other")
	if s := mount("key-worker-only", "other/web", "shop/web"); s != 202 {
		t.Fatalf("mount from a repository the shopKey may not use: %d, want 202 (plain upload)", s)
	}
	if s := mount(shopKey, "shop/worker", "shop/web"); s != 201 {
		t.Fatalf("mount: %d, want 201", s)
	}
	if s := head("shop/worker"); s != 200 {
		t.Fatalf("HEAD after mount: %d", s)
	}
}

func mustTag(t *testing.T, s string) name.Tag {
	tag, err := name.NewTag(s)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}

func TestFormationPatch(t *testing.T) {
	e := start(t, Options{BootTime: 20 * time.Millisecond})
	e.AddKey(shopKey, "slugs")
	web := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 10})
	worker := push(t, e, shopKey, "shop", "worker", images.Spec{Seed: 11})
	otherImg := push(t, e, otherKey, "other", "web", images.Spec{Seed: 12})

	tests := []struct {
		name   string
		accept string
		path   string
		body   any
		status int
		id     string
	}{
		{"without the docker-releases variant", v3, "/apps/shop/formation", map[string]any{"updates": []any{upd("web", web)}}, 422, "invalid_params"},
		{"image never pushed", docker, "/apps/shop/formation", map[string]any{"updates": []any{upd("web", "sha256:"+strings.Repeat("a", 64))}}, 422, "invalid_params"},
		{"image of another app", docker, "/apps/shop/formation", map[string]any{"updates": []any{upd("web", otherImg)}}, 422, "invalid_params"},
		{"image of another process type", docker, "/apps/shop/formation", map[string]any{"updates": []any{upd("web", worker)}}, 422, "invalid_params"},
		{"not an image id", docker, "/apps/shop/formation", map[string]any{"updates": []any{upd("web", "latest")}}, 422, "invalid_params"},
		{"missing updates", docker, "/apps/shop/formation", map[string]any{}, 422, "invalid_params"},
		{"unknown property", docker, "/apps/shop/formation", map[string]any{"updates": []any{map[string]any{"type": "web", "docker_image": web, "description": "x"}}}, 422, "invalid_params"},
		{"not a container app", docker, "/apps/slugs/formation", map[string]any{"updates": []any{upd("web", web)}}, 422, "invalid_params"},
		{"bad json", docker, "/apps/shop/formation", "{", 400, "bad_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := patchRaw(t, e, tt.path, tt.accept, tt.body)
			if r.status != tt.status || r.errID(t) != tt.id {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tt.status, tt.id)
			}
		})
	}
	if n := len(e.Releases("shop")); n != 0 {
		t.Fatalf("refused PATCHes created %d releases", n)
	}

	// Bare hex works as well as "sha256:...".
	r := patch(t, e, shopKey, upd("web", web), upd("worker", strings.TrimPrefix(worker, "sha256:")))
	if r.status != 200 {
		t.Fatalf("PATCH: %d %s", r.status, r.body)
	}
	var forms []struct {
		Type     string
		Quantity int
	}
	r.json(t, &forms)
	if len(forms) != 2 || forms[0].Type != "web" || forms[0].Quantity != 1 || forms[1].Type != "worker" || forms[1].Quantity != 0 {
		t.Errorf("PATCH answered %s", r.body)
	}
	rels := e.Releases("shop")
	if len(rels) != 1 {
		t.Fatalf("%d releases, want ONE for both process types", len(rels))
	}
	rel := rels[0]
	wantDesc := fmt.Sprintf("Deployed web (%s), worker (%s)", shortID(web), shortID(worker))
	if rel.Version != 1 || rel.Status != StatusSucceeded || !rel.Current || rel.Description != wantDesc ||
		rel.Images["web"] != web || rel.Images["worker"] != worker || rel.Phase {
		t.Fatalf("release %+v, want v1 succeeded current %q", rel, wantDesc)
	}
	if e.FormationPatches("shop") != 9 {
		t.Errorf("FormationPatches = %d, want 9 (8 refused + 1 accepted to shop)", e.FormationPatches("shop"))
	}

	// The API shows the release, the formation and the dynos.
	var got struct {
		ID, Status, Description string
		Version                 int
		Current                 bool
		Artifacts               []any
		OutputStreamURL         *string `json:"output_stream_url"`
	}
	call(t, e, "GET", "/apps/shop/releases/1", shopKey, v3, nil).json(t, &got)
	if got.ID != rel.ID || got.Status != "succeeded" || !got.Current || got.OutputStreamURL != nil || got.Artifacts == nil {
		t.Errorf("GET release: %+v", got)
	}
	if r := call(t, e, "GET", "/apps/shop/releases/"+rel.ID, shopKey, v3, nil); r.status != 200 {
		t.Errorf("GET release by id: %d", r.status)
	}
	var dynos []struct {
		Name, Type, State string
		Release           struct {
			ID      string
			Version int
		}
	}
	call(t, e, "GET", "/apps/shop/dynos", shopKey, v3, nil).json(t, &dynos)
	if len(dynos) != 1 || dynos[0].Name != "web.1" || dynos[0].State != "starting" || dynos[0].Release.ID != rel.ID {
		t.Fatalf("dynos right after the release: %+v", dynos)
	}
	waitFor(t, "web.1 up", func() bool {
		call(t, e, "GET", "/apps/shop/dynos", shopKey, v3, nil).json(t, &dynos)
		return dynos[0].State == "up"
	})
	var app struct {
		WebURL string `json:"web_url"`
	}
	call(t, e, "GET", "/apps/shop", shopKey, v3, nil).json(t, &app)
	resp, err := http.Get(app.WebURL + "anything/at/all")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(body), shortID(web)) {
		t.Errorf("web: %d %s", resp.StatusCode, body)
	}

	// Scaling works through the API too, and replaces dynos.
	r = call(t, e, "PATCH", "/apps/shop/formation", shopKey, v3, map[string]any{"updates": []any{map[string]any{"type": "worker", "quantity": 2}}})
	if r.status != 200 || len(e.Releases("shop")) != 1 {
		t.Fatalf("scale: %d %s", r.status, r.body)
	}
	if n := len(e.Dynos("shop")); n != 3 {
		t.Errorf("%d dynos after scaling worker to 2, want 3", n)
	}
}

func TestReleasePhase(t *testing.T) {
	e := start(t, Options{ReleasePhase: 400 * time.Millisecond, StreamDelay: 100 * time.Millisecond, BootTime: 10 * time.Millisecond})
	web1 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 20})
	if r := patch(t, e, shopKey, upd("web", web1)); r.status != 200 {
		t.Fatalf("first release: %s", r.body)
	}
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	web2 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 21})
	rel := push(t, e, shopKey, "shop", "release", images.Spec{Seed: 22})
	if r := patch(t, e, shopKey, upd("web", web2), upd("release", rel)); r.status != 200 {
		t.Fatalf("second release: %s", r.body)
	}
	var got struct {
		ID, Status      string
		Current         bool
		OutputStreamURL string `json:"output_stream_url"`
	}
	call(t, e, "GET", "/apps/shop/releases/2", shopKey, v3, nil).json(t, &got)
	if got.Status != "pending" || got.Current || got.OutputStreamURL == "" {
		t.Fatalf("release during the phase: %+v", got)
	}
	if cur := e.Releases("shop")[0]; !cur.Current {
		t.Fatalf("v1 is not current during v2's release phase")
	}
	// 404 until the stream exists.
	resp, err := http.Get(got.OutputStreamURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("stream right away: %d, want 404", resp.StatusCode)
	}
	var stream *http.Response
	waitFor(t, "the output stream", func() bool {
		r, err := http.Get(got.OutputStreamURL)
		if err != nil {
			t.Fatal(err)
		}
		if r.StatusCode == 404 {
			r.Body.Close()
			return false
		}
		stream = r
		return true
	})
	start := time.Now()
	all, err := io.ReadAll(stream.Body)
	stream.Body.Close()
	if err != nil || stream.StatusCode != 200 {
		t.Fatalf("stream: %d %v", stream.StatusCode, err)
	}
	if time.Since(start) < 100*time.Millisecond {
		t.Errorf("the stream ended after %s: it should last until the phase ends", time.Since(start))
	}
	text := string(all)
	if !strings.Contains(text, "Running release command") || !strings.HasSuffix(text, "exited with status 0\n") {
		t.Errorf("stream text %q", text)
	}
	// Resuming from an offset.
	req, _ := http.NewRequest("GET", got.OutputStreamURL, nil)
	req.Header.Set("Range", "bytes=10-")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 206 || string(rest) != text[10:] {
		t.Errorf("resumed stream: %d %q", resp.StatusCode, rest)
	}
	waitFor(t, "v2 current", func() bool { return e.Releases("shop")[1].Current })
	rels := e.Releases("shop")
	if rels[1].Status != StatusSucceeded || rels[0].Current || !rels[1].Phase {
		t.Fatalf("after the phase: %+v", rels)
	}
	// A later release of web alone runs the release image again.
	web3 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 23})
	patch(t, e, shopKey, upd("web", web3))
	if r := e.Releases("shop")[2]; r.Status != StatusPending || r.Images["release"] != rel {
		t.Errorf("v3: %+v", r)
	}
}

func TestReleasePhaseFails(t *testing.T) {
	e := start(t, Options{ReleasePhase: 50 * time.Millisecond, StreamDelay: 10 * time.Millisecond, BootTime: 10 * time.Millisecond})
	web1 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 30})
	patch(t, e, shopKey, upd("web", web1))
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	before := e.Dynos("shop")
	web2 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 31})
	rel := push(t, e, shopKey, "shop", "release", images.Spec{Seed: 32, Labels: map[string]string{LabelRelease: "fail"}})
	patch(t, e, shopKey, upd("web", web2), upd("release", rel))
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	rels := e.Releases("shop")
	if rels[1].Status != StatusFailed || rels[1].Current || !rels[0].Current {
		t.Fatalf("releases after a failed phase: %+v", rels)
	}
	after := e.Dynos("shop")
	if len(after) != 1 || after[0].ID != before[0].ID || after[0].ReleaseVersion != 1 {
		t.Errorf("dynos changed: %+v -> %+v", before, after)
	}
	var got struct {
		Eligible bool `json:"eligible_for_rollback"`
	}
	call(t, e, "GET", "/apps/shop/releases/2", shopKey, v3, nil).json(t, &got)
	if got.Eligible {
		t.Error("a failed release is eligible for rollback")
	}
	resp, err := http.Get(e.Releases("shop")[1].OutputStreamURL)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(text), "exited with status 1") {
		t.Errorf("failed phase output %q", text)
	}
}

func TestDynosAndHealth(t *testing.T) {
	tests := []struct {
		name   string
		labels map[string]string
		arch   string
		state  string
		status int
	}{
		{"healthy", nil, "", DynoUp, 200},
		{"crash", map[string]string{LabelDyno: "crash"}, "", DynoCrashed, 503},
		{"health fail", map[string]string{LabelHealth: "fail"}, "", DynoUp, 503},
		{"wrong architecture", nil, "arm64", DynoCrashed, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := start(t, Options{BootTime: 10 * time.Millisecond})
			spec := images.Spec{Seed: 40, Labels: tt.labels}
			if tt.arch != "" {
				spec.Platform = &v1.Platform{OS: "linux", Architecture: tt.arch}
			}
			id := push(t, e, shopKey, "shop", "web", spec)
			web, err := http.Get(appURL(e))
			if err != nil {
				t.Fatal(err)
			}
			web.Body.Close()
			if web.StatusCode != 503 {
				t.Errorf("web before any release: %d", web.StatusCode)
			}
			if _, err := e.Deploy("shop", map[string]string{"web": id}); err != nil {
				t.Fatal(err)
			}
			if err := e.WaitIdle(context.Background(), "shop"); err != nil {
				t.Fatal(err)
			}
			if d := e.Dynos("shop"); len(d) != 1 || d[0].State != tt.state {
				t.Fatalf("dynos %+v, want one %s", d, tt.state)
			}
			web, err = http.Get(appURL(e) + "healthz")
			if err != nil {
				t.Fatal(err)
			}
			web.Body.Close()
			if web.StatusCode != tt.status {
				t.Errorf("web: %d, want %d", web.StatusCode, tt.status)
			}
		})
	}
}

func appURL(e *Emulator) string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.apps["shop"].webURL
}

func TestRollback(t *testing.T) {
	e := start(t, Options{ReleasePhase: 20 * time.Millisecond, StreamDelay: 5 * time.Millisecond, BootTime: 5 * time.Millisecond})
	web1 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 50})
	patch(t, e, shopKey, upd("web", web1))
	web2 := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 51, Labels: map[string]string{LabelDyno: "crash"}})
	patch(t, e, shopKey, upd("web", web2))
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	v1ID := e.Releases("shop")[0].ID

	tests := []struct {
		name   string
		body   any
		status int
		id     string
	}{
		{"unknown release", map[string]any{"release": "00000000-0000-4000-8000-000000000000"}, 404, "not_found"},
		{"with a description", map[string]any{"release": v1ID, "description": "promoted"}, 422, "invalid_params"},
		{"empty", map[string]any{}, 422, "invalid_params"},
		{"slug", map[string]any{"slug": "x"}, 422, "invalid_params"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := call(t, e, "POST", "/apps/shop/releases", shopKey, v3, tt.body)
			if r.status != tt.status || r.errID(t) != tt.id {
				t.Fatalf("%d %s, want %d %s", r.status, r.body, tt.status, tt.id)
			}
		})
	}
	r := call(t, e, "POST", "/apps/shop/releases", shopKey, v3, map[string]any{"release": v1ID})
	var got struct {
		Version     int
		Description string
	}
	r.json(t, &got)
	if r.status != 201 || got.Version != 3 || got.Description != "Rollback to v1" {
		t.Fatalf("rollback: %d %s", r.status, r.body)
	}
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	rels := e.Releases("shop")
	if len(rels) != 3 || !rels[2].Current || rels[2].Images["web"] != web1 || rels[2].RollbackOf != 1 {
		t.Fatalf("after rollback: %+v", rels)
	}
	if d := e.Dynos("shop"); len(d) != 1 || d[0].State != DynoUp || d[0].ReleaseVersion != 3 {
		t.Errorf("dynos after rollback: %+v", d)
	}

	// A failed release is not eligible; rollbacks run the release phase.
	rel := push(t, e, shopKey, "shop", "release", images.Spec{Seed: 52, Labels: map[string]string{LabelRelease: "fail"}})
	patch(t, e, shopKey, upd("release", rel))
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	failed := e.Releases("shop")[3]
	if failed.Status != StatusFailed {
		t.Fatalf("v4: %+v", failed)
	}
	if r := call(t, e, "POST", "/apps/shop/releases", shopKey, v3, map[string]any{"release": failed.ID}); r.status != 422 {
		t.Errorf("rollback to a failed release: %d %s", r.status, r.body)
	}
	okRel := push(t, e, shopKey, "shop", "release", images.Spec{Seed: 53})
	patch(t, e, shopKey, upd("release", okRel))
	if err := e.WaitIdle(context.Background(), "shop"); err != nil {
		t.Fatal(err)
	}
	r = call(t, e, "POST", "/apps/shop/releases", shopKey, v3, map[string]any{"release": e.Releases("shop")[4].ID})
	if r.status != 201 {
		t.Fatalf("rollback to v5: %d %s", r.status, r.body)
	}
	if last := e.Releases("shop")[5]; !last.Phase || last.Status != StatusPending {
		t.Errorf("a rollback to a release with a release image ran no release phase: %+v", last)
	}
}

func TestReleaseRanges(t *testing.T) {
	e := start(t, Options{})
	id := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 60})
	for range 7 {
		if _, err := e.Deploy("shop", map[string]string{"web": id}); err != nil {
			t.Fatal(err)
		}
	}
	versions := func(r reply) []int { return releaseVersions(t, r) }
	tests := []rangeCase{
		{"", 200, "", ""}, // by id: order unknown, all of them
		{"version ..; max=1, order=desc", 206, "[7]", "version ]7..; max=1, order=desc"},
		{"version ..; max=1,order=desc", 206, "[7]", "version ]7..; max=1, order=desc"},
		{"version ..; max=3", 206, "[1 2 3]", "version ]3..; max=3"},
		{"version ]3..; max=3", 206, "[4 5 6]", "version ]6..; max=3"},
		{"version ]6..; max=3", 200, "[7]", ""},
		{"version ]5..; order=desc, max=10", 200, "[4 3 2 1]", ""},
		{"version 2..4", 200, "[2 3 4]", ""},
		{"version 2..4[", 200, "[2 3]", ""},
		{"version ..; max=10;", 200, "[1 2 3 4 5 6 7]", ""},
		{"id ..; max=2", 206, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.rng, func(t *testing.T) { checkRange(t, e, tt) })
	}
	// Following Next-Range over ids visits every release once.
	seen := map[int]bool{}
	rng := "id ..; max=2"
	for i := 0; rng != ""; i++ {
		if i > 10 {
			t.Fatal("Next-Range does not end")
		}
		r := call(t, e, "GET", "/apps/shop/releases", shopKey, v3, nil, "Range", rng)
		for _, v := range versions(r) {
			if seen[v] {
				t.Fatalf("v%d returned twice", v)
			}
			seen[v] = true
		}
		rng = r.header.Get("Next-Range")
	}
	if len(seen) != 7 {
		t.Errorf("visited %d releases, want 7", len(seen))
	}
	for _, bad := range []string{"name ..", "version ..; max=0", "version ..; order=up", "version 1-2", "version ..; foo=1"} {
		if r := call(t, e, "GET", "/apps/shop/releases", shopKey, v3, nil, "Range", bad); r.status != 400 || r.errID(t) != "bad_request" {
			t.Errorf("Range %q: %d %s", bad, r.status, r.body)
		}
	}
}

func TestFaults(t *testing.T) {
	e := start(t, Options{BootTime: 5 * time.Millisecond})
	e.Inject(Fault{Method: "GET", Path: "/apps/shop", Times: 2, Status: 503, RetryAfter: 1500 * time.Millisecond})
	for i := range 2 {
		r := call(t, e, "GET", "/apps/shop", shopKey, v3, nil)
		if r.status != 503 || r.header.Get("Retry-After") != "2" {
			t.Fatalf("faulted request %d: %d Retry-After %q", i, r.status, r.header.Get("Retry-After"))
		}
	}
	if r := call(t, e, "GET", "/apps/shop", shopKey, v3, nil); r.status != 200 {
		t.Fatalf("after the fault: %d", r.status)
	}
	// A lost response: the PATCH takes effect, the client sees a 500.
	id := push(t, e, shopKey, "shop", "web", images.Spec{Seed: 70})
	e.Inject(Fault{Method: "PATCH", Path: "/apps/*", Status: 500, Apply: true})
	if r := patch(t, e, shopKey, upd("web", id)); r.status != 500 {
		t.Fatalf("faulted PATCH: %d", r.status)
	}
	if n := len(e.Releases("shop")); n != 1 {
		t.Fatalf("%d releases after an applied fault, want 1", n)
	}
	// Registry faults.
	e.Inject(Fault{Method: "GET", Path: "/v2/", Status: 429})
	req, _ := http.NewRequest("GET", "http://"+e.RegistryHost()+"/v2/", nil)
	req.SetBasicAuth("_", shopKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 {
		t.Errorf("registry fault: %d", resp.StatusCode)
	}
}

func TestMutations(t *testing.T) {
	e := start(t, Options{})
	seed := e.SeedKey()
	id := push(t, e, seed, "shop", "web", images.Spec{Seed: 80})
	if _, err := e.Deploy("shop", map[string]string{"web": id}); err != nil {
		t.Fatal(err)
	}
	call(t, e, "GET", "/apps/shop/releases", shopKey, v3, nil)
	call(t, e, "GET", "/apps/shop", "nope", v3, nil)
	if m := e.Mutations(); len(m) != 0 {
		t.Fatalf("mutations after seeding and reading: %+v", m)
	}
	if n := e.FormationPatches("shop"); n != 0 {
		t.Fatalf("FormationPatches = %d", n)
	}
	patch(t, e, "nope", upd("web", id))
	push(t, e, shopKey, "shop", "worker", images.Spec{Seed: 81})
	m := e.Mutations()
	if len(m) < 2 || m[0].Server != "api" || m[0].Method != "PATCH" || m[0].Status != 401 {
		t.Fatalf("mutations: %+v", m)
	}
	var manifests int
	for _, r := range m[1:] {
		if r.Server != "registry" {
			t.Errorf("unexpected mutation %+v", r)
		}
		if r.Method == "PUT" && strings.Contains(r.Path, "/manifests/") {
			manifests++
		}
	}
	if manifests != 1 {
		t.Errorf("%d manifest PUTs recorded, want 1", manifests)
	}
	if n := e.FormationPatches("shop"); n != 1 {
		t.Errorf("FormationPatches = %d, want 1", n)
	}
}

func TestParseRange(t *testing.T) {
	tests := []struct {
		in   string
		want rangeSpec
		err  bool
	}{
		{"", rangeSpec{field: "id", max: 200}, false},
		{"version ..; max=1, order=desc", rangeSpec{field: "version", max: 1, desc: true}, false},
		{"version ]7..; max=5", rangeSpec{field: "version", start: "7", startX: true, max: 5}, false},
		{"version 1..9[", rangeSpec{field: "version", start: "1", end: "9", endX: true, max: 200}, false},
		{"version ..; max=5000", rangeSpec{field: "version", max: 1000}, false},
		{"version", rangeSpec{field: "version", max: 200}, false},
		{"name ..", rangeSpec{}, true},
		{"version ..; max=x", rangeSpec{}, true},
	}
	for _, tt := range tests {
		got, err := parseRange(tt.in, []string{"id", "version"}, 200)
		if (err != nil) != tt.err {
			t.Errorf("parseRange(%q) error %v", tt.in, err)
			continue
		}
		if tt.err {
			continue
		}
		if got != tt.want {
			t.Errorf("parseRange(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}

// DynoChanges and Request.At are what the crash benchmark times a rollback
// by: a dyno leaving starting is recorded with its time, and requests with
// theirs.
func TestDynoChangesAndRequestTimes(t *testing.T) {
	e := start(t, Options{BootTime: 50 * time.Millisecond})
	id := push(t, e, e.SeedKey(), "shop", "web", images.Spec{Seed: 81, Labels: map[string]string{LabelDyno: "crash"}})
	before := time.Now()
	if _, err := e.Deploy("shop", map[string]string{"web": id}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a dyno change", func() bool { return len(e.DynoChanges()) > 0 })
	for _, c := range e.DynoChanges() {
		if c.App != "shop" || c.State != DynoCrashed || c.ReleaseVersion != 1 || c.At.Before(before.Add(50*time.Millisecond)) {
			t.Errorf("change %+v: want shop's dyno crashed in v1, at least BootTime after the deploy", c)
		}
	}
	call(t, e, "GET", "/apps/shop", shopKey, v3, nil)
	reqs := e.Requests()
	last := reqs[len(reqs)-1]
	if last.Path != "/apps/shop" || last.At.Before(before) || last.At.After(time.Now()) {
		t.Errorf("last request %+v: want GET /apps/shop timed between the deploy and now", last)
	}
}

// patchRaw PATCHes path with body: a string is sent as it is (bad JSON),
// anything else through call.
func patchRaw(t *testing.T, e *Emulator, path, accept string, body any) reply {
	t.Helper()
	str, ok := body.(string)
	if !ok {
		return call(t, e, "PATCH", path, shopKey, accept, body)
	}
	req, _ := http.NewRequest("PATCH", e.APIURL()+path, strings.NewReader(str))
	req.Header.Set("Accept", accept)
	req.Header.Set("Authorization", "Bearer "+shopKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return reply{resp.StatusCode, resp.Header, b}
}

// rangeCase is one Range header and what the releases list answers.
type rangeCase struct {
	rng    string
	status int
	want   string
	next   string
}

func checkRange(t *testing.T, e *Emulator, tt rangeCase) {
	t.Helper()
	var hdr []string
	if tt.rng != "" {
		hdr = []string{"Range", tt.rng}
	}
	r := call(t, e, "GET", "/apps/shop/releases", shopKey, v3, nil, hdr...)
	if r.status != tt.status {
		t.Fatalf("status %d, want %d", r.status, tt.status)
	}
	if n := len(releaseVersions(t, r)); tt.rng == "" && n != 7 {
		t.Errorf("%d releases without a Range, want 7", n)
	}
	if got := fmt.Sprint(releaseVersions(t, r)); tt.want != "" && got != tt.want {
		t.Errorf("versions %s, want %s", got, tt.want)
	}
	if got := r.header.Get("Next-Range"); tt.next != "" && got != tt.next {
		t.Errorf("Next-Range %q, want %q", got, tt.next)
	}
	if tt.status == 200 && r.header.Get("Next-Range") != "" {
		t.Errorf("Next-Range %q on a complete answer", r.header.Get("Next-Range"))
	}
	if r.header.Get("Accept-Ranges") != "id, version" {
		t.Errorf("Accept-Ranges %q", r.header.Get("Accept-Ranges"))
	}
}

// releaseVersions are the versions of a releases list.
func releaseVersions(t *testing.T, r reply) []int {
	t.Helper()
	var rels []struct{ Version int }
	r.json(t, &rels)
	var out []int
	for _, x := range rels {
		out = append(out, x.Version)
	}
	return out
}
