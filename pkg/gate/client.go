package gate

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// measurer takes one measurement: the value conditions see as result.
type measurer interface {
	measure(ctx context.Context) (any, error)
}

// maxResponse bounds a provider's answer.
const maxResponse = 4 << 20

// client sends a provider's requests with its TLS options, headers and
// credentials.
type client struct {
	http    *http.Client
	headers http.Header
}

// newClient makes a provider's client; a zero timeout is def (Argo
// Rollouts' defaults: 30 s for prometheus, 10 s for web).
func newClient(c connection, timeout, def time.Duration, getenv func(string) string, secrets *[]string) (*client, error) {
	tr := &http.Transport{Proxy: http.ProxyFromEnvironment}
	if dt, ok := http.DefaultTransport.(*http.Transport); ok {
		tr = dt.Clone()
	}
	tlsConf := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.Insecure} //nolint:gosec // the user's explicit choice (insecure: true), as in Argo Rollouts
	if c.CAFile != "" {
		pem, err := readSmall(c.CAFile, 1<<20)
		if err != nil {
			return nil, fmt.Errorf("caFile: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("caFile %s holds no PEM certificate", c.CAFile)
		}
		tlsConf.RootCAs = pool
	}
	tr.TLSClientConfig = tlsConf
	h := http.Header{}
	for _, x := range c.Headers {
		if x.Key == "" {
			return nil, fmt.Errorf("a header has no key: write key: X-Scope-OrgID")
		}
		v := x.Value
		if x.ValueEnv != "" {
			var err error
			if v, err = credential("header "+x.Key+" valueEnv", x.ValueEnv, getenv, secrets); err != nil {
				return nil, err
			}
		}
		h.Add(x.Key, v)
	}
	if c.BearerTokenEnv != "" && c.BasicAuth != nil {
		return nil, fmt.Errorf("both bearerTokenEnv and basicAuth are given: keep one")
	}
	if c.BearerTokenEnv != "" {
		tok, err := credential("bearerTokenEnv", c.BearerTokenEnv, getenv, secrets)
		if err != nil {
			return nil, err
		}
		h.Set("Authorization", "Bearer "+tok)
	}
	if b := c.BasicAuth; b != nil {
		if b.Username == "" || b.PasswordEnv == "" {
			return nil, fmt.Errorf("basicAuth needs username and passwordEnv")
		}
		pw, err := credential("basicAuth passwordEnv", b.PasswordEnv, getenv, secrets)
		if err != nil {
			return nil, err
		}
		r := &http.Request{Header: http.Header{}}
		r.SetBasicAuth(b.Username, pw)
		h.Set("Authorization", r.Header.Get("Authorization"))
	}
	if timeout <= 0 {
		timeout = def
	}
	// The project's one size cap: an answer past maxResponse is an error
	// measurement, never a silently cut JSON document.
	capped := httpx.NewCap(tr, maxResponse, httpx.Naming("the provider's answer"))
	return &client{http: &http.Client{Transport: capped, Timeout: timeout}, headers: h}, nil
}

// do sends req and returns the body of a 2xx answer; any other answer is
// an error that quotes the start of its body.
func (c *client) do(ctx context.Context, method, url string, body string, accept2xxOnly bool) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil, fmt.Errorf("building the request: %w", err)
	}
	for k, v := range c.headers {
		req.Header[k] = v
	}
	if body != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("could not reach the provider: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, nil, fmt.Errorf("reading the answer: %w", err)
	}
	if accept2xxOnly && (resp.StatusCode < 200 || resp.StatusCode > 299) {
		return resp.StatusCode, b, fmt.Errorf("answered %s: %s", resp.Status, snippet(b))
	}
	return resp.StatusCode, b, nil
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

// readSmall reads at most limit bytes of a CA file: more is an error.
func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(httpx.CapBody(f, limit, httpx.Naming(path)))
	if err != nil {
		return nil, fmt.Errorf("%w: give a PEM file of CA certificates", err)
	}
	return b, nil
}
