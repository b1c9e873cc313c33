package image

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"syscall"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

func request(method, rawURL string) *http.Request {
	r, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		panic(err)
	}
	return r
}

func TestRegistryMode(t *testing.T) {
	const reg = "https://registry.example/v2/acme/shop/"
	tests := []struct {
		method, url string
		want        httpx.Mode
	}{
		{"GET", "https://registry.example/v2/", httpx.Always},
		{"GET", reg + "manifests/v1", httpx.Always},
		{"HEAD", reg + "blobs/sha256:abc", httpx.Always},
		{"PUT", reg + "manifests/v1", httpx.Always},
		{"POST", "https://auth.example/token", httpx.Always}, // an OAuth2 token exchange
		{"POST", reg + "blobs/uploads/", httpx.Caller},
		{"POST", reg + "blobs/uploads/?mount=sha256:abc&from=acme/base", httpx.Caller},
		{"PATCH", reg + "blobs/uploads/5f0c?_state=x", httpx.Caller},
		{"PATCH", "https://storage.example/upload/5f0c", httpx.Caller}, // a PATCH is never sent twice
		{"PUT", reg + "blobs/uploads/5f0c?digest=sha256:abc", httpx.Caller},
	}
	for _, tt := range tests {
		if got := registryMode(request(tt.method, tt.url)); got != tt.want {
			t.Errorf("%s %s: %s, want %s", tt.method, tt.url, got, tt.want)
		}
	}
}

func TestUploadRetryable(t *testing.T) {
	const reg = "https://registry.example/v2/acme/shop/"
	terr := func(method, u string, status int, codes ...transport.ErrorCode) error {
		e := &transport.Error{StatusCode: status, Request: request(method, u)}
		for _, c := range codes {
			e.Errors = append(e.Errors, transport.Diagnostic{Code: c})
		}
		return fmt.Errorf("writing: %w", e)
	}
	uerr := func(op, u string, err error) error { return &url.Error{Op: op, URL: u, Err: err} }
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"upload POST throttled", terr("POST", reg+"blobs/uploads/", 429), true},
		{"upload PATCH unavailable", terr("PATCH", reg+"blobs/uploads/1", 503), true},
		{"upload session lost", terr("PATCH", reg+"blobs/uploads/1", 404, transport.BlobUploadInvalidErrorCode), true},
		{"commit PUT bad gateway", terr("PUT", reg+"blobs/uploads/1?digest=sha256:a", 502), true},
		{"upload refused", terr("PATCH", reg+"blobs/uploads/1", 403, transport.DeniedErrorCode), false},
		{"upload not implemented", terr("POST", reg+"blobs/uploads/", 501), false},
		{"existence check: the transport retried it", terr("HEAD", reg+"blobs/sha256:a", 503), false},
		{"manifest PUT: the transport retried it", terr("PUT", reg+"manifests/v1", 503), false},
		{"source read: the transport retried it", terr("GET", "https://src.example/v2/a/blobs/sha256:a", 503), false},
		{"PATCH cut short", uerr("Patch", reg+"blobs/uploads/1", io.ErrUnexpectedEOF), true},
		{"POST refused connection", uerr("Post", reg+"blobs/uploads/", syscall.ECONNREFUSED), true},
		{"GET cut short: the transport retried it", uerr("Get", reg+"manifests/v1", io.ErrUnexpectedEOF), false},
		{"PATCH cancelled", uerr("Patch", reg+"blobs/uploads/1", fmt.Errorf("x: %w", context.Canceled)), false},
		{"no request named", io.ErrUnexpectedEOF, false},
		{"not an HTTP error", errors.New("missing Location header"), false},
	}
	for _, tt := range tests {
		if got := uploadRetryable(tt.err); got != tt.want {
			t.Errorf("%s: uploadRetryable = %v, want %v", tt.name, got, tt.want)
		}
	}
}
