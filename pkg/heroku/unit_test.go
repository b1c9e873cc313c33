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

	hk "github.com/heroku/heroku-go/v5"

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
			c, err := NewClient(Options{APIKey: "k", APIURL: srv.URL, Retry: Retry{Attempts: 1}})
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

// scripted answers requests from a list of statuses (last one repeats).
type scripted struct {
	mu       sync.Mutex
	statuses []int
	headers  []http.Header
	calls    int
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := min(s.calls, len(s.statuses)-1)
	s.calls++
	st := s.statuses[i]
	if st == 0 {
		return nil, errors.New("connection reset")
	}
	h := http.Header{}
	if i < len(s.headers) && s.headers[i] != nil {
		h = s.headers[i].Clone()
	}
	return &http.Response{StatusCode: st, Status: fmt.Sprintf("%d %s", st, http.StatusText(st)), Header: h,
		Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
}

func TestRetryingTransport(t *testing.T) {
	tests := []struct {
		name     string
		method   string
		statuses []int
		headers  []http.Header
		retry    Retry
		calls    int
		final    int // 0: an error
		waits    []time.Duration
	}{
		{"ok", "GET", []int{200}, nil, Retry{}, 1, 200, nil},
		{"503 then ok", "GET", []int{503, 200}, nil, Retry{Backoff: time.Second}, 2, 200, []time.Duration{time.Second}},
		{"network error then ok", "GET", []int{0, 200}, nil, Retry{Backoff: time.Second}, 2, 200, []time.Duration{time.Second}},
		{"404 is final", "GET", []int{404, 200}, nil, Retry{}, 1, 404, nil},
		{"501 is final", "GET", []int{501, 200}, nil, Retry{}, 1, 501, nil},
		{"patch never retried", "PATCH", []int{503, 200}, nil, Retry{}, 1, 503, nil},
		{"post never retried", "POST", []int{0, 200}, nil, Retry{}, 1, 0, nil},
		{"retry-after honoured", "GET", []int{429, 200}, []http.Header{{"Retry-After": {"7"}}}, Retry{Backoff: time.Second, MaxWait: time.Minute}, 2, 200, []time.Duration{7 * time.Second}},
		{"retry-after capped", "GET", []int{429, 200}, []http.Header{{"Retry-After": {"600"}}}, Retry{MaxWait: 20 * time.Second}, 2, 200, []time.Duration{20 * time.Second}},
		{"empty budget waits for tokens", "GET", []int{429, 200}, []http.Header{{"Ratelimit-Remaining": {"0"}}}, Retry{Backoff: time.Second}, 2, 200, []time.Duration{3 * time.Second}},
		{"attempts bounded", "GET", []int{503}, nil, Retry{Attempts: 3, Backoff: time.Second}, 3, 503, []time.Duration{time.Second, 2 * time.Second}},
		{"budget bounded", "GET", []int{503}, nil, Retry{Attempts: 10, Backoff: time.Second, Budget: 4 * time.Second}, 3, 503, []time.Duration{time.Second, 2 * time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := &scripted{statuses: tt.statuses, headers: tt.headers}
			var waits []time.Duration
			rt := &retrying{next: s, retry: tt.retry, sleep: func(_ context.Context, d time.Duration) error {
				waits = append(waits, d)
				return nil
			}}
			var body io.Reader
			if tt.method != "GET" {
				body = strings.NewReader("{}")
			}
			req, _ := http.NewRequest(tt.method, "http://api.test/apps/shop", body)
			resp, err := rt.RoundTrip(req)
			if s.calls != tt.calls {
				t.Errorf("%d calls, want %d", s.calls, tt.calls)
			}
			if tt.final == 0 {
				if err == nil {
					t.Errorf("no error")
				}
			} else if err != nil || resp.StatusCode != tt.final {
				t.Errorf("final %v %v, want %d", resp, err, tt.final)
			}
			if len(waits) != len(tt.waits) {
				t.Fatalf("waits %v, want %v", waits, tt.waits)
			}
			for i := range waits {
				// Backoff waits carry up to 10% jitter.
				if waits[i] < tt.waits[i] || waits[i] > tt.waits[i]+tt.waits[i]/10 {
					t.Errorf("wait %d = %s, want about %s", i, waits[i], tt.waits[i])
				}
			}
		})
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
			conn.(*net.TCPConn).SetLinger(0)
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
