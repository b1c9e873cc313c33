package health

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestJudge(t *testing.T) {
	tests := []struct {
		name   string
		check  Check
		probe  Probe
		ok     bool
		reason string
	}{
		{"200 default", Check{}, Probe{Status: 200}, true, "status 200"},
		{"301 default", Check{}, Probe{Status: 301}, true, "status 301"},
		{"404 default", Check{}, Probe{Status: 404}, false, "status 404"},
		{"503 default", Check{}, Probe{Status: 503}, false, "status 503"},
		{"199 default", Check{}, Probe{Status: 199}, false, "status 199"},
		{"transport error", Check{}, Probe{Err: errors.New("connection refused")}, false, "connection refused"},
		{"custom expect", Check{Expect: func(s int) bool { return s == 204 }}, Probe{Status: 200}, false, "status 200"},
		{"custom expect ok", Check{Expect: func(s int) bool { return s == 204 }}, Probe{Status: 204}, true, "status 204"},
		{"body match", Check{BodyContains: "ok"}, Probe{Status: 200, Body: []byte(`{"status":"ok"}`)}, true, "status 200"},
		{"body mismatch", Check{BodyContains: "ok"}, Probe{Status: 200, Body: []byte(`{"status":"down"}`)}, false, `status 200 but body lacks "ok"`},
		{"body regexp match", Check{BodyMatch: regexp.MustCompile(`"status":\s*"ok"`)}, Probe{Status: 200, Body: []byte(`{"status": "ok"}`)}, true, "status 200"},
		{"body regexp mismatch", Check{BodyMatch: regexp.MustCompile(`"status":\s*"ok"`)}, Probe{Status: 200, Body: []byte(`{"status":"down"}`)}, false, `status 200 but body does not match "\"status\":\\s*\"ok\""`},
		{"body ignored on bad status", Check{BodyContains: "ok"}, Probe{Status: 500, Body: []byte("ok")}, false, "status 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, reason := Judge(tt.check, tt.probe)
			if ok != tt.ok || reason != tt.reason {
				t.Errorf("Judge = %v, %q; want %v, %q", ok, reason, tt.ok, tt.reason)
			}
		})
	}
}

func TestTracker(t *testing.T) {
	t0 := time.Unix(1000, 0)
	type obs struct {
		at int // seconds after t0
		ok bool
	}
	tests := []struct {
		name    string
		tracker Tracker
		obs     []obs
		want    []Verdict // verdict after each observation
	}{
		{
			name:    "first success passes without soak",
			tracker: Tracker{Threshold: 3},
			obs:     []obs{{0, true}},
			want:    []Verdict{Passed},
		},
		{
			name:    "failures then success",
			tracker: Tracker{Threshold: 3},
			obs:     []obs{{0, false}, {1, false}, {2, true}},
			want:    []Verdict{Pending, Pending, Passed},
		},
		{
			name:    "threshold consecutive failures fail",
			tracker: Tracker{Threshold: 3},
			obs:     []obs{{0, false}, {1, false}, {2, false}},
			want:    []Verdict{Pending, Pending, Failed},
		},
		{
			name:    "success resets the run",
			tracker: Tracker{Threshold: 2, Soak: 10 * time.Second},
			obs:     []obs{{0, false}, {1, true}, {2, false}, {3, true}, {4, false}},
			want:    []Verdict{Pending, Pending, Pending, Pending, Pending},
		},
		{
			name:    "soak must elapse",
			tracker: Tracker{Threshold: 2, Soak: 5 * time.Second},
			obs:     []obs{{0, true}, {2, true}, {4, true}, {5, true}},
			want:    []Verdict{Pending, Pending, Pending, Passed},
		},
		{
			name:    "failure during soak fails at threshold",
			tracker: Tracker{Threshold: 2, Soak: 5 * time.Second},
			obs:     []obs{{0, true}, {1, false}, {2, false}, {9, true}},
			want:    []Verdict{Pending, Pending, Failed, Failed},
		},
		{
			name:    "single blip during soak tolerated",
			tracker: Tracker{Threshold: 2, Soak: 4 * time.Second},
			obs:     []obs{{0, true}, {2, false}, {4, true}},
			want:    []Verdict{Pending, Pending, Passed},
		},
		{
			name:    "start period ignores failures",
			tracker: Tracker{Threshold: 1, StartPeriod: 5 * time.Second},
			obs:     []obs{{0, false}, {4, false}, {5, false}},
			want:    []Verdict{Pending, Pending, Failed},
		},
		{
			name:    "start period ends at first success",
			tracker: Tracker{Threshold: 1, StartPeriod: 10 * time.Second, Soak: 5 * time.Second},
			obs:     []obs{{0, false}, {1, true}, {2, false}},
			want:    []Verdict{Pending, Pending, Failed},
		},
		{
			name:    "verdict is final",
			tracker: Tracker{Threshold: 1},
			obs:     []obs{{0, false}, {1, true}},
			want:    []Verdict{Failed, Failed},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tt.tracker
			for i, o := range tt.obs {
				got := tr.Observe(t0.Add(time.Duration(o.at)*time.Second), o.ok, "r")
				if got != tt.want[i] {
					t.Fatalf("after observation %d (%+v): verdict %s, want %s", i, o, got, tt.want[i])
				}
			}
		})
	}
}

func TestResolve(t *testing.T) {
	tests := []struct {
		base, ref, want string
		err             string
	}{
		{"https://shop.herokuapp.com/", "/healthz", "https://shop.herokuapp.com/healthz", ""},
		{"http://127.0.0.1:4000/", "/healthz?deep=1", "http://127.0.0.1:4000/healthz?deep=1", ""},
		{"https://shop.herokuapp.com/app/", "healthz", "https://shop.herokuapp.com/app/healthz", ""},
		{"https://shop.herokuapp.com/", "https://status.example.com/shop", "https://status.example.com/shop", ""},
		{"", "http://x.example/h", "http://x.example/h", ""},
		{"https://shop.herokuapp.com/", "", "", ""},
		{"", "/healthz", "", "no base URL"},
		{"https://shop.herokuapp.com/", "ftp://x/h", "", "only absolute http and https"},
		{"not a url", "/healthz", "", "not an absolute http(s) URL"},
		{"https://shop.herokuapp.com/", "http://[::1", "", "parsing health URL"},
	}
	for _, tt := range tests {
		t.Run(tt.base+" "+tt.ref, func(t *testing.T) {
			got, err := Resolve(tt.base, tt.ref)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("Resolve error = %v, want containing %q", err, tt.err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("Resolve = %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

func fastCheck(url string) Check {
	return Check{URL: url, Interval: 10 * time.Millisecond, Timeout: 2 * time.Second, Threshold: 3, RequestTimeout: 500 * time.Millisecond}
}

func TestWaitPassesAfterBoot(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			http.Error(w, "booting", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"status":"ok"}`)
	}))
	defer srv.Close()
	c := fastCheck(srv.URL + "/healthz")
	c.Soak = 50 * time.Millisecond
	c.BodyContains = `"ok"`
	var lines []string
	if err := c.Wait(context.Background(), func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }); err != nil {
		t.Fatalf("Wait: %v", err)
	}
	if n.Load() < 4 {
		t.Errorf("passed after %d probes; the soak needs several successes", n.Load())
	}
	if last := lines[len(lines)-1]; !strings.Contains(last, "passed") {
		t.Errorf("last log line %q, want a pass", last)
	}
}

func TestWaitFailsAtThreshold(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		http.Error(w, "down", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	err := fastCheck(srv.URL).Wait(context.Background(), nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "3 consecutive failures, last: status 503") {
		t.Fatalf("Wait error = %v", err)
	}
	if n.Load() != 3 {
		t.Errorf("%d probes, want exactly the threshold 3", n.Load())
	}
}

func TestWaitFailsDuringSoak(t *testing.T) {
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			return
		}
		http.Error(w, "oops", http.StatusInternalServerError)
	}))
	defer srv.Close()
	c := fastCheck(srv.URL)
	c.Soak = time.Second
	err := c.Wait(context.Background(), nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "status 500") {
		t.Fatalf("Wait error = %v", err)
	}
}

func TestWaitTimesOut(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "booting", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	c := fastCheck(srv.URL)
	c.StartPeriod = time.Hour // failures never count: only the timeout ends it
	c.Timeout = 100 * time.Millisecond
	start := time.Now()
	err := c.Wait(context.Background(), nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "not healthy within 100ms (last: status 503)") {
		t.Fatalf("Wait error = %v", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("timed out after %s, want about 100ms", d)
	}
}

func TestWaitRequestTimeout(t *testing.T) {
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := fastCheck(srv.URL)
	c.RequestTimeout = 20 * time.Millisecond
	c.Threshold = 2
	err := c.Wait(context.Background(), nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "no response within 20ms") {
		t.Fatalf("Wait error = %v", err)
	}
}

func TestWaitCancelled(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "x", http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c := fastCheck(srv.URL)
	err := c.Wait(ctx, nil)
	if !errors.Is(err, context.Canceled) || errors.Is(err, ErrFailed) {
		t.Fatalf("Wait error = %v, want context.Canceled", err)
	}
}

func TestWaitBoundedBodyRead(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The marker sits beyond MaxBody: it must not be seen.
		fmt.Fprint(w, strings.Repeat("x", MaxBody), "HEALTHY")
	}))
	defer srv.Close()
	c := fastCheck(srv.URL)
	c.BodyContains = "HEALTHY"
	c.Threshold = 1
	err := c.Wait(context.Background(), nil)
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), `body lacks "HEALTHY"`) {
		t.Fatalf("Wait error = %v", err)
	}
}

func TestRedirects(t *testing.T) {
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("followed a redirect to another host")
	}))
	defer other.Close()
	var sameHits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/same":
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/target":
			sameHits.Add(1)
			http.Error(w, "nope", http.StatusServiceUnavailable)
		case "/away":
			http.Redirect(w, r, other.URL+"/x", http.StatusFound)
		case "/loop":
			http.Redirect(w, r, "/loop", http.StatusFound)
		}
	}))
	defer srv.Close()

	// Same host: followed, the target's 503 is judged.
	c := fastCheck(srv.URL + "/same")
	c.Threshold = 1
	if err := c.Wait(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "status 503") {
		t.Errorf("same-host redirect: %v", err)
	}
	if sameHits.Load() != 1 {
		t.Errorf("redirect target hit %d times, want 1", sameHits.Load())
	}
	// Other host: not followed, the 302 itself is judged (healthy by default).
	if err := fastCheck(srv.URL+"/away").Wait(context.Background(), nil); err != nil {
		t.Errorf("cross-host redirect: %v", err)
	}
	// Strict expectation: the 302 is not a 200.
	c = fastCheck(srv.URL + "/away")
	c.Threshold = 1
	c.Expect = func(s int) bool { return s == 200 }
	if err := c.Wait(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "status 302") {
		t.Errorf("cross-host redirect, strict: %v", err)
	}
	// Loops end after a bounded number of hops.
	c = fastCheck(srv.URL + "/loop")
	c.Threshold = 1
	c.Expect = func(s int) bool { return s == 200 }
	if err := c.Wait(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "status 302") {
		t.Errorf("redirect loop: %v", err)
	}
}

func TestWaitRejectsBadURL(t *testing.T) {
	for _, u := range []string{"", "/healthz", "ftp://x/y"} {
		if err := (Check{URL: u}).Wait(context.Background(), nil); err == nil {
			t.Errorf("Wait(%q) succeeded", u)
		}
	}
}
