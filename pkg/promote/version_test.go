package promote

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/pkg/health"
)

// A version-aware health check passes only once the answer shows the
// digest this release promoted: old pods answering first do not count.
func TestVersionAwareHealth(t *testing.T) {
	var shown atomic.Pointer[string]
	old := "sha256:" + strings.Repeat("b", 64)
	shown.Store(&old) // the old version
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("X-Version", *shown.Load())
	}))
	defer srv.Close()
	v, err := health.ParseVersion("header:X-Version")
	if err != nil {
		t.Fatal(err)
	}
	chk := health.Check{URL: srv.URL, Interval: 20 * time.Millisecond, Threshold: 3, Timeout: 5 * time.Second, Version: v}

	a := &fakeTarget{name: "a"}
	r, err := Run(context.Background(), fakeSource{}, []Target{WithHealth(a, chk, nil)}, Options{})
	if err == nil || r.Outcome != OutcomeFailed || !strings.Contains(r.Targets[0].Error, "not the promoted version") {
		t.Fatalf("old version answered: outcome %s, err %v, target %+v", r.Outcome, err, r.Targets[0])
	}

	short := img.Digest.Hex[:12] // the short form of the promoted digest
	shown.Store(&short)
	b := &fakeTarget{name: "b"}
	r, err = Run(context.Background(), fakeSource{}, []Target{WithHealth(b, chk, nil)}, Options{})
	if err != nil || r.Outcome != OutcomePromoted {
		t.Fatalf("new version answered: outcome %s, err %v", r.Outcome, err)
	}
}
