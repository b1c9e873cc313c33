package herokuemu

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// apiError is a Platform API error: the status and the {"id","message"}
// body every Heroku error carries.
type apiError struct {
	Status  int    `json:"-"`
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e *apiError) Error() string { return e.ID + ": " + e.Message }

var (
	errNoVersion = &apiError{http.StatusBadRequest, "missing_version",
		"Please specify a version along with Heroku's API MIME type. For example, `Accept: application/vnd.heroku+json; version=3`."}
	errNoCredentials = &apiError{http.StatusUnauthorized, "unauthorized",
		"There were no credentials in your `Authorization` header. Try `Authorization: Bearer <OAuth access token>` or `Authorization: Basic <base64-encoded email + \":\" + password>`."}
	errBadCredentials = &apiError{http.StatusUnauthorized, "unauthorized", "Invalid credentials provided."}
	errRateLimit      = &apiError{http.StatusTooManyRequests, "rate_limit",
		"Your account reached the API rate limit. Please wait a few minutes before making new requests."}
	errNotFound = &apiError{http.StatusNotFound, "not_found", "The requested API endpoint was not found. Are you using the right HTTP verb (i.e. `GET` vs. `POST`), and did you specify your API version in the `Accept` header?"}
)

func errNoApp() *apiError {
	return &apiError{http.StatusNotFound, "not_found", "Couldn't find that app."}
}

// record appends a request to the log.
func (e *Emulator) record(server string, r *http.Request, at time.Time, status int, seed bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.requests = append(e.requests, Request{Server: server, Method: r.Method, Path: r.URL.Path, Status: status, At: at})
	if seed {
		e.seeds[len(e.requests)-1] = true
	}
	if e.opts.Logf != nil {
		e.opts.Logf("herokuemu %s: %s %s -> %d", server, r.Method, r.URL.Path, status)
	}
}

// apiKey extracts the API key from "Bearer KEY" or Basic auth whose
// password is the key.
func apiKey(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return "", false
	}
	if k, ok := strings.CutPrefix(h, "Bearer "); ok {
		return strings.TrimSpace(k), true
	}
	if _, pw, ok := r.BasicAuth(); ok {
		return pw, true
	}
	return "", true
}

func (e *Emulator) lookupKey(k string) *key {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.keys[k]
}

var acceptRE = regexp.MustCompile(`application/vnd\.heroku\+json;\s*version=3(?:\.([a-z0-9-]+))?`)

// variant returns the Accept variant ("" for plain version 3,
// "docker-releases", ...) and whether a version was given.
func variant(r *http.Request) (string, bool) {
	m := acceptRE.FindStringSubmatch(r.Header.Get("Accept"))
	if m == nil {
		return "", false
	}
	return m[1], true
}

func (e *Emulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	rec := &images.StatusRecorder{ResponseWriter: w}
	k, _ := apiKey(r)
	seed := k != "" && k == e.seedKey
	server := "api"
	if strings.HasPrefix(r.URL.Path, "/streams/") {
		server = "stream"
	}
	at := time.Now()
	defer func() { e.record(server, r, at, rec.Status, seed) }()
	if a, ok := e.formationPatchApp(r); ok && !seed {
		e.mu.Lock()
		if app, ok := e.apps[a]; ok {
			app.patches++
		}
		e.mu.Unlock()
	}
	if f := e.takeFault(r.Method, r.URL.Path); f != nil {
		if f.Apply {
			e.routeAPI(httptest.NewRecorder(), r)
		}
		e.writeFault(rec, r, f, true)
		return
	}
	e.routeAPI(rec, r)
}

func (e *Emulator) formationPatchApp(r *http.Request) (string, bool) {
	if r.Method != http.MethodPatch {
		return "", false
	}
	p := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(p) == 3 && p[0] == "apps" && p[2] == "formation" {
		return p[1], true
	}
	return "", false
}

func (e *Emulator) writeFault(w http.ResponseWriter, r *http.Request, f *Fault, api bool) {
	if f.Delay > 0 {
		select {
		case <-time.After(f.Delay):
		case <-r.Context().Done():
		case <-e.done:
		}
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(f.RetryAfter.Seconds()))))
	}
	if api {
		id := "internal_server_error"
		switch f.Status {
		case http.StatusTooManyRequests:
			id = "rate_limit"
			w.Header().Set("RateLimit-Remaining", "0")
		case http.StatusServiceUnavailable:
			id = "service_unavailable"
		}
		writeJSON(w, f.Status, &apiError{f.Status, id, "Injected fault: " + http.StatusText(f.Status)})
		return
	}
	writeRegistryError(w, f.Status, "UNAVAILABLE", "injected fault: "+http.StatusText(f.Status))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	w.Write(b)
}

func writeErr(w http.ResponseWriter, e *apiError) { writeJSON(w, e.Status, e) }

// routeAPI answers one API request.
func (e *Emulator) routeAPI(w http.ResponseWriter, r *http.Request) {
	if id, ok := strings.CutPrefix(r.URL.Path, "/streams/"); ok {
		e.mu.Lock()
		s := e.streams[id]
		e.mu.Unlock()
		if s == nil || r.Method != http.MethodGet {
			http.Error(w, "stream not found", http.StatusNotFound)
			return
		}
		s.serve(w, r)
		return
	}
	if r.Header.Get("Request-Id") != "" {
		w.Header().Set("Request-Id", r.Header.Get("Request-Id"))
	}
	v, ok := variant(r)
	if !ok {
		writeErr(w, errNoVersion)
		return
	}
	k, present := apiKey(r)
	if !present {
		writeErr(w, errNoCredentials)
		return
	}
	kk := e.lookupKey(k)
	if kk == nil {
		writeErr(w, errBadCredentials)
		return
	}
	if r.URL.Path == "/account/rate-limits" && r.Method == http.MethodGet {
		e.mu.Lock()
		rem := kk.remaining
		e.mu.Unlock()
		if rem < 0 {
			rem = 4500
		}
		writeJSON(w, http.StatusOK, map[string]int{"remaining": rem})
		return
	}
	// Spend a token.
	e.mu.Lock()
	limited := false
	rem := kk.remaining
	if kk.remaining == 0 {
		limited = true
	} else if kk.remaining > 0 {
		kk.remaining--
		rem = kk.remaining
	}
	e.mu.Unlock()
	if rem >= 0 {
		w.Header().Set("RateLimit-Remaining", strconv.Itoa(rem))
	} else {
		w.Header().Set("RateLimit-Remaining", "4500")
	}
	if limited {
		writeErr(w, errRateLimit)
		return
	}

	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/account" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, map[string]any{
			"id": kk.id, "email": kk.email, "name": strings.SplitN(kk.email, "@", 2)[0],
			"allow_tracking": false, "beta": false, "verified": true, "two_factor_authentication": false,
			"created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
			"default_organization": nil, "default_team": nil, "identity_provider": nil,
			"delinquent_at": nil, "last_login": nil, "sms_number": nil, "suspended_at": nil,
		})
		return
	case len(parts) >= 2 && parts[0] == "apps":
		a, apiErr := e.appFor(kk, parts[1])
		if apiErr != nil {
			writeErr(w, apiErr)
			return
		}
		e.routeApp(w, r, a, kk, v, parts[2:])
		return
	}
	writeErr(w, errNotFound)
}

// appFor finds an app by name or id and checks the key may use it.
func (e *Emulator) appFor(k *key, ident string) (*app, *apiError) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[ident]
	if !ok {
		a, ok = e.appsByID[ident]
	}
	if !ok {
		return nil, errNoApp()
	}
	if !k.all && !k.apps[a.name] {
		return nil, &apiError{http.StatusForbidden, "forbidden", fmt.Sprintf("You do not have access to the app %s.", a.name)}
	}
	return a, nil
}

func (e *Emulator) routeApp(w http.ResponseWriter, r *http.Request, a *app, k *key, v string, rest []string) {
	m := r.Method
	switch {
	case len(rest) == 0 && m == http.MethodGet:
		e.mu.Lock()
		body := e.appJSON(a)
		e.mu.Unlock()
		writeJSON(w, http.StatusOK, body)
	case len(rest) == 1 && rest[0] == "releases" && m == http.MethodGet:
		e.listReleases(w, r, a)
	case len(rest) == 1 && rest[0] == "releases" && m == http.MethodPost:
		e.postRelease(w, r, a, k)
	case len(rest) == 2 && rest[0] == "releases" && m == http.MethodGet:
		e.mu.Lock()
		rel := a.findRelease(rest[1])
		var body any
		if rel != nil {
			body = e.releaseJSON(a, rel)
		}
		e.mu.Unlock()
		if rel == nil {
			writeErr(w, &apiError{http.StatusNotFound, "not_found", "Couldn't find that release."})
			return
		}
		writeJSON(w, http.StatusOK, body)
	case len(rest) == 1 && rest[0] == "formation" && m == http.MethodGet:
		e.listFormation(w, r, a)
	case len(rest) == 2 && rest[0] == "formation" && m == http.MethodGet:
		e.mu.Lock()
		f, ok := a.formation[rest[1]]
		var body any
		if ok && rest[1] != "release" {
			body = e.formationJSON(a, rest[1], f)
		}
		e.mu.Unlock()
		if body == nil {
			writeErr(w, &apiError{http.StatusNotFound, "not_found", "Couldn't find that formation."})
			return
		}
		writeJSON(w, http.StatusOK, body)
	case len(rest) == 1 && rest[0] == "formation" && m == http.MethodPatch:
		e.patchFormation(w, r, a, k, v)
	case len(rest) == 1 && rest[0] == "dynos" && m == http.MethodGet:
		e.listDynos(w, r, a)
	case len(rest) == 2 && rest[0] == "dynos" && m == http.MethodGet:
		e.mu.Lock()
		var body any
		for _, d := range a.dynos {
			if d.id == rest[1] || d.name == rest[1] {
				body = dynoJSON(a, d)
			}
		}
		e.mu.Unlock()
		if body == nil {
			writeErr(w, &apiError{http.StatusNotFound, "not_found", "Couldn't find that dyno."})
			return
		}
		writeJSON(w, http.StatusOK, body)
	default:
		writeErr(w, errNotFound)
	}
}

func (a *app) findRelease(ident string) *release {
	for _, r := range a.releases {
		if r.id == ident || strconv.Itoa(r.version) == ident {
			return r
		}
	}
	return nil
}

func ts(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

func (e *Emulator) appJSON(a *app) map[string]any {
	stack := map[string]any{"id": stackID(a.stack), "name": a.stack}
	var releasedAt any
	if !a.releasedAt.IsZero() {
		releasedAt = ts(a.releasedAt)
	}
	return map[string]any{
		"id": a.id, "name": a.name, "stack": stack, "build_stack": stack,
		"web_url": a.webURL, "git_url": "https://git.heroku.com/" + a.name + ".git",
		"generation": generationJSON(a.stack),
		"region":     map[string]any{"id": "59accabd-516d-4f0e-83e6-6e3757701145", "name": "us"},
		"owner":      map[string]any{"id": "00000000-0000-4000-8000-000000000000", "email": "owner@herokuemu.test"},
		"created_at": ts(a.createdAt), "updated_at": ts(a.createdAt), "released_at": releasedAt,
		"maintenance": false, "acm": false, "archived_at": nil, "buildpack_provided_description": nil,
		"internal_routing": nil, "organization": nil, "team": nil, "space": nil,
		"repo_size": nil, "slug_size": nil,
	}
}

// generationJSON is an app's generation: Fir for apps on the cnb stack
// (Cloud Native Buildpacks), Cedar for the others.
func generationJSON(stack string) map[string]any {
	if stack == "cnb" {
		return map[string]any{"id": "7b2e2b8c-1c3a-4b6e-9d4f-4d2a8e6f0c21", "name": "fir"}
	}
	return map[string]any{"id": "d1f9d2c5-2a4f-4c4e-9c6e-7f0e1d9b6a11", "name": "cedar"}
}

func stackID(name string) string {
	sum := 0
	for _, c := range name {
		sum = sum*31 + int(c)
	}
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", uint32(sum), sum&0xffffffffffff)
}

func (e *Emulator) releaseJSON(a *app, r *release) map[string]any {
	var stream any
	if r.stream != nil {
		stream = r.stream.url
	}
	return map[string]any{
		"id": r.id, "version": r.version, "status": r.status, "current": a.current == r,
		"description":           r.description,
		"eligible_for_rollback": r.status == StatusSucceeded,
		"output_stream_url":     stream,
		"addon_plan_names":      []string{},
		// Container releases run images, not slugs; the schema's
		// artifacts are not known to name docker images, so none are
		// listed.
		"artifacts":  []any{},
		"slug":       nil,
		"app":        map[string]any{"id": a.id, "name": a.name},
		"user":       map[string]any{"id": r.userID, "email": r.userEmail},
		"created_at": ts(r.createdAt), "updated_at": ts(r.updatedAt),
	}
}

func (e *Emulator) formationJSON(a *app, t string, f *formation) map[string]any {
	return map[string]any{
		"id": f.id, "type": t, "quantity": f.quantity, "command": "", "size": "Standard-1X",
		"dyno_size":  map[string]any{"id": "e66bd4b0-3b2b-4b1e-8f0f-0e0f2e3c2a10", "name": "Standard-1X"},
		"app":        map[string]any{"id": a.id, "name": a.name},
		"created_at": ts(f.createdAt), "updated_at": ts(f.updatedAt),
	}
}

func dynoJSON(a *app, d *dyno) map[string]any {
	return map[string]any{
		"id": d.id, "name": d.name, "type": d.typ, "state": d.state, "command": "",
		"size": "Standard-1X", "attach_url": nil,
		"release":    map[string]any{"id": d.release.id, "version": d.release.version},
		"app":        map[string]any{"id": a.id, "name": a.name},
		"created_at": ts(d.createdAt), "updated_at": ts(d.updatedAt),
	}
}

func (e *Emulator) listReleases(w http.ResponseWriter, r *http.Request, a *app) {
	rs, err := parseRange(r.Header.Get("Range"), []string{"id", "version"}, e.opts.PageSize)
	if err != nil {
		writeErr(w, &apiError{http.StatusBadRequest, "bad_request", "Invalid Range header: " + err.Error()})
		return
	}
	e.mu.Lock()
	rl := ranged{fields: []string{"id", "version"}, numeric: map[string]bool{"version": true}, n: len(a.releases),
		value: func(i int, f string) string {
			if f == "version" {
				return strconv.Itoa(a.releases[i].version)
			}
			return a.releases[i].id
		}}
	page, status, hdr := rl.apply(rs)
	out := make([]any, 0, len(page))
	for _, i := range page {
		out = append(out, e.releaseJSON(a, a.releases[i]))
	}
	e.mu.Unlock()
	writeList(w, status, hdr, out)
}

func (e *Emulator) listFormation(w http.ResponseWriter, r *http.Request, a *app) {
	rs, err := parseRange(r.Header.Get("Range"), []string{"id", "type"}, e.opts.PageSize)
	if err != nil {
		writeErr(w, &apiError{http.StatusBadRequest, "bad_request", "Invalid Range header: " + err.Error()})
		return
	}
	e.mu.Lock()
	var types []string
	for t := range a.formation {
		if t != "release" {
			types = append(types, t)
		}
	}
	rl := ranged{fields: []string{"id", "type"}, n: len(types), value: func(i int, f string) string {
		if f == "type" {
			return types[i]
		}
		return a.formation[types[i]].id
	}}
	page, status, hdr := rl.apply(rs)
	out := make([]any, 0, len(page))
	for _, i := range page {
		out = append(out, e.formationJSON(a, types[i], a.formation[types[i]]))
	}
	e.mu.Unlock()
	writeList(w, status, hdr, out)
}

func (e *Emulator) listDynos(w http.ResponseWriter, r *http.Request, a *app) {
	rs, err := parseRange(r.Header.Get("Range"), []string{"id", "name"}, e.opts.PageSize)
	if err != nil {
		writeErr(w, &apiError{http.StatusBadRequest, "bad_request", "Invalid Range header: " + err.Error()})
		return
	}
	e.mu.Lock()
	ds := append([]*dyno(nil), a.dynos...)
	rl := ranged{fields: []string{"id", "name"}, n: len(ds), value: func(i int, f string) string {
		if f == "name" {
			return ds[i].name
		}
		return ds[i].id
	}}
	page, status, hdr := rl.apply(rs)
	out := make([]any, 0, len(page))
	for _, i := range page {
		out = append(out, dynoJSON(a, ds[i]))
	}
	e.mu.Unlock()
	writeList(w, status, hdr, out)
}

func writeList(w http.ResponseWriter, status int, hdr http.Header, v []any) {
	for k, vs := range hdr {
		w.Header()[k] = vs
	}
	writeJSON(w, status, v)
}

func readBody(r *http.Request, v any) *apiError {
	b, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return &apiError{http.StatusBadRequest, "bad_request", "Could not read the request body."}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &apiError{http.StatusBadRequest, "bad_request", "Invalid JSON in the request body."}
		}
		return &apiError{http.StatusUnprocessableEntity, "invalid_params", "Invalid params: " + err.Error()}
	}
	return nil
}

func (e *Emulator) patchFormation(w http.ResponseWriter, r *http.Request, a *app, k *key, v string) {
	var body struct {
		Updates []update `json:"updates"`
	}
	if err := readBody(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	if body.Updates == nil {
		writeErr(w, &apiError{http.StatusUnprocessableEntity, "invalid_params", "Missing required params: updates."})
		return
	}
	for _, u := range body.Updates {
		if u.DockerImage != "" && v != "docker-releases" {
			writeErr(w, &apiError{http.StatusUnprocessableEntity, "invalid_params",
				"docker_image is only accepted with `Accept: application/vnd.heroku+json; version=3.docker-releases`."})
			return
		}
	}
	e.mu.Lock()
	_, apiErr := e.dockerReleaseLocked(a, body.Updates, k)
	var out []any
	if apiErr == nil {
		for _, u := range body.Updates {
			if f, ok := a.formation[u.Type]; ok && u.Type != "release" {
				out = append(out, e.formationJSON(a, u.Type, f))
			}
		}
	}
	e.mu.Unlock()
	if apiErr != nil {
		writeErr(w, apiErr)
		return
	}
	if out == nil {
		out = []any{}
	}
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) postRelease(w http.ResponseWriter, r *http.Request, a *app, k *key) {
	var body struct {
		Release     string  `json:"release"`
		Slug        string  `json:"slug"`
		Description *string `json:"description"`
		OCIImage    *string `json:"oci_image"`
	}
	if err := readBody(r, &body); err != nil {
		writeErr(w, err)
		return
	}
	if body.Release != "" && (body.Description != nil || body.Slug != "" || body.OCIImage != nil) {
		// The rollback link's schema has one property, "release".
		writeErr(w, &apiError{http.StatusUnprocessableEntity, "invalid_params", "A rollback accepts only the release param."})
		return
	}
	if body.Release == "" {
		if body.Slug != "" || body.OCIImage != nil {
			writeErr(w, &apiError{http.StatusUnprocessableEntity, "invalid_params", "Couldn't find that slug."})
			return
		}
		writeErr(w, &apiError{http.StatusUnprocessableEntity, "invalid_params", "Missing required params: release."})
		return
	}
	e.mu.Lock()
	var to *release
	for _, rel := range a.releases {
		if rel.id == body.Release {
			to = rel
		}
	}
	var apiErr *apiError
	var out any
	switch {
	case to == nil:
		apiErr = &apiError{http.StatusNotFound, "not_found", "Couldn't find that release."}
	case to.status != StatusSucceeded:
		apiErr = &apiError{http.StatusUnprocessableEntity, "invalid_params", fmt.Sprintf("Release v%d is not eligible for rollback.", to.version)}
	default:
		nr := e.rollbackLocked(a, to, k)
		out = e.releaseJSON(a, nr)
	}
	e.mu.Unlock()
	if apiErr != nil {
		writeErr(w, apiErr)
		return
	}
	writeJSON(w, http.StatusCreated, out)
}

// basicKey decodes "Basic base64(user:pass)" leniently.
func basicKey(h string) (user, pass string, ok bool) {
	enc, found := strings.CutPrefix(h, "Basic ")
	if !found {
		return "", "", false
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(enc))
	if err != nil {
		return "", "", false
	}
	user, pass, ok = strings.Cut(string(b), ":")
	return user, pass, ok
}
