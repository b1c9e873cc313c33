package heroku

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

func TestDeployedImages(t *testing.T) {
	tests := []struct {
		desc string
		want map[string]string
	}{
		{"Deployed web (142013fe2b5c)", map[string]string{"web": "142013fe2b5c"}},
		{"Deployed web (142013fe2b5c), worker (0a1b2c3d4e5f)", map[string]string{"web": "142013fe2b5c", "worker": "0a1b2c3d4e5f"}},
		{"Deployed release (aaaaaaaaaaaa), web_2 (bbbbbbbbbbbb)", map[string]string{"release": "aaaaaaaaaaaa", "web_2": "bbbbbbbbbbbb"}},
		{"Deploy 7c35f77", nil},
		{"Set FOO config vars", nil},
		{"Rollback to v46", nil},
		{"Deployed web (not-hex)", nil},
		{"", nil},
	}
	for _, tt := range tests {
		got := deployedImages(tt.desc)
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("deployedImages(%q) = %v, want %v", tt.desc, got, tt.want)
		}
	}
}

func TestRolledBackTo(t *testing.T) {
	tests := []struct {
		desc string
		v    int
		ok   bool
	}{
		{"Rollback to v46", 46, true},
		{"Rollback to v1", 1, true},
		{"Rollback to v", 0, false},
		{"Deployed web (142013fe2b5c)", 0, false},
		{"Rollback to v12x", 0, false},
	}
	for _, tt := range tests {
		v, ok := rolledBackTo(tt.desc)
		if v != tt.v || ok != tt.ok {
			t.Errorf("rolledBackTo(%q) = %d, %v", tt.desc, v, ok)
		}
	}
}

func TestDeploys(t *testing.T) {
	id := "sha256:142013fe2b5c" + strings.Repeat("0", 52)
	ups := []formationUpdate{{"web", id}, {"worker", id}}
	tests := []struct {
		desc string
		want bool
	}{
		{"Deployed web (142013fe2b5c), worker (142013fe2b5c)", true},
		{"Deployed worker (142013fe2b5c), web (142013fe2b5c)", true},
		{"Deployed web (142013fe2b5c)", false},
		{"Deployed web (142013fe2b5c), worker (142013fe2b5c), clock (142013fe2b5c)", false},
		{"Deployed web (142013fe2b5d), worker (142013fe2b5c)", false},
		{"Rollback to v3", false},
	}
	for _, tt := range tests {
		if got := deploys(tt.desc, ups); got != tt.want {
			t.Errorf("deploys(%q) = %v", tt.desc, got)
		}
	}
	if sameImage("", id) || sameImage("1420", id) || !sameImage("142013f", id) {
		t.Error("sameImage accepts too short a prefix or refuses a good one")
	}
}

// fakeAPI serves a canned release history.
func fakeAPI(t *testing.T, rels []hk.Release) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/apps/shop/releases":
			out := make([]hk.Release, 0, len(rels))
			for i := len(rels) - 1; i >= 0; i-- {
				out = append(out, rels[i])
			}
			json.NewEncoder(w).Encode(out[:min(2, len(out))])
		case strings.HasPrefix(r.URL.Path, "/apps/shop/releases/"):
			v, _ := strconv.Atoi(strings.TrimPrefix(r.URL.Path, "/apps/shop/releases/"))
			if v < 1 || v > len(rels) {
				w.WriteHeader(404)
				io.WriteString(w, `{"id":"not_found","message":"Couldn't find that release."}`)
				return
			}
			json.NewEncoder(w).Encode(rels[v-1])
		default:
			w.WriteHeader(404)
			io.WriteString(w, `{"id":"not_found","message":"nope"}`)
		}
	}))
	t.Cleanup(srv.Close)
	return srv
}

func history(descs ...string) []hk.Release {
	var out []hk.Release
	for i, d := range descs {
		st := statusSucceeded
		if s, ok := strings.CutPrefix(d, "FAILED "); ok {
			d, st = s, statusFailed
		}
		out = append(out, hk.Release{ID: fmt.Sprintf("id-%d", i+1), Version: i + 1, Description: d, Status: st})
	}
	out[len(out)-1].Current = true
	return out
}

func TestRunningImages(t *testing.T) {
	tests := []struct {
		name  string
		hist  []hk.Release
		procs []string
		want  map[string]string
		err   string
	}{
		{
			name:  "current deploy",
			hist:  history("Deployed web (aaaaaaaaaaaa)"),
			procs: []string{"web"},
			want:  map[string]string{"web": "aaaaaaaaaaaa"},
		},
		{
			name: "config change, failed deploy, rollback",
			hist: history(
				"Deployed web (aaaaaaaaaaaa), worker (dddddddddddd)", // v1
				"Deployed web (cccccccccccc)",                        // v2
				"Rollback to v1",                                     // v3
				"FAILED Deployed web (bbbbbbbbbbbb)",                 // v4
				"Set FOO config vars",                                // v5
			),
			procs: []string{"web", "worker"},
			want:  map[string]string{"web": "aaaaaaaaaaaa", "worker": "dddddddddddd"},
		},
		{
			name: "partial deploys",
			hist: history(
				"Deployed web (aaaaaaaaaaaa), worker (dddddddddddd)",
				"Deployed web (cccccccccccc)",
				"Add-on attached",
			),
			procs: []string{"web", "worker"},
			want:  map[string]string{"web": "cccccccccccc", "worker": "dddddddddddd"},
		},
		{
			name:  "never deployed",
			hist:  history("Initial release", "Set FOO config vars"),
			procs: []string{"web"},
			err:   "cannot tell which image web runs in release v2",
		},
		{
			name:  "process never deployed",
			hist:  history("Deployed web (aaaaaaaaaaaa)"),
			procs: []string{"web", "clock"},
			err:   "cannot tell which image clock runs",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := fakeAPI(t, tt.hist)
			c, err := NewClient(Options{APIKey: "k", APIURL: srv.URL, Retry: httpx.Policy{Attempts: 1}})
			if err != nil {
				t.Fatal(err)
			}
			cur, recent, _, err := c.current(context.Background(), "shop")
			if err != nil {
				t.Fatal(err)
			}
			got, err := c.runningImages(context.Background(), "shop", cur, tt.procs, recent)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("runningImages = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestRateLimitHint(t *testing.T) {
	for _, tt := range []struct {
		status    int
		remaining string
		want      time.Duration
	}{
		{429, "0", 3 * time.Second},
		{429, "12", 0},
		{429, "", 0},
		{503, "0", 0},
		{200, "0", 0},
	} {
		r := &http.Response{StatusCode: tt.status, Header: http.Header{}}
		if tt.remaining != "" {
			r.Header.Set("RateLimit-Remaining", tt.remaining)
		}
		if got := rateLimitHint(r); got != tt.want {
			t.Errorf("%d, RateLimit-Remaining %q: hint %v, want %v", tt.status, tt.remaining, got, tt.want)
		}
	}
}

// Against an API that answers 503 to everything, reads are retried within
// the policy and logged; the formation PATCH and the rollback POST are
// sent once.
func TestChangesAreSentOnce(t *testing.T) {
	var mu sync.Mutex
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		calls[r.Method]++
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		io.WriteString(w, `{"id":"unavailable","message":"try later"}`)
	}))
	defer srv.Close()
	var logged strings.Builder
	c, err := NewClient(Options{APIKey: "k123", APIURL: srv.URL, Retry: httpx.Policy{Attempts: 3, Backoff: time.Millisecond},
		Logger: promote.LoggerFunc(func(_, f string, a ...any) { fmt.Fprintf(&logged, f+"\n", a...) })})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.app(context.Background(), "shop"); StatusOf(err) != 503 {
		t.Errorf("reading the app: %v", err)
	}
	if err := c.patchFormation(context.Background(), "shop", []formationUpdate{{"web", "sha256:x"}}); StatusOf(err) != 503 {
		t.Errorf("PATCH: %v", err)
	}
	if _, err := c.rollback(context.Background(), "shop", "r1"); StatusOf(err) != 503 {
		t.Errorf("rollback: %v", err)
	}
	if calls["GET"] != 3 || calls["PATCH"] != 1 || calls["POST"] != 1 {
		t.Errorf("calls %v, want 3 GETs (the attempts), 1 PATCH, 1 POST", calls)
	}
	if n := strings.Count(logged.String(), "heroku API: GET "); n != 2 {
		t.Errorf("%d retries logged, want 2:\n%s", n, logged.String())
	}
}

func TestHeadersAndUserAgent(t *testing.T) {
	type seen struct{ method, path, accept, auth, ua string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.Header.Get("Accept"), r.Header.Get("Authorization"), r.Header.Get("User-Agent")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Method == "PATCH" {
			io.WriteString(w, `[]`)
			return
		}
		io.WriteString(w, `{"email":"me@example.com"}`)
	}))
	defer srv.Close()
	c, err := NewClient(Options{APIKey: "k123", APIURL: srv.URL + "/", UserAgent: "ferry/1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CheckAuth(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := c.patchFormation(context.Background(), "shop", []formationUpdate{{"web", "sha256:x"}}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("requests %+v", got)
	}
	want := []seen{
		{"GET", "/account", "application/vnd.heroku+json; version=3", "Bearer k123", hk.DefaultUserAgent + " ferry/1.2.3"},
		{"PATCH", "/apps/shop/formation", AcceptDockerReleases, "Bearer k123", hk.DefaultUserAgent + " ferry/1.2.3"},
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d: %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestErrorsNeverCarryTheKey(t *testing.T) {
	const key = "hk-SECRET-echoed-by-a-bad-proxy"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"id":"unauthorized","message":"Invalid credentials provided: %s"}`, strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "))
	}))
	defer srv.Close()
	var logged strings.Builder
	c, err := NewClient(Options{APIKey: key, APIURL: srv.URL, Logger: promote.LoggerFunc(func(_, f string, a ...any) { fmt.Fprintf(&logged, f, a...) })})
	if err != nil {
		t.Fatal(err)
	}
	err = c.CheckAuth(context.Background())
	if !promote.IsInput(err) || StatusOf(err) != 401 {
		t.Fatalf("CheckAuth: %v", err)
	}
	if strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), redact.Marker) {
		t.Fatalf("error text %q", err)
	}
	c.logf("", "key is %s", key)
	if strings.Contains(logged.String(), key) {
		t.Fatalf("logged %q", logged.String())
	}
}

func TestNewClientValidates(t *testing.T) {
	for _, o := range []Options{{}, {APIKey: "  "}, {APIKey: "k", APIURL: "ftp://x"}, {APIKey: "k", Registry: "bad registry"}} {
		if _, err := NewClient(o); !promote.IsInput(err) {
			t.Errorf("NewClient(%+v): %v, want an input error", o, err)
		}
	}
}

// streamServer serves text in two parts: the first request gets the first
// half and a dropped connection, later ones honour Range.
func TestStreamResumes(t *testing.T) {
	text := "line one\nline two\nline three\nlast line without newline"
	var calls atomic.Int32
	var ranges []string
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		mu.Lock()
		ranges = append(ranges, r.Header.Get("Range"))
		mu.Unlock()
		if r.Header.Get("Authorization") != "" {
			t.Error("the API key was sent to the output stream")
		}
		switch n {
		case 1:
			w.WriteHeader(404)
		case 2:
			// Half a line after two whole ones, then a dropped connection.
			hj, _ := w.(http.Hijacker)
			conn, buf, _ := hj.Hijack()
			part := text[:len("line one\nline two\nline th")]
			fmt.Fprintf(buf, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s", len(text), part)
			buf.Flush()
			if tcp, ok := conn.(*net.TCPConn); ok {
				tcp.SetLinger(0) // a reset, not a clean end
			}
			conn.Close()
		default:
			off, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Range"), "bytes="), "-"))
			w.WriteHeader(206)
			io.WriteString(w, text[off:])
		}
	}))
	defer srv.Close()
	c, err := NewClient(Options{APIKey: "k", PollInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	c.stream(context.Background(), srv.URL, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	want := []string{"release phase: line one", "release phase: line two", "release phase: line three", "release phase: last line without newline"}
	if fmt.Sprint(lines) != fmt.Sprint(want) {
		t.Fatalf("lines %q, want %q", lines, want)
	}
	if calls.Load() != 3 || ranges[2] != "bytes=18-" {
		t.Errorf("%d calls, ranges %q", calls.Load(), ranges)
	}
}

func TestStreamGivesUpOnAbsentStream(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) }))
	defer srv.Close()
	c, _ := NewClient(Options{APIKey: "k", PollInterval: time.Microsecond})
	var lines []string
	c.stream(context.Background(), srv.URL, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	if len(lines) != 1 || lines[0] != "release output: not available (404)" {
		t.Fatalf("lines %q", lines)
	}
}

func TestStreamStepFor(t *testing.T) {
	answer := func(status int) *http.Response { return &http.Response{StatusCode: status} }
	dropped := errors.New("connection reset")
	for _, tt := range []struct {
		name               string
		resp               *http.Response
		err                error
		misses, reconnects int
		want               streamStep
	}{
		{"whole", answer(200), nil, 0, 0, streamRead},
		{"resumed", answer(206), nil, 0, 3, streamRead},
		{"not there yet", answer(404), nil, 0, 0, streamMissing},
		{"not there, last chance", answer(404), nil, maxStreamMisses - 1, 0, streamMissing},
		{"never there", answer(404), nil, maxStreamMisses, 0, streamAbsent},
		{"dropped", nil, dropped, 0, 0, streamDropped},
		{"dropped too often", nil, dropped, 0, maxReconnects, streamGiveUp},
		{"refused", answer(403), nil, 0, 0, streamRefused},
		{"server error", answer(500), nil, 0, 0, streamRefused},
	} {
		if got := streamStepFor(tt.resp, tt.err, tt.misses, tt.reconnects); got != tt.want {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}

// Release output beyond maxOutputBytes is cut there, and says so.
func TestStreamIsCapped(t *testing.T) {
	line := strings.Repeat("x", 1023) + "\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for range maxOutputBytes/len(line) + 100 {
			if _, err := io.WriteString(w, line); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	c, _ := NewClient(Options{APIKey: "k", PollInterval: time.Millisecond})
	var lines []string
	c.stream(context.Background(), srv.URL, func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) })
	if n := len(lines); n != maxOutputBytes/len(line)+1 || lines[n-1] != fmt.Sprintf("release output: truncated after %d bytes", maxOutputBytes) {
		t.Fatalf("%d lines, the last %q", len(lines), lines[len(lines)-1])
	}
}

func TestPollIntervals(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		every time.Duration
		want  []time.Duration
	}{
		{2 * time.Second, []time.Duration{250 * ms, 500 * ms, 1000 * ms, 2000 * ms, 2000 * ms}},
		{100 * ms, []time.Duration{12500 * time.Microsecond, 25 * ms, 50 * ms, 100 * ms, 100 * ms}},
		{3 * time.Second, []time.Duration{375 * ms, 750 * ms, 1500 * ms, 3000 * ms, 3000 * ms}},
	} {
		p := newPoll(tc.every)
		for i, want := range tc.want {
			if got := p.advance(); got != want {
				t.Errorf("every %s: wait %d = %s, want %s", tc.every, i, got, want)
			}
		}
	}
}

// A Heroku source in another account: its repositories in the registry
// are read with its own app's key, the target's with the client's key.
func TestRegistryKeyPerApp(t *testing.T) {
	c, err := NewClient(Options{APIKey: "prod-key", RegistryKey: func(app string) string {
		if app == "shop-stg" {
			return "stg-key"
		}
		return "prod-key"
	}})
	if err != nil {
		t.Fatal(err)
	}
	for repo, want := range map[string]string{
		"registry.heroku.com/shop-stg/web":  "stg-key",
		"registry.heroku.com/shop-prod/web": "prod-key",
		"registry.heroku.com/other/worker":  "prod-key",
	} {
		r, err := name.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		a, err := c.keychain().Resolve(r)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := a.Authorization()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != "_" || cfg.Password != want {
			t.Errorf("%s: logged in as %s with the key of %q, want %q", repo, cfg.Username, redact.NewSet("prod-key", "stg-key").String(cfg.Password), want)
		}
	}
	// Without RegistryKey every app gets the client's key.
	c, err = NewClient(Options{APIKey: "k"})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := name.NewRepository("registry.heroku.com/any/web")
	a, _ := c.keychain().Resolve(r)
	if cfg, _ := a.Authorization(); cfg == nil || cfg.Password != "k" {
		t.Errorf("without RegistryKey: %+v", cfg)
	}
}
