package image

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/pkg/redact"
)

// observer watches the requests remote makes to the destination repository
// and records what happened to each blob: found (HEAD 200), mounted (POST
// ?mount= answered 201) or pushed (upload committed with 201), plus the
// bytes sent in upload bodies. It changes nothing.
type observer struct {
	next   http.RoundTripper
	host   string // destination registry, as in request URLs
	prefix string // "/v2/<repository>/"

	uploaded atomic.Int64

	mu      sync.Mutex
	present map[v1.Hash]bool
	mounted map[v1.Hash]bool
	pushed  map[v1.Hash]bool
}

func newObserver(next http.RoundTripper, host, repo string) *observer {
	return &observer{
		next:    next,
		host:    host,
		prefix:  "/v2/" + repo + "/",
		present: map[v1.Hash]bool{},
		mounted: map[v1.Hash]bool{},
		pushed:  map[v1.Hash]bool{},
	}
}

func (o *observer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != o.host || !strings.HasPrefix(req.URL.Path, o.prefix) {
		return o.next.RoundTrip(req)
	}
	rest := strings.TrimPrefix(req.URL.Path, o.prefix)
	upload := strings.HasPrefix(rest, "blobs/uploads")
	if upload && req.Body != nil && req.Body != http.NoBody {
		counted := *req // RoundTrippers must not modify the caller's request
		counted.Body = &countingBody{ReadCloser: req.Body, n: &o.uploaded}
		req = &counted
	}
	resp, err := o.next.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodHead && !upload && strings.HasPrefix(rest, "blobs/") && resp.StatusCode == http.StatusOK:
		o.record(o.present, strings.TrimPrefix(rest, "blobs/"))
	case req.Method == http.MethodPost && upload && q.Get("mount") != "" && resp.StatusCode == http.StatusCreated:
		o.record(o.mounted, q.Get("mount"))
	case upload && q.Get("digest") != "" && resp.StatusCode == http.StatusCreated:
		o.record(o.pushed, q.Get("digest"))
	}
	return resp, nil
}

func (o *observer) record(set map[v1.Hash]bool, digest string) {
	h, err := v1.NewHash(digest)
	if err != nil {
		return
	}
	o.mu.Lock()
	set[h] = true
	o.mu.Unlock()
}

// counts returns how many of the blobs in want were mounted and pushed, and
// how many of the layers in layers are done in any way.
func (o *observer) counts(want map[v1.Hash]int64, layers map[v1.Hash]bool) (mounted, pushed, layersDone int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	for h := range want {
		switch {
		case o.pushed[h]:
			pushed++
		case o.mounted[h]:
			mounted++
		}
	}
	for h := range layers {
		if o.pushed[h] || o.mounted[h] || o.present[h] {
			layersDone++
		}
	}
	return mounted, pushed, layersDone
}

type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (b *countingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n.Add(int64(n))
	return n, err
}

// retryAfter honours Retry-After on 429 and 503 answers: it holds the
// answer back for the time the registry asked (at most max) before handing
// it to remote's retry logic, which then tries again after its own short
// backoff. A cancelled context ends the wait at once. Every answer with a
// status remote retries is reported to logf, when set.
type retryAfter struct {
	next     http.RoundTripper
	max      time.Duration
	attempts int
	logf     func(format string, args ...any)
}

func (t *retryAfter) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err == nil && strings.Contains(req.URL.Path, "/manifests/") && req.Method == http.MethodGet {
		if resp.ContentLength > MaxManifestBytes {
			resp.Body.Close()
			return nil, manifestTooLarge(resp.ContentLength)
		}
		resp.Body = &limitedBody{ReadCloser: resp.Body, left: MaxManifestBytes}
	}
	if err != nil || !slices.Contains(retryStatusCodes, resp.StatusCode) {
		return resp, err
	}
	var d time.Duration
	if resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable {
		if ra, ok := parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()); ok && ra > 0 {
			d = min(ra, t.max)
		}
	}
	if t.logf != nil {
		wait := ""
		if d > 0 {
			wait = fmt.Sprintf(", after the %s it asked for", d)
		}
		t.logf("registry: %s %s%s answered %s; retrying%s (at most %d attempts)",
			req.Method, req.URL.Host, redact.URLs(req.URL.Path), resp.Status, wait, t.attempts)
	}
	if d <= 0 {
		return resp, nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return resp, nil
	case <-req.Context().Done():
		resp.Body.Close()
		return nil, req.Context().Err()
	}
}

func manifestTooLarge(n int64) error {
	if n < 0 {
		return fmt.Errorf("the registry sent a manifest larger than the %d MiB ferry reads", MaxManifestBytes>>20)
	}
	return fmt.Errorf("the registry offers a manifest of %.1f MiB, larger than the %d MiB ferry reads", float64(n)/(1<<20), MaxManifestBytes>>20)
}

// limitedBody fails a read that goes past left bytes.
type limitedBody struct {
	io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	// Read at most one byte past the limit: it tells a body of exactly
	// the limit from a longer one.
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, manifestTooLarge(-1)
	}
	return n, err
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return t.Sub(now), true
	}
	return 0, false
}
