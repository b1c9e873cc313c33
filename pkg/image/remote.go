package image

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// RemoteOptions are the go-containerregistry options every registry call
// of ferry's takes, so that each rides out the same bursts: base (nil:
// remote's default transport) under httpx's retry transport, with p's
// bounds, telling logf (when set) about each retry, and manifests capped
// at MaxManifestBytes.
//
// Who retries what (no request is retried at two levels):
//
//   - The transport retries every request but those of a blob upload:
//     reads, blob existence checks, manifest PUTs, token exchanges.
//   - go-containerregistry retries a whole blob upload (existence check,
//     POST, PATCH, committing PUT) when one of the upload's own requests
//     fails, with p's backoff: a PATCH cannot be sent again on its own,
//     and a committing PUT whose answer was lost is found out by the
//     next existence check. The transport holds such a failed answer for
//     the Retry-After the registry asked for before handing it back.
//   - go-containerregistry's own per-request retry is switched off.
//
// (When the registry refuses a cross-repository mount, go-containerregistry
// starts the upload again without it, once: that is a fallback, not a
// retry policy.)
func RemoteOptions(base http.RoundTripper, p httpx.Policy, logf func(format string, args ...any)) []remote.Option {
	if base == nil {
		base = remote.DefaultTransport
	}
	p = p.WithDefaults()
	t := httpx.NewCap(
		httpx.NewRetry(base, httpx.WithPolicy(p), httpx.WithClassifier(registryMode), httpx.WithLogf("registry", logf)),
		MaxManifestBytes, httpx.CapIf(isManifestRead), httpx.Naming("the registry's manifest"))
	return []remote.Option{
		remote.WithTransport(t),
		remote.WithRetryStatusCodes(),
		remote.WithRetryPredicate(uploadRetryable),
		remote.WithRetryBackoff(remote.Backoff{Duration: p.Backoff, Factor: 2, Jitter: 0.1, Steps: p.Attempts}),
	}
}

// registryMode says who retries a registry request: the requests of a
// blob upload session are retried whole by go-containerregistry
// (httpx.Caller); every other request of the registry protocol, token
// exchanges (an OAuth2 POST) included, is safe to send again.
func registryMode(req *http.Request) httpx.Mode {
	if req.Method == http.MethodPatch || strings.Contains(req.URL.Path, "/blobs/uploads/") {
		return httpx.Caller
	}
	return httpx.Always
}

// isManifestRead reports whether req reads a manifest.
func isManifestRead(req *http.Request) bool {
	return req.Method == http.MethodGet && strings.Contains(req.URL.Path, "/manifests/")
}

// uploadRetryable is go-containerregistry's retry predicate, which it
// asks about failed uploads (and, switched off, about single requests).
// It says yes to a retryable failure of an upload's own request only:
// any other request was retried by the transport already, and an error
// that names no request is not one to retry.
func uploadRetryable(err error) bool {
	if err == nil {
		return false // asked after every request: keep it free
	}
	var te *transport.Error
	if errors.As(err, &te) && te.Request != nil {
		return registryMode(te.Request) == httpx.Caller && (httpx.RetryableStatus(te.StatusCode) || te.Temporary())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		u, perr := url.Parse(ue.URL)
		if perr != nil {
			return false
		}
		// Op is the method as http.Client spells it ("Patch").
		req := &http.Request{Method: strings.ToUpper(ue.Op), URL: u}
		return registryMode(req) == httpx.Caller && httpx.RetryableError(ue.Err)
	}
	return false
}
