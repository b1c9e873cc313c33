package httpx

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCapWindow(t *testing.T) {
	tests := []struct {
		want     int
		left     int64
		truncate bool
		allow    int
	}{
		{100, 1000, false, 100},
		{100, 10, false, 11}, // one byte past the cap tells "longer" from "exactly"
		{100, 10, true, 10},
		{100, 0, false, 1},
		{100, 0, true, 0},
		{100, -1, false, 0},
		{0, 10, false, 0},
	}
	for _, tt := range tests {
		if got := CapWindow(tt.want, tt.left, tt.truncate); got != tt.allow {
			t.Errorf("CapWindow(%d, %d, %v) = %d, want %d", tt.want, tt.left, tt.truncate, got, tt.allow)
		}
	}
}

func TestDeclared(t *testing.T) {
	for _, tt := range []struct {
		length, limit int64
		over          bool
	}{{-1, 10, false}, {0, 10, false}, {10, 10, false}, {11, 10, true}} {
		if got := Declared(tt.length, tt.limit); got != tt.over {
			t.Errorf("Declared(%d, %d) = %v", tt.length, tt.limit, got)
		}
	}
}

func TestTooLargeError(t *testing.T) {
	for _, tt := range []struct {
		err  TooLargeError
		want string
	}{
		{TooLargeError{What: "the registry's manifest", Limit: 4 << 20, Size: 5 << 20}, "the registry's manifest of 5 MiB is larger than the 4 MiB ferry reads"},
		{TooLargeError{What: "the registry's manifest", Limit: 4 << 20, Size: 4<<20 + 1<<19}, "the registry's manifest of 4.5 MiB is larger than the 4 MiB ferry reads"},
		{TooLargeError{What: "the answer", Limit: 8 << 10, Size: -1}, "the answer is larger than the 8 KiB ferry reads"},
		{TooLargeError{What: "the answer", Limit: 100, Size: 101}, "the answer of 101 bytes is larger than the 100 bytes ferry reads"},
	} {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("%q, want %q", got, tt.want)
		}
	}
}

func TestCapBody(t *testing.T) {
	const limit = 1000
	for _, tt := range []struct {
		size     int
		truncate bool
		read     int
		fails    bool
	}{
		{0, false, 0, false},
		{999, false, 999, false},
		{limit, false, limit, false},
		{limit + 1, false, limit, true},
		{10 * limit, false, limit, true},
		{limit + 1, true, limit, false},
		{10 * limit, true, limit, false},
		{10, true, 10, false},
	} {
		var src countingReader
		src.r = bytes.NewReader(make([]byte, tt.size))
		got, err := io.ReadAll(CapBody(io.NopCloser(&src), limit, Naming("the thing"), truncateIf(tt.truncate)))
		var tl *TooLargeError
		if tt.fails != errors.As(err, &tl) || (!tt.fails && err != nil) {
			t.Errorf("%d bytes (truncate %v): err %v", tt.size, tt.truncate, err)
		}
		if len(got) != tt.read {
			t.Errorf("%d bytes (truncate %v): read %d, want %d", tt.size, tt.truncate, len(got), tt.read)
		}
		if src.n > limit+1 {
			t.Errorf("%d bytes (truncate %v): %d bytes taken from the source", tt.size, tt.truncate, src.n)
		}
		if tt.fails && tl.What != "the thing" {
			t.Errorf("error names %q", tl.What)
		}
	}
}

func truncateIf(b bool) CapOption {
	if b {
		return Truncate()
	}
	return func(*capOptions) {}
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestNewCap(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size := map[string]int{"/small": 10, "/big": 5000, "/other": 5000}[strings.TrimSuffix(r.URL.Path, "/chunked")]
		if !strings.HasSuffix(r.URL.Path, "/chunked") {
			w.Header().Set("Content-Length", fmt.Sprint(size))
		}
		fmt.Fprint(w, strings.Repeat("x", size))
	}))
	defer srv.Close()
	rt := NewCap(nil, 1000, CapIf(func(r *http.Request) bool { return r.URL.Path != "/other" }), Naming("the page"))
	for _, tt := range []struct {
		path   string
		early  bool // fails before the body is read
		fails  bool
		length int
	}{
		{"/small", false, false, 10},
		{"/big", true, true, 0},
		{"/big/chunked", false, true, 1000},
		{"/other", false, false, 5000},
	} {
		req, _ := http.NewRequest("GET", srv.URL+tt.path, nil)
		resp, err := rt.RoundTrip(req)
		var tl *TooLargeError
		if tt.early {
			if !errors.As(err, &tl) || tl.Size != 5000 {
				t.Errorf("%s: %v, want a TooLargeError naming 5000 bytes", tt.path, err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.path, err)
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tt.fails != errors.As(err, &tl) || len(b) != tt.length {
			t.Errorf("%s: read %d, %v", tt.path, len(b), err)
		}
	}
}
