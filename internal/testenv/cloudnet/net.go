package cloudnet

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// Request is one request that reached a handler.
type Request struct {
	Host   string // host name without port, as the client named it
	Method string
	Path   string
	Status int
}

type route struct {
	pattern string
	labels  []string
	h       http.Handler
}

// Net is the proxy, its CA and the routes. Start one per test binary (see
// the package doc); it is safe for concurrent use.
type Net struct {
	ca     *CA
	dir    string
	caFile string
	proxy  *http.Server
	proxyL net.Listener
	tunnel *http.Server
	conns  *connListener

	mu      sync.Mutex
	exact   map[string]http.Handler
	routes  []route
	hosts   []string
	reqs    []Request
	directs map[string]*http.Server
	closed  bool
}

// Start starts a proxy on a free loopback port with a fresh CA, and writes
// the CA bundle into a temporary folder that Close removes.
func Start() (*Net, error) {
	ca, err := NewCA()
	if err != nil {
		return nil, fmt.Errorf("starting cloudnet: %w", err)
	}
	dir, err := os.MkdirTemp("", "ferry-cloudnet-")
	if err != nil {
		return nil, fmt.Errorf("starting cloudnet: %w", err)
	}
	n := &Net{
		ca:      ca,
		dir:     dir,
		caFile:  filepath.Join(dir, "ca.pem"),
		exact:   map[string]http.Handler{},
		directs: map[string]*http.Server{},
	}
	if err := os.WriteFile(n.caFile, ca.PEM(), 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting cloudnet: writing CA bundle: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("starting cloudnet: %w", err)
	}
	quiet := log.New(io.Discard, "", 0)
	n.proxyL = ln
	n.conns = newConnListener(ln.Addr())
	n.tunnel = &http.Server{
		Handler:           http.HandlerFunc(n.serveTunnel),
		TLSConfig:         ca.ServerTLS(""),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quiet,
	}
	n.proxy = &http.Server{
		Handler:           http.HandlerFunc(n.serveProxy),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          quiet,
	}
	go func() { _ = n.tunnel.ServeTLS(n.conns, "", "") }() // ends with Close
	go func() { _ = n.proxy.Serve(ln) }()
	return n, nil
}

// CA returns the certificate authority every emulated host's certificate
// comes from.
func (n *Net) CA() *CA { return n.ca }

// ProxyURL is the value for HTTPS_PROXY: http://127.0.0.1:PORT.
func (n *Net) ProxyURL() string { return "http://" + n.proxyL.Addr().String() }

// CAFile is the path of the CA bundle (PEM) for SSL_CERT_FILE. It holds
// only the test CA.
func (n *Net) CAFile() string { return n.caFile }

// Env returns the variables that send a process's HTTPS traffic through
// the proxy and make it trust the test CA: HTTPS_PROXY and SSL_CERT_FILE.
func (n *Net) Env() []string {
	return []string{"HTTPS_PROXY=" + n.ProxyURL(), "SSL_CERT_FILE=" + n.caFile}
}

// Overriding lists variables that would take precedence over Env in a
// process or an SDK: another CA bundle for the AWS SDK (AWS_CA_BUNDLE
// replaces the system roots), lower-case proxy settings, and proxy
// exclusions. CI machines often set some of them.
var Overriding = []string{"AWS_CA_BUNDLE", "https_proxy", "NO_PROXY", "no_proxy"}

// ProcessEnv returns base (os.Environ() for a subprocess) without the
// Overriding variables and Env's, followed by Env: the environment for a
// process that must reach the emulators.
func (n *Net) ProcessEnv(base []string) []string {
	drop := map[string]bool{"HTTPS_PROXY": true, "SSL_CERT_FILE": true}
	for _, k := range Overriding {
		drop[k] = true
	}
	var out []string
	for _, kv := range base {
		k, _, _ := strings.Cut(kv, "=")
		if !drop[k] {
			out = append(out, kv)
		}
	}
	return append(out, n.Env()...)
}

// SetEnv sets Env in this process, and unsets the Overriding variables,
// for the rest of the test binary's life (see the package doc for why not
// per test). It fails when another Net
// already set them in this process, because Go would keep using that one.
func (n *Net) SetEnv() error {
	envOwner.Lock()
	defer envOwner.Unlock()
	if envOwner.n != nil && envOwner.n != n {
		return fmt.Errorf("cloudnet: another Net already set HTTPS_PROXY and SSL_CERT_FILE in this process; start one Net per test binary, in TestMain")
	}
	for _, k := range Overriding {
		if err := os.Unsetenv(k); err != nil {
			return fmt.Errorf("cloudnet: unsetting %s: %w", k, err)
		}
	}
	for _, kv := range n.Env() {
		k, v, _ := strings.Cut(kv, "=")
		if err := os.Setenv(k, v); err != nil {
			return fmt.Errorf("cloudnet: setting %s: %w", k, err)
		}
	}
	envOwner.n = n
	return nil
}

var envOwner struct {
	sync.Mutex
	n *Net
}

// Client returns an HTTP client that goes through the proxy and trusts
// only the test CA, for emulators that call other emulated hosts (an STS
// fetching an issuer's JWKS) and for tests.
func (n *Net) Client() *http.Client {
	proxy, _ := url.Parse(n.ProxyURL())
	return &http.Client{
		Transport: &http.Transport{
			Proxy:             http.ProxyURL(proxy),
			TLSClientConfig:   &tls.Config{RootCAs: n.ca.Pool(), MinVersion: tls.VersionTLS12},
			ForceAttemptHTTP2: true,
		},
		Timeout: 30 * time.Second,
	}
}

// Handle routes pattern (see the package doc) to h. A later Handle of the
// same pattern replaces the handler.
func (n *Net) Handle(pattern string, h http.Handler) {
	pattern = strings.ToLower(pattern)
	n.mu.Lock()
	defer n.mu.Unlock()
	if !strings.Contains(pattern, "*") {
		n.exact[pattern] = h
		return
	}
	for i, r := range n.routes {
		if r.pattern == pattern {
			n.routes[i].h = h
			return
		}
	}
	n.routes = append(n.routes, route{pattern: pattern, labels: strings.Split(pattern, "."), h: h})
}

// handler returns the handler for host (no port), or nil.
func (n *Net) handler(host string) http.Handler {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	n.mu.Lock()
	defer n.mu.Unlock()
	if h := n.exact[host]; h != nil {
		return h
	}
	labels := strings.Split(host, ".")
	for _, r := range n.routes {
		if matchLabels(r.labels, labels) {
			return r.h
		}
	}
	return nil
}

func matchLabels(pattern, labels []string) bool {
	if len(pattern) != len(labels) {
		return false
	}
	for i, p := range pattern {
		if ok, err := path.Match(p, labels[i]); err != nil || !ok || labels[i] == "" {
			return false
		}
	}
	return true
}

// Hosts returns every host name a client asked the proxy for (CONNECT),
// in order, refused ones included.
func (n *Net) Hosts() []string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.hosts)
}

// Reached reports whether any client asked the proxy for host, or whether
// a request reached host through Direct.
func (n *Net) Reached(host string) bool {
	host = strings.ToLower(host)
	n.mu.Lock()
	defer n.mu.Unlock()
	if slices.Contains(n.hosts, host) {
		return true
	}
	return slices.ContainsFunc(n.reqs, func(r Request) bool { return r.Host == host })
}

// Requests returns the requests that reached handlers, in order.
func (n *Net) Requests() []Request {
	n.mu.Lock()
	defer n.mu.Unlock()
	return slices.Clone(n.reqs)
}

// RequestsTo returns the requests that reached host.
func (n *Net) RequestsTo(host string) []Request {
	host = strings.ToLower(host)
	var out []Request
	for _, r := range n.Requests() {
		if r.Host == host {
			out = append(out, r)
		}
	}
	return out
}

// Reset forgets the recorded hosts and requests.
func (n *Net) Reset() {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts, n.reqs = nil, nil
}

// serveProxy answers CONNECT and refuses everything else.
func (n *Net) serveProxy(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		host := strings.ToLower(r.URL.Hostname())
		n.record(host)
		http.Error(w, fmt.Sprintf("cloudnet: only CONNECT is served (plain http to %q is not emulated)", host), http.StatusMethodNotAllowed)
		return
	}
	host, _, err := net.SplitHostPort(r.Host)
	if err != nil {
		host = r.Host
	}
	host = strings.ToLower(host)
	n.record(host)
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cloudnet: cannot hijack", http.StatusInternalServerError)
		return
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		return
	}
	if n.handler(host) == nil {
		// The reason phrase is what Go's transport reports as the error.
		fmt.Fprintf(conn, "HTTP/1.1 502 cloudnet: no emulator for %s\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", host)
		conn.Close()
		return
	}
	if _, err := io.WriteString(conn, "HTTP/1.1 200 Connection established\r\n\r\n"); err != nil {
		conn.Close()
		return
	}
	c := conn
	if buf.Reader.Buffered() > 0 {
		c = &bufferedConn{Conn: conn, r: buf.Reader}
	}
	if !n.conns.push(c) {
		conn.Close()
	}
}

func (n *Net) record(host string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.hosts = append(n.hosts, host)
}

// serveTunnel serves a request that came through a CONNECT tunnel or
// Direct: dispatch by Host and record it.
func (n *Net) serveTunnel(w http.ResponseWriter, r *http.Request) {
	host := HostOf(r)
	h := n.handler(host)
	if h == nil {
		http.Error(w, fmt.Sprintf("cloudnet: no emulator for %s", host), http.StatusMisdirectedRequest)
		return
	}
	rec := &images.StatusRecorder{ResponseWriter: w}
	h.ServeHTTP(rec, r)
	if rec.Status == 0 {
		rec.Status = http.StatusOK
	}
	n.mu.Lock()
	n.reqs = append(n.reqs, Request{Host: host, Method: r.Method, Path: r.URL.Path, Status: rec.Status})
	n.mu.Unlock()
}

type directKey struct{}

// HostOf returns the emulated host name a request was sent to, lower-case
// and without port: r.Host for requests through the proxy, the host given
// to Direct for requests to its listener (whose r.Host is
// 127.0.0.1:PORT, as the client sent and signed it).
func HostOf(r *http.Request) string {
	if h, ok := r.Context().Value(directKey{}).(string); ok {
		return h
	}
	host := r.Host
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return strings.ToLower(strings.TrimSuffix(host, "."))
}

// Direct serves host's handler on its own loopback TLS listener (a
// certificate for 127.0.0.1 from the test CA) and returns its base URL,
// https://127.0.0.1:PORT, for settings such as AWS_ENDPOINT_URL_STS.
// Requests are dispatched and recorded as if they had been sent to host;
// handlers see r.Host as the client sent it and HostOf(r) as host.
// Repeated calls for one host return the same URL.
func (n *Net) Direct(host string) (string, error) {
	host = strings.ToLower(host)
	n.mu.Lock()
	if s, ok := n.directs[host]; ok {
		n.mu.Unlock()
		return "https://" + s.Addr, nil
	}
	n.mu.Unlock()
	if n.handler(host) == nil {
		return "", fmt.Errorf("cloudnet: no emulator for %s", host)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("cloudnet: serving %s directly: %w", host, err)
	}
	s := &http.Server{
		Addr: ln.Addr().String(),
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			n.serveTunnel(w, r.WithContext(context.WithValue(r.Context(), directKey{}, host)))
		}),
		TLSConfig:         n.ca.ServerTLS("127.0.0.1"),
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	go func() { _ = s.ServeTLS(ln, "", "") }()
	n.mu.Lock()
	n.directs[host] = s
	n.mu.Unlock()
	return "https://" + s.Addr, nil
}

// Close stops the proxy, the tunnels and the Direct listeners and removes
// the CA bundle.
func (n *Net) Close() error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil
	}
	n.closed = true
	directs := n.directs
	n.mu.Unlock()
	var errs []error
	for _, s := range directs {
		errs = append(errs, s.Close())
	}
	// Close, not Shutdown: tests end with clients that keep HTTP/2
	// connections open, and nothing in flight deserves a grace period.
	errs = append(errs, n.proxy.Close(), n.tunnel.Close(), os.RemoveAll(n.dir))
	return errors.Join(errs...)
}

// CloseOnCleanup registers Close with tb.Cleanup.
func (n *Net) CloseOnCleanup(tb testing.TB) {
	tb.Cleanup(func() {
		if err := n.Close(); err != nil {
			tb.Errorf("closing cloudnet: %v", err)
		}
	})
}

// connListener hands tunnelled connections to the TLS server.
type connListener struct {
	addr   net.Addr
	ch     chan net.Conn
	once   sync.Once
	closed chan struct{}
}

func newConnListener(addr net.Addr) *connListener {
	return &connListener{addr: addr, ch: make(chan net.Conn), closed: make(chan struct{})}
}

func (l *connListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.closed:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.closed:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

func (l *connListener) Addr() net.Addr { return l.addr }

// bufferedConn reads what the proxy's reader already buffered first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
