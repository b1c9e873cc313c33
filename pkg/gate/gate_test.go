package gate_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/gate"
	"github.com/ferry-dev/ferry/pkg/promote"
)

func parse(t *testing.T, yaml string, env map[string]string) []*gate.Gate {
	t.Helper()
	spec, err := gate.Parse(yaml, func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return spec.Gates
}

func check(t *testing.T, g *gate.Gate) (promote.GateResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return g.Check(ctx, 1)
}

func phases(r promote.GateResult) string {
	var p []string
	for _, m := range r.Measurements {
		p = append(p, m.Phase)
	}
	return strings.Join(p, ",")
}

// startPrometheus runs a real Prometheus scraping a test exporter with
// gauges set.
func startPrometheus(t *testing.T, gauges map[string]float64) (*testenv.Prometheus, *testenv.Exporter) {
	t.Helper()
	e, err := testenv.StartExporter()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close() })
	for k, v := range gauges {
		e.Set(k, v)
	}
	p, err := testenv.StartPrometheus(context.Background(), t.TempDir(), e.Addr)
	if err != nil {
		t.Fatalf("starting prometheus: %v", err)
	}
	t.Cleanup(func() { _ = p.Stop() })
	return p, e
}

func TestPrometheus(t *testing.T) {
	p, _ := startPrometheus(t, map[string]float64{`errors_ratio{app="web"}`: 0.002, `errors_ratio{app="api"}`: 0.05, `latency_seconds`: 0.3})
	metric := func(name, query, extra string) string {
		return fmt.Sprintf(`- name: %s
  interval: 200ms
  count: 3
%s
  provider:
    prometheus:
      address: %s
      query: '%s'
`, name, extra, p.URL, query)
	}
	cases := []struct {
		name, yaml, phase, measured string
	}{
		{"instant vector passes", metric("ok", `errors_ratio{app="web"}`, "  successCondition: result[0] < 0.01"), "Successful", "Successful,Successful,Successful"},
		{"instant vector fails at once", metric("bad", `errors_ratio{app="api"}`, "  successCondition: result[0] < 0.01"), "Failed", "Failed"},
		{"failureLimit tolerates", metric("tolerant", `errors_ratio{app="api"}`, "  successCondition: result[0] < 0.01\n  failureLimit: 3"), "Successful", "Failed,Failed,Failed"},
		{"neither condition holds: inconclusive", metric("unsure", `latency_seconds`, "  successCondition: result[0] < 0.2\n  failureCondition: result[0] > 0.5"), "Inconclusive", "Inconclusive"},
		{"scalar", metric("scalar", `scalar(latency_seconds)`, "  successCondition: result < 0.5"), "Successful", "Successful,Successful,Successful"},
		{"range query", replaceable(metric("range", `latency_seconds`, "  successCondition: all(result[0], {# < 0.5}) && len(result[0]) >= 2")).
			Replace("query:", "rangeQuery: {start: 'now() - duration(\"3s\")', end: 'now()', step: 1s}\n      query:"), "Successful", "Successful,Successful,Successful"},
		{"empty vector is an error measurement, never a pass", metric("empty", `nothing_here`, "  successCondition: result[0] < 1\n  consecutiveErrorLimit: 1"), "Error", "Error,Error"},
		{"bad PromQL that parses in shape is Prometheus' error", metric("badq", `sum(rate(x[1m])) by`, "  successCondition: result[0] < 1\n  consecutiveErrorLimit: 0"), "Error", "Error"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := parse(t, c.yaml, nil)[0]
			r, err := check(t, g)
			if r.Phase != c.phase || phases(r) != c.measured {
				t.Fatalf("phase %s measurements %s (%v); want %s %s; %+v", r.Phase, phases(r), err, c.phase, c.measured, r.Measurements)
			}
			if (err == nil) != (c.phase == "Successful") {
				t.Errorf("err %v with phase %s", err, r.Phase)
			}
		})
	}
}

// replaceable lets the table above edit one case's YAML in place.
type replaceable string

func (s replaceable) Replace(old, new string) string { return strings.Replace(string(s), old, new, 1) }

func TestProviderDownIsAnErrorNeverAPass(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens there now
	g := parse(t, `- name: down
  interval: 50ms
  count: 2
  consecutiveErrorLimit: 2
  successCondition: result[0] < 1
  provider:
    prometheus:
      address: http://`+addr+`
      query: up
`, nil)[0]
	r, err := check(t, g)
	if r.Phase != "Error" || phases(r) != "Error,Error,Error" || err == nil {
		t.Fatalf("phase %s, measurements %s, err %v", r.Phase, phases(r), err)
	}
	if !strings.Contains(r.Measurements[0].Error, "could not reach") {
		t.Errorf("measurement error %q", r.Measurements[0].Error)
	}
}

func TestWebFailsOnTheThirdMeasurement(t *testing.T) {
	var n atomic.Int32
	var sawAuth atomic.Value
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sawAuth.Store(r.Header.Get("Authorization") + "|" + r.Header.Get("X-Scope-OrgID"))
		rate := 0.001
		if n.Add(1) >= 3 {
			rate = 0.2
		}
		fmt.Fprintf(w, `{"data":{"errorRate":%g,"ok":true}}`, rate)
	}))
	defer srv.Close()
	g := parse(t, `- name: web-errors
  interval: 20ms
  count: 5
  successCondition: result < 0.01
  provider:
    web:
      url: `+srv.URL+`/stats
      jsonPath: "{$.data.errorRate}"
      insecure: true
      bearerTokenEnv: STATS_TOKEN
      headers:
        - key: X-Scope-OrgID
          value: shop
`, map[string]string{"STATS_TOKEN": "tok-123"})[0]
	r, err := check(t, g)
	if r.Phase != "Failed" || phases(r) != "Successful,Successful,Failed" || err == nil {
		t.Fatalf("phase %s, measurements %s, err %v", r.Phase, phases(r), err)
	}
	if r.Measurements[2].Value != "0.2" || r.Measurements[2].Condition != "not (result < 0.01)" {
		t.Errorf("third measurement %+v", r.Measurements[2])
	}
	if got := sawAuth.Load(); got != "Bearer tok-123|shop" {
		t.Errorf("the server saw %q", got)
	}
	if s := g.Secrets(); len(s) != 1 || s[0] != "tok-123" {
		t.Errorf("secrets %q", s)
	}
}

func TestWebRefusesAnUnknownCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `{"ok":true}`) }))
	defer srv.Close()
	g := parse(t, "- name: tls\n  consecutiveErrorLimit: 0\n  successCondition: result.ok\n  provider:\n    web:\n      url: "+srv.URL+"\n", nil)[0]
	r, err := check(t, g)
	if r.Phase != "Error" || err == nil || !strings.Contains(r.Measurements[0].Error, "certificate") {
		t.Fatalf("phase %s err %v %+v", r.Phase, err, r.Measurements)
	}
}

func TestParseRefusesBadInput(t *testing.T) {
	env := func(string) string { return "" }
	ok := "  provider:\n    prometheus:\n      address: http://p:9090\n      query: up\n"
	cases := []struct{ yaml, want string }{
		{"not: a list", "not a YAML list of metrics"},
		{"[]", "no metric given"},
		{"- name: a\n  successCondition: result[0] <\n" + ok, `metric "a": successCondition "result[0] <" does not compile`},
		{"- name: a\n  failureCondition: 'result ==== 1'\n" + ok, `failureCondition "result ==== 1" does not compile`},
		{"- name: a\n  interval: soon\n" + ok, `interval "soon" is not a duration`},
		{"- name: a\n  count: 3\n" + ok, "count 3 needs an interval"},
		{"- name: a\n  failureLimit: -1\n" + ok, "failureLimit -1 is out of range"},
		{"- name: a\n  provider:\n    datadog:\n      query: x\n", `provider "datadog" is unsupported`},
		{"- name: a\n  provider:\n    prometheus:\n      address: prometheus:9090\n      query: up\n", "is not an http(s) URL"},
		{"- name: a\n  provider:\n    prometheus:\n      address: http://p\n      query: sum(rate(x[1m])\n", `has an unclosed "("`},
		{"- name: a\n  provider:\n    prometheus:\n      address: http://p\n      query: up\n      bearerTokenEnv: PROM_TOKEN\n", "bearerTokenEnv names PROM_TOKEN, which is not set"},
		{"- name: a\n  provider:\n    web:\n      url: http://p\n      jsonPath: '{$.a['\n", "jsonPath"},
		{"- name: a\n  provider:\n    web:\n      url: http://p\n      jsonPat: x\n", "unknown field"},
		{"- templateRef: {name: Bad_Name}\n", "is not a Kubernetes name"},
		{"- templateRef: {name: a, clusterScope: true, namespace: x}\n", "is cluster-scoped and has a namespace"},
		{"- templateRef: {name: a, argz: []}\n", "unknown field"},
		{"- name: a\n" + ok + "- name: a\n" + ok, `metric "a" is given twice`},
		{"- interval: 1s\n" + ok, "metric 1 has no name"},
		{"- name: a\n  provider:\n    prometheus:\n      address: http://u:p@p:9090\n      query: up\n", "has credentials in it"},
	}
	for _, c := range cases {
		_, err := gate.Parse(c.yaml, env)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Parse(%q) = %v, want an error containing %q", c.yaml, err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add("- name: a\n  interval: 1s\n  count: 2\n  successCondition: result[0] < 1\n  provider:\n    prometheus:\n      address: http://p:9090\n      query: up\n")
	f.Add("- name: w\n  provider:\n    web:\n      url: https://x/y\n      jsonPath: '{$.a}'\n")
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := gate.Parse(s, func(string) string { return "" })
		if err != nil {
			if err.Error() == "" {
				t.Fatalf("empty error for %q", s)
			}
			return
		}
		if len(spec.Gates)+len(spec.Templates) == 0 {
			t.Fatalf("Parse(%q) accepted nothing", s)
		}
		for _, g := range spec.Gates {
			if g.Name() == "" || g.Limits().Count < 1 {
				t.Fatalf("Parse(%q) made gate %q with limits %+v", s, g.Name(), g.Limits())
			}
		}
	})
}

func TestInitialDelayComesFirst(t *testing.T) {
	var first atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		first.CompareAndSwap(0, time.Now().UnixNano())
		fmt.Fprint(w, `{"ok":true}`)
	}))
	defer srv.Close()
	g := parse(t, "- name: late\n  initialDelay: 300ms\n  successCondition: result.ok\n  provider:\n    web:\n      url: "+srv.URL+"\n", nil)[0]
	start := time.Now()
	r, err := check(t, g)
	if err != nil || r.Phase != "Successful" || len(r.Measurements) != 1 {
		t.Fatalf("phase %s err %v", r.Phase, err)
	}
	if d := time.Duration(first.Load() - start.UnixNano()); d < 300*time.Millisecond {
		t.Errorf("first measurement %s after the start, before the 300ms initialDelay", d)
	}
}

func TestStoppedGateSaysSoAndKeepsItsMeasurements(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, `1`) }))
	defer srv.Close()
	g := parse(t, "- name: slow\n  interval: 1h\n  count: 3\n  successCondition: result == 1\n  provider:\n    web:\n      url: "+srv.URL+"\n", nil)[0]
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	r, err := g.Check(ctx, 2)
	if err == nil || r.Phase != "Running" || len(r.Measurements) != 1 || r.Measurements[0].Phase != "Successful" {
		t.Fatalf("phase %s, %d measurements, err %v", r.Phase, len(r.Measurements), err)
	}
}
