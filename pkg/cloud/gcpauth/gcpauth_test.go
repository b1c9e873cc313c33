package gcpauth

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-dev/ferry/pkg/promote"
)

const provider = "projects/123456789/locations/global/workloadIdentityPools/ci/providers/github"

// fakeGoogle follows Google's token endpoints: the OAuth2 JWT-bearer grant
// (checked against the service account's key), the STS token exchange,
// IAM credentials' generateAccessToken, and the metadata server's token.
type fakeGoogle struct {
	t   *testing.T
	key *rsa.PrivateKey
	url string

	mu       sync.Mutex
	requests []string // host + path
	minted   int
	refuse   bool
}

func (g *fakeGoogle) serve(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	g.requests = append(g.requests, r.Host+r.URL.Path)
	g.minted++
	n := g.minted
	refuse := g.refuse
	g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	fail := func(code int, e, d string) {
		w.WriteHeader(code)
		json.NewEncoder(w).Encode(map[string]string{"error": e, "error_description": d})
	}
	switch {
	case r.URL.Path == "/token": // service account key's token_uri
		r.ParseForm()
		if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer" {
			fail(400, "unsupported_grant_type", "want jwt-bearer")
			return
		}
		claims, err := g.verify(r.PostForm.Get("assertion"))
		if err != nil {
			fail(400, "invalid_grant", "Invalid JWT Signature.")
			return
		}
		if claims["iss"] != "ferry@shop.iam.gserviceaccount.com" || claims["aud"] != g.url+"/token" ||
			claims["scope"] != "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email" {
			fail(400, "invalid_scope", fmt.Sprintf("claims %v", claims))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("ya29.sa-%d", n), "expires_in": 3599, "token_type": "Bearer"})
	case r.Host == "sts.googleapis.com" && r.URL.Path == "/v1/token":
		r.ParseForm()
		f := r.PostForm
		if refuse {
			fail(400, "invalid_grant", "The audience in ID Token [x] does not match the expected audience.")
			return
		}
		if f.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" || f.Get("audience") != "//iam.googleapis.com/"+provider ||
			f.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" || f.Get("subject_token") != "ci-token-for-https://iam.googleapis.com/"+provider ||
			f.Get("requested_token_type") != "urn:ietf:params:oauth:token-type:access_token" {
			fail(400, "invalid_request", fmt.Sprintf("form %v", f))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": fmt.Sprintf("federated-%d", n), "issued_token_type": "urn:ietf:params:oauth:token-type:access_token", "token_type": "Bearer", "expires_in": 3600})
	case r.Host == "iamcredentials.googleapis.com" && r.URL.Path == "/v1/projects/-/serviceAccounts/deployer@shop.iam.gserviceaccount.com:generateAccessToken":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer federated-") {
			w.WriteHeader(401)
			return
		}
		var body struct {
			Scope []string `json:"scope"`
		}
		json.NewDecoder(r.Body).Decode(&body)
		if strings.Join(body.Scope, " ") != strings.Join(Scopes, " ") {
			w.WriteHeader(400)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{"accessToken": fmt.Sprintf("ya29.impersonated-%d", n), "expireTime": time.Now().Add(time.Hour).UTC().Format(time.RFC3339)})
	case r.URL.Path == "/computeMetadata/v1/instance/service-accounts/default/token":
		if r.Header.Get("Metadata-Flavor") != "Google" {
			w.WriteHeader(403)
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"access_token": "ya29.metadata", "expires_in": 3000, "token_type": "Bearer"})
	default:
		w.WriteHeader(404)
	}
}

func (g *fakeGoogle) verify(assertion string) (map[string]any, error) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, fmt.Errorf("not a JWT")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if err := rsa.VerifyPKCS1v15(&g.key.PublicKey, crypto.SHA256, sum[:], sig); err != nil {
		return nil, err
	}
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	return c, json.Unmarshal(b, &c)
}

func newGoogle(t *testing.T) (*fakeGoogle, *httptest.Server) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	g := &fakeGoogle{t: t, key: key}
	srv := httptest.NewTLSServer(http.HandlerFunc(g.serve))
	t.Cleanup(srv.Close)
	g.url = srv.URL
	return g, srv
}

// mapped is a client that reaches srv for every host name, with real
// host names and TLS — what HTTPS_PROXY to a mapping proxy gives ferry.
func mapped(srv *httptest.Server) *http.Client {
	base, ok := srv.Client().Transport.(*http.Transport)
	if !ok {
		panic(fmt.Sprintf("httptest's client transport is a %T", srv.Client().Transport))
	}
	tr := base.Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{RootCAs: tr.TLSClientConfig.RootCAs, InsecureSkipVerify: true} // the test cert names 127.0.0.1 only
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func (g *fakeGoogle) keyFile(t *testing.T, dir string) string {
	der := x509.MarshalPKCS1PrivateKey(g.key)
	b, _ := json.Marshal(map[string]string{
		"type": "service_account", "project_id": "shop", "private_key_id": "k1",
		"private_key":  string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: der})),
		"client_email": "ferry@shop.iam.gserviceaccount.com", "client_id": "1",
		"token_uri": g.url + "/token",
	})
	path := filepath.Join(dir, "key.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type fakeOIDC struct{ auds []string }

func (f *fakeOIDC) String() string { return "test OIDC" }
func (f *fakeOIDC) Token(_ context.Context, aud string) (string, error) {
	f.auds = append(f.auds, aud)
	return "ci-token-for-" + aud, nil
}

func TestServiceAccountKey(t *testing.T) {
	g, srv := newGoogle(t)
	var reported []string
	p := New(Settings{CredentialsFile: g.keyFile(t, t.TempDir()), HTTPClient: srv.Client(), Report: func(v string) { reported = append(reported, v) }})
	ctx := context.Background()
	a, err := p.Mint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p.Mint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a.AccessToken == b.AccessToken || !strings.HasPrefix(a.AccessToken, "ya29.sa-") {
		t.Fatalf("Mint must mint anew each time: %q then %q", a.AccessToken, b.AccessToken)
	}
	if time.Until(a.Expiry) < 59*time.Minute {
		t.Fatalf("expiry %v", a.Expiry)
	}
	if strings.Join(reported, ",") != a.AccessToken+","+b.AccessToken {
		t.Fatalf("reported %q", reported)
	}
	from, _ := p.Source(ctx)
	if !strings.Contains(from, "credentials file") {
		t.Fatalf("source %q", from)
	}
	// TokenSource caches.
	ts := p.TokenSource()
	c, _ := ts.Token()
	d, _ := ts.Token()
	if c.AccessToken != d.AccessToken || len(g.requests) != 3 {
		t.Fatalf("TokenSource did not cache: %d requests", len(g.requests))
	}
}

func TestGcloudADCFile(t *testing.T) {
	g, srv := newGoogle(t)
	home := t.TempDir()
	dir := filepath.Join(home, ".config", "gcloud")
	os.MkdirAll(dir, 0o700)
	key := g.keyFile(t, t.TempDir())
	b, _ := os.ReadFile(key)
	os.WriteFile(filepath.Join(dir, "application_default_credentials.json"), b, 0o600)
	p := New(Settings{Home: home, HTTPClient: srv.Client()})
	if _, err := p.Mint(context.Background()); err != nil {
		t.Fatal(err)
	}
	from, _ := p.Source(context.Background())
	if !strings.Contains(from, "gcloud application default credentials") {
		t.Fatalf("source %q", from)
	}
}

func TestFederationInProcess(t *testing.T) {
	g, srv := newGoogle(t)
	oidc := &fakeOIDC{}
	p := New(Settings{WorkloadIdentityProvider: "//iam.googleapis.com/" + provider, ServiceAccount: "deployer@shop.iam.gserviceaccount.com", OIDC: oidc, HTTPClient: mapped(srv)})
	ctx := context.Background()
	tok, err := p.Mint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.impersonated-") {
		t.Fatalf("token %q, want the impersonated one", tok.AccessToken)
	}
	want := []string{"sts.googleapis.com/v1/token", "iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/deployer@shop.iam.gserviceaccount.com:generateAccessToken"}
	if strings.Join(g.requests, " ") != strings.Join(want, " ") {
		t.Fatalf("requests %v, want %v", g.requests, want)
	}
	if len(oidc.auds) != 1 || oidc.auds[0] != "https://iam.googleapis.com/"+provider {
		t.Fatalf("CI token audiences %v", oidc.auds)
	}
	from, _ := p.Source(ctx)
	if !strings.Contains(from, "workload identity federation") || !strings.Contains(from, "deployer@") {
		t.Fatalf("source %q", from)
	}

	// Without a service account, the federated token itself is used.
	g.requests = nil
	p = New(Settings{WorkloadIdentityProvider: provider, OIDC: &fakeOIDC{}, HTTPClient: mapped(srv)})
	tok, err = p.Mint(ctx)
	if err != nil || !strings.HasPrefix(tok.AccessToken, "federated-") || len(g.requests) != 1 {
		t.Fatalf("token %q, %v, requests %v", tok.AccessToken, err, g.requests)
	}
}

func TestFederationRefused(t *testing.T) {
	g, srv := newGoogle(t)
	g.refuse = true
	p := New(Settings{WorkloadIdentityProvider: provider, OIDC: &fakeOIDC{}, HTTPClient: mapped(srv)})
	_, err := p.Mint(context.Background())
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "does not match the expected audience") {
		t.Fatalf("want an input error about the audience, got %v", err)
	}
	if strings.Contains(err.Error(), "ci-token-for") {
		t.Fatal("the error shows the CI token")
	}
}

func TestMetadataServer(t *testing.T) {
	_, srv := newGoogle(t)
	plain := httptest.NewServer(srv.Config.Handler)
	defer plain.Close()
	host := strings.TrimPrefix(plain.URL, "http://")
	t.Setenv("GCE_METADATA_HOST", host)
	p := New(Settings{MetadataHost: host})
	tok, err := p.Mint(context.Background())
	if err != nil || tok.AccessToken != "ya29.metadata" {
		t.Fatalf("%v, %v", tok, err)
	}
}

func TestInputErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"type":"gdch_service_account"}`), 0o600)
	notJSON := filepath.Join(dir, "notjson")
	os.WriteFile(notJSON, []byte("hello"), 0o600)
	cases := []struct {
		name string
		s    Settings
		says string
	}{
		{"nothing", Settings{Home: dir}, "no Google credentials found: set FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER"},
		{"missing file", Settings{CredentialsFile: filepath.Join(dir, "nope.json")}, "GOOGLE_APPLICATION_CREDENTIALS: cannot read"},
		{"unsupported type", Settings{CredentialsFile: bad}, `type "gdch_service_account" are not supported`},
		{"not json", Settings{CredentialsFile: notJSON}, "not JSON"},
		{"bad provider", Settings{WorkloadIdentityProvider: "projects/shop/pools/x", OIDC: &fakeOIDC{}}, "is not a provider's resource name"},
		{"no CI token", Settings{WorkloadIdentityProvider: provider}, "needs the CI's OIDC token"},
		{"account without provider", Settings{ServiceAccount: "a@b.iam.gserviceaccount.com"}, "no workload identity provider"},
		{"account not an email", Settings{WorkloadIdentityProvider: provider, ServiceAccount: "deployer", OIDC: &fakeOIDC{}}, "is not an email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.s).Mint(context.Background())
			if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("got %v, want an input error saying %q", err, tc.says)
			}
		})
	}
}

func TestProviderName(t *testing.T) {
	for in, want := range map[string]string{
		provider:                                 provider,
		"//iam.googleapis.com/" + provider:       provider,
		"https://iam.googleapis.com/" + provider: provider,
		" " + provider + " ":                     provider,
		"projects/shop/locations/global/workloadIdentityPools/ci/providers/github": "",
		"projects/1/locations/global/workloadIdentityPools/ci":                     "",
	} {
		got, err := ProviderName(in)
		if got != want || (want == "") != (err != nil) {
			t.Errorf("ProviderName(%q) = %q, %v", in, got, err)
		}
	}
}

func TestIsRegistry(t *testing.T) {
	for host, want := range map[string]bool{
		"gcr.io": true, "us.gcr.io": true, "eu.gcr.io": true, "asia.gcr.io": true, "gcr.io:443": true,
		"europe-west1-docker.pkg.dev": true, "us-docker.pkg.dev": true, "EU-DOCKER.PKG.DEV": true,
		"evil.us.gcr.io": false, "gcr.io.evil.example": false, "docker.pkg.dev": false, "-docker.pkg.dev": false,
		"a.b-docker.pkg.dev": false, "europe-west1-npm.pkg.dev": false, "ghcr.io": false, "public.ecr.aws": false,
	} {
		if got := IsRegistry(host); got != want {
			t.Errorf("IsRegistry(%q) = %v", host, got)
		}
	}
}

func TestKeychain(t *testing.T) {
	g, srv := newGoogle(t)
	kc := New(Settings{CredentialsFile: g.keyFile(t, t.TempDir()), HTTPClient: srv.Client()}).Keychain()
	for host, wantUser := range map[string]string{"europe-west1-docker.pkg.dev": "oauth2accesstoken", "ghcr.io": ""} {
		reg, _ := name.NewRegistry(host)
		a, err := kc.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := authn.Authorization(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != wantUser || (wantUser != "" && !strings.HasPrefix(cfg.Password, "ya29.sa-")) {
			t.Errorf("%s: user %q", host, cfg.Username)
		}
	}
}
