package gate

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An answer past maxResponse is an error measurement, not a JSON
// document cut short.
func TestProviderAnswerPastTheCapIsAnError(t *testing.T) {
	big := `{"v":"` + strings.Repeat("x", maxResponse) + `"}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(big)) }))
	defer srv.Close()
	w, err := newWeb(WebProvider{URL: srv.URL, JSONPath: "{$.v}"}, func(string) string { return "" }, new([]string))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.measure(context.Background()); err == nil || !strings.Contains(err.Error(), "the provider's answer is larger than the 4 MiB ferry reads") {
		t.Errorf("measure: %v, want the cap named", err)
	}
}
