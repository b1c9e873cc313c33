package azureauth

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
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

const tenant = "72f988bf-86f1-41af-91ab-2d7cd011db47"

// entra follows Entra ID's v2 endpoints that MSAL uses (instance
// discovery, OpenID configuration, the token endpoint with a client secret
// or a client assertion) and ACR's /oauth2/exchange.
type entra struct {
	mu       sync.Mutex
	requests []string
	forms    []map[string]string
	n        int
}

func (e *entra) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	e.mu.Lock()
	e.requests = append(e.requests, r.Method+" "+r.Host+r.URL.Path)
	f := map[string]string{}
	for k := range r.PostForm {
		f[k] = r.PostForm.Get(k)
	}
	e.forms = append(e.forms, f)
	e.n++
	n := e.n
	e.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	base := "https://login.microsoftonline.com/" + tenant
	switch {
	case r.URL.Path == "/common/discovery/instance":
		json.NewEncoder(w).Encode(map[string]any{"tenant_discovery_endpoint": base + "/v2.0/.well-known/openid-configuration", "api-version": "1.1",
			"metadata": []map[string]any{{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net", "aliases": []string{"login.microsoftonline.com", "login.windows.net"}}}})
	case r.URL.Path == "/"+tenant+"/v2.0/.well-known/openid-configuration":
		json.NewEncoder(w).Encode(map[string]any{"token_endpoint": base + "/oauth2/v2.0/token", "authorization_endpoint": base + "/oauth2/v2.0/authorize", "issuer": base + "/v2.0",
			"device_authorization_endpoint": base + "/oauth2/v2.0/devicecode", "end_session_endpoint": base + "/oauth2/v2.0/logout"})
	case r.URL.Path == "/"+tenant+"/oauth2/v2.0/token":
		ok := r.PostForm.Get("grant_type") == "client_credentials" && r.PostForm.Get("client_id") == "app-id" &&
			(r.PostForm.Get("client_secret") == "right-secret" ||
				(r.PostForm.Get("client_assertion_type") == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" && strings.HasPrefix(r.PostForm.Get("client_assertion"), "ci-token-for-")))
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]any{"error": "invalid_client", "error_description": "AADSTS7000215: Invalid client secret provided.\r\nTrace ID: x", "error_codes": []int{7000215}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": fmt.Sprintf("entra-token-%d-for-%s", n, strings.Fields(r.PostForm.Get("scope"))[0])})
	case r.Host == "shopreg.azurecr.io" && r.URL.Path == "/oauth2/exchange":
		if r.PostForm.Get("grant_type") != "access_token" || r.PostForm.Get("service") != "shopreg.azurecr.io" || !strings.Contains(r.PostForm.Get("access_token"), "containerregistry.azure.net") {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		exp := time.Now().Add(3 * time.Hour).Unix()
		payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d,"aud":"shopreg.azurecr.io"}`, exp)))
		json.NewEncoder(w).Encode(map[string]string{"refresh_token": "eyJhbGciOiJSUzI1NiJ9." + payload + ".sig"})
	default:
		w.WriteHeader(http.StatusNotFound)
	}
}

func newEntra(t *testing.T) (*entra, *http.Client) {
	e := &entra{}
	srv := httptest.NewTLSServer(http.HandlerFunc(e.serve))
	t.Cleanup(srv.Close)
	base, ok := srv.Client().Transport.(*http.Transport)
	if !ok {
		t.Fatalf("httptest's client transport is a %T", srv.Client().Transport)
	}
	tr := base.Clone()
	addr := srv.Listener.Addr().String()
	tr.DialContext = func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, network, addr)
	}
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // the test cert names 127.0.0.1 only
	return e, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

type fakeOIDC struct{ auds []string }

func (f *fakeOIDC) String() string { return "test OIDC" }
func (f *fakeOIDC) Token(_ context.Context, aud string) (string, error) {
	f.auds = append(f.auds, aud)
	return "ci-token-for-" + aud, nil
}

func TestClientSecret(t *testing.T) {
	e, client := newEntra(t)
	var reported []string
	p := New(Settings{TenantID: tenant, ClientID: "app-id", ClientSecret: "right-secret", HTTPClient: client, Report: func(v string) { reported = append(reported, v) }})
	tok, err := p.Token(context.Background(), AKSScope)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(tok.Token, "-for-"+AKSScope) || time.Until(tok.ExpiresOn) < 50*time.Minute {
		t.Fatalf("token %q expiring %v", tok.Token, tok.ExpiresOn)
	}
	if len(reported) != 1 || reported[0] != tok.Token {
		t.Fatal("token not reported")
	}
	last := e.forms[len(e.forms)-1]
	if !strings.HasPrefix(last["scope"], AKSScope+" ") || last["client_secret"] != "right-secret" {
		t.Fatalf("token request %v", last)
	}
}

func TestFederatedCI(t *testing.T) {
	e, client := newEntra(t)
	oidc := &fakeOIDC{}
	p := New(Settings{TenantID: tenant, ClientID: "app-id", OIDC: oidc, HTTPClient: client})
	tok, err := p.Token(context.Background(), ScopeFor("6dae42f8-4368-4678-94ff-3960e28e3630"))
	if err != nil {
		t.Fatal(err)
	}
	if len(oidc.auds) != 1 || oidc.auds[0] != FederationAudience {
		t.Fatalf("audiences %v", oidc.auds)
	}
	if !strings.HasSuffix(tok.Token, AKSScope) {
		t.Fatalf("token %q", tok.Token)
	}
	from, _ := p.Source()
	if !strings.Contains(from, "federated credential app-id") {
		t.Fatalf("source %q", from)
	}
	if f := e.forms[len(e.forms)-1]; f["client_assertion"] != "ci-token-for-"+FederationAudience {
		t.Fatalf("assertion %q", f["client_assertion"])
	}
}

func TestWorkloadIdentityFile(t *testing.T) {
	_, client := newEntra(t)
	path := filepath.Join(t.TempDir(), "token")
	os.WriteFile(path, []byte("ci-token-for-file"), 0o600)
	p := New(Settings{Mode: WorkloadIdentity, TenantID: tenant, ClientID: "app-id", FederatedTokenFile: path, HTTPClient: client, DisableInstanceDiscovery: true})
	if _, err := p.Token(context.Background(), AKSScope); err != nil {
		t.Fatal(err)
	}
}

func TestRefused(t *testing.T) {
	_, client := newEntra(t)
	p := New(Settings{TenantID: tenant, ClientID: "app-id", ClientSecret: "wrong-secret-value", HTTPClient: client})
	_, err := p.Token(context.Background(), AKSScope)
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "AADSTS7000215") || !strings.Contains(err.Error(), "FERRY_AZURE_CLIENT_SECRET") {
		t.Fatalf("want an input error with the AADSTS code, got %v", err)
	}
	if strings.Contains(err.Error(), "wrong-secret-value") {
		t.Fatal("error leaks the secret")
	}
}

func TestPickMode(t *testing.T) {
	t.Setenv("PATH", t.TempDir()) // no az
	cases := []struct {
		s    Settings
		want Mode
	}{
		{Settings{ClientID: "a", ClientSecret: "s", FederatedTokenFile: "f"}, ServicePrincipal},
		{Settings{ClientID: "a", ClientCertificate: "c.pem"}, ServicePrincipal},
		{Settings{ClientID: "a", FederatedTokenFile: "f"}, WorkloadIdentity},
		{Settings{ClientID: "a", OIDC: &fakeOIDC{}}, WorkloadIdentity},
		{Settings{ManagedIdentity: true}, ManagedIdentity},
		{Settings{ClientSecret: "s"}, Auto},
		{Settings{}, Auto},
	}
	for i, tc := range cases {
		if got := PickMode(tc.s); got != tc.want {
			t.Errorf("%d: PickMode = %q, want %q", i, got, tc.want)
		}
	}
	az := filepath.Join(os.Getenv("PATH"), "az")
	os.WriteFile(az, []byte("#!/bin/sh\nexit 1\n"), 0o755)
	if got := PickMode(Settings{}); got != AzureCLI {
		t.Errorf("with az on PATH: %q", got)
	}
}

func TestInputErrors(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	cases := []struct {
		s    Settings
		says string
	}{
		{Settings{}, "no Azure credentials found"},
		{Settings{Mode: ServicePrincipal, ClientID: "a"}, "needs AZURE_TENANT_ID"},
		{Settings{Mode: ServicePrincipal, ClientID: "a", TenantID: tenant}, "needs a secret or a certificate: set FERRY_AZURE_CLIENT_SECRET"},
		{Settings{Mode: ServicePrincipal, ClientID: "a", TenantID: tenant, ClientCertificate: "/nonexistent.pem"}, "cannot read /nonexistent.pem"},
		{Settings{Mode: WorkloadIdentity, ClientID: "a", TenantID: tenant}, "needs a federated token"},
		{Settings{Mode: AzureCLI}, "needs `az`"},
		{Settings{Cloud: "AzureGermanCloud", ClientID: "a", ClientSecret: "s", TenantID: tenant}, `azure environment "AzureGermanCloud"`},
	}
	for _, tc := range cases {
		_, err := New(tc.s).Token(context.Background(), AKSScope)
		if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%+v: got %v, want an input error saying %q", tc.s, err, tc.says)
		}
	}
}

func TestScopeFor(t *testing.T) {
	for in, want := range map[string]string{"": AKSScope, AKSServerID: AKSScope, "api://my-server/": "api://my-server/.default"} {
		if got := ScopeFor(in); got != want {
			t.Errorf("ScopeFor(%q) = %q", in, got)
		}
	}
}

func TestIsRegistry(t *testing.T) {
	for host, want := range map[string]bool{
		"shopreg.azurecr.io": true, "SHOPREG.AZURECR.IO": true, "shopreg.azurecr.io:443": true, "shop12.azurecr.cn": true, "shop1.azurecr.us": true,
		"abc.azurecr.io": false, "shop.westeurope.data.azurecr.io": false, "shop-1.azurecr.io": false, "azurecr.io": false, "shopreg.azurecr.io.evil.example": false, "ghcr.io": false,
	} {
		if got := IsRegistry(host); got != want {
			t.Errorf("IsRegistry(%q) = %v", host, got)
		}
	}
}

func TestKeychain(t *testing.T) {
	e, client := newEntra(t)
	var reported []string
	var mu sync.Mutex
	kc := New(Settings{TenantID: tenant, ClientID: "app-id", ClientSecret: "right-secret", HTTPClient: client, Report: func(v string) { mu.Lock(); reported = append(reported, v); mu.Unlock() }}).Keychain()
	for range 2 {
		reg, _ := name.NewRegistry("shopreg.azurecr.io")
		a, err := kc.Resolve(reg)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := authn.Authorization(context.Background(), a)
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Username != ACRUser || !strings.HasPrefix(cfg.Password, "eyJ") {
			t.Fatalf("got user %q", cfg.Username)
		}
	}
	exchanges := 0
	for _, r := range e.requests {
		if r == "POST shopreg.azurecr.io/oauth2/exchange" {
			exchanges++
		}
	}
	if exchanges != 1 {
		t.Fatalf("%d exchanges for two resolves, want 1 (cached): %v", exchanges, e.requests)
	}
	if f := e.forms[len(e.forms)-1]; f["tenant"] != tenant {
		t.Fatalf("exchange form %v", f)
	}
	if len(reported) != 2 { // the Entra token and the refresh token
		t.Fatalf("reported %d values", len(reported))
	}
	reg, _ := name.NewRegistry("ghcr.io")
	if a, _ := kc.Resolve(reg); a != authn.Anonymous {
		t.Fatal("a non-ACR registry got credentials")
	}
}
