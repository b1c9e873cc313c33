package images

import (
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// Chain composes middlewares; the first one is the outermost.
func Chain(wraps ...func(http.Handler) http.Handler) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		for i := len(wraps) - 1; i >= 0; i-- {
			h = wraps[i](h)
		}
		return h
	}
}

// Matching returns a request matcher for a method ("" for any) and a
// substring of the URL path ("" for any).
func Matching(method, pathContains string) func(*http.Request) bool {
	return func(r *http.Request) bool {
		return (method == "" || r.Method == method) && strings.Contains(r.URL.Path, pathContains)
	}
}

// isUpload reports whether r carries blob bytes: POST, PATCH or PUT under
// /blobs/uploads/.
func isUpload(r *http.Request) bool {
	switch r.Method {
	case http.MethodPost, http.MethodPatch, http.MethodPut:
		return strings.Contains(r.URL.Path, "/blobs/uploads")
	}
	return false
}

// UploadCounter is a middleware that counts, on the registry's side, the
// blob bytes clients send (request bodies of POST, PATCH and PUT under
// /blobs/uploads/) and the blobs committed and mounted. Its zero value is
// ready; it is safe for concurrent use.
type UploadCounter struct {
	bytes   atomic.Int64
	commits atomic.Int64
	mounts  atomic.Int64
}

// Wrap implements the middleware.
func (c *UploadCounter) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isUpload(r) {
			next.ServeHTTP(w, r)
			return
		}
		r.Body = &countingBody{ReadCloser: r.Body, n: &c.bytes}
		sw := &StatusRecorder{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		switch {
		case r.Method == http.MethodPost && r.URL.Query().Get("mount") != "" && sw.Status == http.StatusCreated:
			c.mounts.Add(1)
		case r.Method != http.MethodPatch && sw.Status == http.StatusCreated:
			c.commits.Add(1)
		}
	})
}

// Bytes is the number of blob bytes received.
func (c *UploadCounter) Bytes() int64 { return c.bytes.Load() }

// Blobs is the number of blob uploads that completed (201 Created).
func (c *UploadCounter) Blobs() int { return int(c.commits.Load()) }

// Mounts is the number of cross-repository mounts that succeeded.
func (c *UploadCounter) Mounts() int { return int(c.mounts.Load()) }

// Reset zeroes the counters.
func (c *UploadCounter) Reset() {
	c.bytes.Store(0)
	c.commits.Store(0)
	c.mounts.Store(0)
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

// StatusRecorder is an http.ResponseWriter that remembers the status it
// wrote (200 when the handler wrote a body without one), for middleware
// that acts on the answer. It passes Flush on, so streamed answers stay
// streamed.
type StatusRecorder struct {
	http.ResponseWriter
	Status int
}

// WriteHeader records code and writes it.
func (w *StatusRecorder) WriteHeader(code int) {
	if w.Status == 0 {
		w.Status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

// Write records 200 when no status was written yet.
func (w *StatusRecorder) Write(b []byte) (int, error) {
	if w.Status == 0 {
		w.Status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush flushes the underlying writer when it can.
func (w *StatusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Fault is a middleware that fails the first Times requests that Match
// (every request when Match is nil) with Status, after Delay. Its counters
// are safe for concurrent use; configure it before serving.
type Fault struct {
	// Match selects the requests to fail; nil selects all.
	Match func(*http.Request) bool
	// Times is how many matching requests fail; later ones pass through.
	Times int
	// Status is the failure's status code; 0 means 503.
	Status int
	// RetryAfter, when set, is sent as the Retry-After header.
	RetryAfter string
	// Delay holds the failing response back this long, or until the
	// client goes away: a slow or hanging registry.
	Delay time.Duration

	seen     atomic.Int64
	injected atomic.Int64
}

// Wrap implements the middleware.
func (f *Fault) Wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if f.Match != nil && !f.Match(r) {
			next.ServeHTTP(w, r)
			return
		}
		if f.seen.Add(1) > int64(f.Times) {
			next.ServeHTTP(w, r)
			return
		}
		f.injected.Add(1)
		// Drain what the client sends so that it sees our answer rather
		// than a reset connection.
		_, _ = io.Copy(io.Discard, r.Body)
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
			}
			t.Stop()
		}
		if f.RetryAfter != "" {
			w.Header().Set("Retry-After", f.RetryAfter)
		}
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		code := map[int]string{
			http.StatusTooManyRequests:    "TOOMANYREQUESTS",
			http.StatusServiceUnavailable: "UNAVAILABLE",
		}[status]
		if code == "" {
			w.WriteHeader(status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"errors":[{"code":"`+code+`","message":"injected fault"}]}`)
	})
}

// Injected is the number of requests that were failed.
func (f *Fault) Injected() int { return int(f.injected.Load()) }
