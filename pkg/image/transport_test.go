package image

import (
	"bytes"
	"io"
	"net/http"
	"testing"
	"time"
)

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
