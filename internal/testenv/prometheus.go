package testenv

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Prometheus is a real Prometheus server (the prometheus binary on PATH,
// Debian's package, installed by hack/install-deps.sh), scraping
// Exporters every second, on a loopback port, with its storage in a
// temporary folder.
type Prometheus struct {
	// URL is the server's base URL (http://127.0.0.1:PORT).
	URL  string
	Dir  string
	proc *process
	port int
}

// ScrapeInterval is how often a test Prometheus scrapes.
const ScrapeInterval = time.Second

// StartPrometheus starts Prometheus in dir scraping targets (host:port)
// and returns once it has scraped every target at least once. A server
// that cannot start is an error, never a skip.
func StartPrometheus(ctx context.Context, dir string, targets ...string) (*Prometheus, error) {
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		return nil, fmt.Errorf("prometheus is not installed (run hack/install-deps.sh): %w", err)
	}
	quoted := make([]string, len(targets))
	for i, t := range targets {
		quoted[i] = fmt.Sprintf("%q", t)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
scrape_configs:
  - job_name: test
    scrape_interval: %s
    scrape_timeout: 900ms
    static_configs:
      - targets: [%s]
`, ScrapeInterval, ScrapeInterval, ScrapeInterval, strings.Join(quoted, ", "))
	confPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		return nil, fmt.Errorf("writing prometheus.yml: %w", err)
	}
	for attempt := 0; ; attempt++ {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		p := &Prometheus{URL: fmt.Sprintf("http://127.0.0.1:%d", ports[0]), Dir: dir, port: ports[0]}
		p.proc, err = startProcess("prometheus", filepath.Join(dir, "prometheus.log"), bin,
			"--config.file="+confPath,
			"--web.listen-address="+net.JoinHostPort("127.0.0.1", fmt.Sprint(ports[0])),
			"--storage.tsdb.path="+filepath.Join(dir, "data"),
			"--storage.tsdb.retention.time=1h",
			"--query.lookback-delta=5s",
		)
		if err != nil {
			releasePorts(ports)
			return nil, err
		}
		err = p.waitReady(ctx, len(targets))
		if err == nil {
			return p, nil
		}
		_ = p.Stop()
		var ee *ExitError
		if attempt < 2 && errors.As(err, &ee) && ee.addrInUse() {
			continue
		}
		return nil, err
	}
}

// waitReady waits until /-/ready answers and every target was scraped up.
func (p *Prometheus) waitReady(ctx context.Context, targets int) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for {
		if p.proc.exited() {
			return p.proc.exitError()
		}
		if up, err := p.upTargets(ctx); err == nil && up >= targets {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus not ready with %d targets up: %w; last lines of its log:\n%s", targets, ctx.Err(), tail(p.proc.log, 20))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (p *Prometheus) upTargets(ctx context.Context) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.URL+"/api/v1/targets", nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			ActiveTargets []struct {
				Health string `json:"health"`
			} `json:"activeTargets"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return 0, err
	}
	up := 0
	for _, t := range r.Data.ActiveTargets {
		if t.Health == "up" {
			up++
		}
	}
	return up, nil
}

// Stop stops the server and frees its port.
func (p *Prometheus) Stop() error {
	defer releasePorts([]int{p.port})
	return p.proc.stop(stopGrace)
}

// Exporter is a test HTTP server that exposes gauges in Prometheus' text
// format at /metrics; a test changes their values while ferry runs.
type Exporter struct {
	// Addr is host:port, for a scrape target.
	Addr string
	srv  *http.Server
	mu   sync.Mutex
	vals map[string]float64
}

// StartExporter serves gauges on a loopback port.
func StartExporter() (*Exporter, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("exporter: %w", err)
	}
	e := &Exporter{Addr: l.Addr().String(), vals: map[string]float64{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", e.serve)
	e.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = e.srv.Serve(l) }()
	return e, nil
}

// Set sets gauge name (a metric name with optional labels in braces:
// `http_errors_ratio{app="web"}`) to v.
func (e *Exporter) Set(name string, v float64) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.vals[name] = v
}

func (e *Exporter) serve(w http.ResponseWriter, _ *http.Request) {
	e.mu.Lock()
	defer e.mu.Unlock()
	names := make([]string, 0, len(e.vals))
	for n := range e.vals {
		names = append(names, n)
	}
	sort.Strings(names)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	seen := map[string]bool{}
	for _, n := range names {
		base, _, _ := strings.Cut(n, "{")
		if !seen[base] {
			fmt.Fprintf(w, "# TYPE %s gauge\n", base)
			seen[base] = true
		}
		fmt.Fprintf(w, "%s %g\n", n, e.vals[n])
	}
}

// Close stops the exporter.
func (e *Exporter) Close() error { return e.srv.Close() }
