package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// config is the registry's configuration: filesystem storage, the in-memory
// blob descriptor cache (as Debian's default config), no auth, no upload
// purging, no storage health check, errors only in the log.
const config = `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %q
  cache:
    blobdescriptor: inmemory
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:%d
  secret: ferry-bench-not-a-secret
`

// Registry is a running docker-registry.
type Registry struct {
	// Host is "127.0.0.1:PORT".
	Host string
	// Root is the storage folder.
	Root string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start runs bin (the docker-registry binary) with its storage in root
// (created if missing; existing content is served) and returns once /v2/
// answers. Its log goes to root's sibling file root+".log".
func Start(ctx context.Context, bin, root string) (*Registry, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	var lastErr error
	for range 3 { // a port taken between probe and bind: try another
		r, err := start(ctx, bin, root)
		if err == nil {
			return r, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

func start(ctx context.Context, bin, root string) (*Registry, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	cfg := root + ".yml"
	if err := os.WriteFile(cfg, fmt.Appendf(nil, config, root, port), 0o644); err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	logf, err := os.Create(root + ".log")
	if err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	defer logf.Close()
	cmd := exec.Command(bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting registry: %w", err)
	}
	r := &Registry{Host: "127.0.0.1:" + strconv.Itoa(port), Root: root, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(r.done) }()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		if resp, err := http.Get("http://" + r.Host + "/v2/"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return r, nil
			}
		}
		select {
		case <-r.done:
			log, _ := os.ReadFile(root + ".log")
			return nil, fmt.Errorf("starting registry: it exited: %s", tail(string(log), 500))
		case <-ctx.Done():
			r.Stop()
			return nil, fmt.Errorf("starting registry: /v2/ did not answer: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Stop ends the registry and waits for it. The storage stays.
func (r *Registry) Stop() {
	if r == nil || r.cmd.Process == nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.done
	}
}

// Proxy is a reverse proxy in front of a registry that counts uploads.
type Proxy struct {
	// Host is "127.0.0.1:PORT", to be used instead of the registry's.
	Host string
	// Counter counts blob bytes received, blobs committed and mounts.
	Counter *images.UploadCounter

	srv *http.Server
}

// NewProxy serves a counting reverse proxy to the registry at host. The
// Host header is passed through unchanged, so the Location headers the
// registry sends name the proxy and clients stay on it.
func NewProxy(host string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting proxy: %w", err)
	}
	target := &url.URL{Scheme: "http", Host: host}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host
		},
		FlushInterval: -1,
		Transport: &http.Transport{
			MaxIdleConnsPerHost: 64,
			DisableCompression:  true,
		},
	}
	c := &images.UploadCounter{}
	p := &Proxy{Host: ln.Addr().String(), Counter: c, srv: &http.Server{Handler: c.Wrap(rp), ReadHeaderTimeout: 10 * time.Second}}
	go func() { _ = p.srv.Serve(ln) }()
	return p, nil
}

// Close stops the proxy.
func (p *Proxy) Close() { _ = p.srv.Close() }

// CloneDir copies the folder src to dst (which must not exist), so that a
// run can start from a prepared registry storage and change it freely.
func CloneDir(src, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return fmt.Errorf("cloning %s: %s exists", src, dst)
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := exec.Command("cp", "-a", src, dst).CombinedOutput()
	if err != nil {
		return fmt.Errorf("cloning %s to %s: %w: %s", src, dst, err, out)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer ln.Close()
	addr, ok := ln.Addr().(*net.TCPAddr)
	if !ok {
		return 0, errors.New("finding a free port: not a TCP address")
	}
	return addr.Port, nil
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[len(s)-n:]
}
