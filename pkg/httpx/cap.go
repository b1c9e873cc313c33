package httpx

import (
	"fmt"
	"io"
	"net/http"
)

// CapOption configures [NewCap] and [CapBody].
type CapOption func(*capOptions)

type capOptions struct {
	match    func(*http.Request) bool
	what     string
	truncate bool
}

// CapIf caps only the answers to requests for which match is true
// [every answer].
func CapIf(match func(*http.Request) bool) CapOption {
	return func(o *capOptions) { o.match = match }
}

// Naming says what a capped body is, for [TooLargeError] ["the answer"].
func Naming(what string) CapOption {
	return func(o *capOptions) { o.what = what }
}

// Truncate ends a body at the cap, as if it were all, instead of failing.
func Truncate() CapOption {
	return func(o *capOptions) { o.truncate = true }
}

func capOpts(opts []CapOption) capOptions {
	o := capOptions{what: "the answer"}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// TooLargeError is a body that went past its cap.
type TooLargeError struct {
	// What names the body ("the registry's manifest").
	What string
	// Limit is the cap in bytes.
	Limit int64
	// Size is the size the server declared, or -1 when the body just
	// went on past Limit.
	Size int64
}

func (e *TooLargeError) Error() string {
	if e.Size < 0 {
		return fmt.Sprintf("%s is larger than the %s ferry reads", e.What, size(e.Limit))
	}
	return fmt.Sprintf("%s of %s is larger than the %s ferry reads", e.What, size(e.Size), size(e.Limit))
}

// size says n in the unit it is round in.
func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// Declared reports whether a body that declares length (Content-Length;
// -1 unknown) is over limit before any of it is read.
func Declared(length, limit int64) bool { return length > limit }

// CapWindow says how many bytes the next read of a capped body may ask
// for, given a buffer of want bytes and left bytes to the cap. A failing
// cap reads one byte past it, which tells a body of exactly the cap from
// a longer one; a truncating cap stops at it.
func CapWindow(want int, left int64, truncate bool) int {
	allow := left
	if !truncate {
		allow++
	}
	if allow <= 0 {
		return 0
	}
	return int(min(int64(want), allow))
}

// cappedBody fails (or ends) reads past the cap.
type cappedBody struct {
	io.ReadCloser
	left  int64
	limit int64
	o     capOptions
}

// CapBody returns body capped at limit bytes (see [TooLargeError] and
// [Truncate]).
func CapBody(body io.ReadCloser, limit int64, opts ...CapOption) io.ReadCloser {
	return &cappedBody{ReadCloser: body, left: limit, limit: limit, o: capOpts(opts)}
}

func (b *cappedBody) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	w := CapWindow(len(p), b.left, b.o.truncate)
	if w == 0 {
		if b.o.truncate {
			return 0, io.EOF
		}
		return 0, b.tooLarge()
	}
	n, err := b.ReadCloser.Read(p[:w])
	b.left -= int64(n)
	if b.left < 0 {
		return n + int(b.left), b.tooLarge()
	}
	return n, err
}

func (b *cappedBody) tooLarge() error {
	return &TooLargeError{What: b.o.what, Limit: b.limit, Size: -1}
}

// capper is the capping RoundTripper.
type capper struct {
	next  http.RoundTripper
	limit int64
	o     capOptions
}

// NewCap returns a RoundTripper that caps the bodies of the answers next
// (nil: http.DefaultTransport) gives at limit bytes, as the options say.
// An answer that declares a larger Content-Length is closed unread and
// the request fails with a [*TooLargeError].
func NewCap(next http.RoundTripper, limit int64, opts ...CapOption) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	return &capper{next: next, limit: limit, o: capOpts(opts)}
}

func (c *capper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.next.RoundTrip(req)
	if err != nil || (c.o.match != nil && !c.o.match(req)) {
		return resp, err
	}
	if Declared(resp.ContentLength, c.limit) {
		if !c.o.truncate {
			resp.Body.Close()
			return nil, &TooLargeError{What: c.o.what, Limit: c.limit, Size: resp.ContentLength}
		}
		resp.ContentLength = -1 // what is left is shorter
	}
	resp.Body = &cappedBody{ReadCloser: resp.Body, left: c.limit, limit: c.limit, o: c.o}
	return resp, nil
}
