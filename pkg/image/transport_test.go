package image

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"
)

func TestScrub(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain words", "plain words"},
		{
			`PATCH https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=abc&digest=sha256:x: 500`,
			`PATCH https://registry.heroku.com/v2/shop/web/blobs/uploads/1?_state=REDACTED&digest=sha256%3Ax: 500`,
		},
		{
			`Get "https://_:hrku-secret@registry.heroku.com/v2/": EOF`,
			`Get "https://REDACTED@registry.heroku.com/v2/": EOF`,
		},
		{
			`token from https://auth.example.com/token?scope=repository:a:pull&service=reg&access_token=s3cret failed`,
			`token from https://auth.example.com/token?access_token=REDACTED&scope=repository%3Aa%3Apull&service=reg failed`,
		},
	}
	for _, tt := range tests {
		if got := scrub(tt.in); got != tt.want {
			t.Errorf("scrub(%q)\n got %q\nwant %q", tt.in, got, tt.want)
		}
	}
	inner := errors.New("inner")
	if err := (&scrubbedError{msg: "x", err: inner}); !errors.Is(err, inner) {
		t.Error("scrubbedError hides its cause")
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestLimitedBody(t *testing.T) {
	for _, c := range []struct {
		size    int
		wantErr bool
	}{{0, false}, {100, false}, {MaxManifestBytes, false}, {MaxManifestBytes + 1, true}, {3 * MaxManifestBytes, true}} {
		b := &limitedBody{ReadCloser: io.NopCloser(bytes.NewReader(make([]byte, c.size))), left: MaxManifestBytes}
		got, err := io.ReadAll(b)
		if (err != nil) != c.wantErr {
			t.Errorf("%d bytes: err %v, want error %v", c.size, err, c.wantErr)
		}
		if !c.wantErr && len(got) != c.size {
			t.Errorf("%d bytes: read %d", c.size, len(got))
		}
		if c.wantErr && len(got) > MaxManifestBytes+1 {
			t.Errorf("%d bytes: read %d, past the limit", c.size, len(got))
		}
	}
}
