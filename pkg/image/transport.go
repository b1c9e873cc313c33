package image

import (
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"

	v1 "github.com/google/go-containerregistry/pkg/v1"
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
