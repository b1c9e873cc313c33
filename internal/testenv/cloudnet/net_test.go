package cloudnet

import (
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

var shared *Net

func TestMain(m *testing.M) {
	n, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := n.SetEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	shared = n
	code := m.Run()
	if err := n.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func TestMatchLabels(t *testing.T) {
	tests := []struct {
		pattern, host string
		want          bool
	}{
		{"sts.amazonaws.com", "sts.amazonaws.com", true},
		{"sts.*.amazonaws.com", "sts.eu-west-1.amazonaws.com", true},
		{"sts.*.amazonaws.com", "sts.amazonaws.com", false},
		{"*.dkr.ecr.*.amazonaws.com", "111122223333.dkr.ecr.eu-west-1.amazonaws.com", true},
		{"*.dkr.ecr.*.amazonaws.com", "a.b.dkr.ecr.eu-west-1.amazonaws.com", false},
		{"*-docker.pkg.dev", "europe-west1-docker.pkg.dev", true},
		{"*-docker.pkg.dev", "docker.pkg.dev", false},
		{"*.azurecr.io", ".azurecr.io", false},
	}
	for _, tt := range tests {
		got := matchLabels(strings.Split(tt.pattern, "."), strings.Split(tt.host, "."))
		if got != tt.want {
			t.Errorf("%s ~ %s = %v, want %v", tt.pattern, tt.host, got, tt.want)
		}
	}
}

func hello(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "%s %s %s %s", name, HostOf(r), r.TLS.ServerName, r.Proto)
	})
}

func get(t *testing.T, c *http.Client, url string) (string, error) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), nil
}

// TestEnvironmentRoutesDefaultClient proves the user-facing wiring: a
// client that knows nothing of cloudnet (http.DefaultClient, which reads
// HTTPS_PROXY and verifies against SSL_CERT_FILE) reaches the handler of
// the real host name, over HTTP/2.
func TestEnvironmentRoutesDefaultClient(t *testing.T) {
	shared.Handle("sts.amazonaws.com", hello("global"))
	shared.Handle("sts.*.amazonaws.com", hello("regional"))
	shared.Reset()
	body, err := get(t, http.DefaultClient, "https://sts.eu-west-1.amazonaws.com/x")
	if err != nil {
		t.Fatal(err)
	}
	if want := "regional sts.eu-west-1.amazonaws.com sts.eu-west-1.amazonaws.com HTTP/2.0"; body != want {
		t.Fatalf("got %q, want %q", body, want)
	}
	body, err = get(t, http.DefaultClient, "https://sts.amazonaws.com/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(body, "global sts.amazonaws.com") {
		t.Fatalf("got %q", body)
	}
	if !shared.Reached("sts.eu-west-1.amazonaws.com") || shared.Reached("sts.us-east-1.amazonaws.com") {
		t.Fatalf("hosts %v", shared.Hosts())
	}
	reqs := shared.RequestsTo("sts.eu-west-1.amazonaws.com")
	if len(reqs) != 1 || reqs[0].Path != "/x" || reqs[0].Status != http.StatusOK || reqs[0].Method != http.MethodGet {
		t.Fatalf("requests %+v", reqs)
	}
}

func TestUnknownHostRefusedAndRecorded(t *testing.T) {
	shared.Reset()
	_, err := get(t, shared.Client(), "https://metadata.example.com/")
	if err == nil || !strings.Contains(err.Error(), "cloudnet: no emulator for metadata.example.com") {
		t.Fatalf("error %v, want the proxy's refusal", err)
	}
	if !slices.Contains(shared.Hosts(), "metadata.example.com") {
		t.Fatalf("refused host not recorded: %v", shared.Hosts())
	}
	if len(shared.Requests()) != 0 {
		t.Fatalf("a refused host reached a handler: %+v", shared.Requests())
	}
}

func TestUntrustedClientFails(t *testing.T) {
	shared.Handle("oauth2.googleapis.com", hello("google"))
	// Through the proxy, but trusting nothing: the handshake must fail,
	// so a client that passes does verify against the test CA.
	tr := transportOf(t, shared.Client())
	tr.TLSClientConfig.RootCAs = x509.NewCertPool()
	_, err := get(t, &http.Client{Transport: tr}, "https://oauth2.googleapis.com/token")
	if err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("error %v, want a certificate error", err)
	}
	if _, err := get(t, shared.Client(), "https://oauth2.googleapis.com/token"); err != nil {
		t.Fatal(err)
	}
}

func TestSecondNetCannotTakeTheEnvironment(t *testing.T) {
	other, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	other.CloseOnCleanup(t)
	if err := other.SetEnv(); err == nil {
		t.Fatal("a second Net took over HTTPS_PROXY")
	}
	if os.Getenv("HTTPS_PROXY") != shared.ProxyURL() {
		t.Fatal("HTTPS_PROXY changed")
	}
}

func TestDirect(t *testing.T) {
	shared.Handle("api.ecr.eu-west-1.amazonaws.com", hello("ecr"))
	base, err := shared.Direct("api.ecr.eu-west-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "https://127.0.0.1:") {
		t.Fatalf("base %s", base)
	}
	again, err := shared.Direct("api.ecr.eu-west-1.amazonaws.com")
	if err != nil || again != base {
		t.Fatalf("second Direct: %s, %v", again, err)
	}
	shared.Reset()
	body, err := get(t, http.DefaultClient, base+"/")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(body, "ecr api.ecr.eu-west-1.amazonaws.com") {
		t.Fatalf("got %q", body)
	}
	if len(shared.Hosts()) != 0 {
		t.Fatalf("loopback went through the proxy: %v", shared.Hosts())
	}
	if !shared.Reached("api.ecr.eu-west-1.amazonaws.com") {
		t.Fatal("direct request not recorded")
	}
	if _, err := shared.Direct("nowhere.example.com"); err == nil {
		t.Fatal("Direct of an unknown host succeeded")
	}
}

func TestPlainHTTPRefused(t *testing.T) {
	t.Setenv("HTTP_PROXY", shared.ProxyURL()) // read afresh: a new transport
	tr := transportOf(t, shared.Client())
	resp, err := (&http.Client{Transport: tr}).Get("http://sts.amazonaws.com/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("status %d", resp.StatusCode)
	}
}

func TestProcessEnv(t *testing.T) {
	base := []string{"PATH=/bin", "AWS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt", "SSL_CERT_FILE=/etc/ssl/other.pem",
		"no_proxy=.amazonaws.com", "HOME=/github/home"}
	got := shared.ProcessEnv(base)
	want := []string{"PATH=/bin", "HOME=/github/home", "HTTPS_PROXY=" + shared.ProxyURL(), "SSL_CERT_FILE=" + shared.CAFile()}
	if !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// transportOf returns a clone of c's *http.Transport.
func transportOf(t *testing.T, c *http.Client) *http.Transport {
	t.Helper()
	tr, ok := c.Transport.(*http.Transport)
	if !ok {
		t.Fatalf("client transport is %T, not *http.Transport", c.Transport)
	}
	return tr.Clone()
}
