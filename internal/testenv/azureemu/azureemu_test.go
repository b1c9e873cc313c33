package azureemu

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

const aksScope = "6dae42f8-4368-4678-94ff-3960e28e3630/.default"

var (
	nw     *cloudnet.Net
	emu    *Emulator
	gh     *oidcemu.GitHub
	tenant = NewGUID()
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	var err error
	if nw, err = cloudnet.Start(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer nw.Close()
	if err := nw.SetEnv(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for _, k := range []string{"AZURE_AUTHORITY_HOST", "AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_CLIENT_SECRET", "AZURE_FEDERATED_TOKEN_FILE"} {
		os.Unsetenv(k)
	}
	if gh, err = oidcemu.NewGitHub(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gh.Install(nw)
	if emu, err = New(Options{Client: nw.Client()}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	emu.Install(nw)
	return m.Run()
}

type azTokenCredential interface {
	GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error)
}

func getToken(ctx context.Context, cred azTokenCredential, scope string) (string, time.Time, error) {
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	return tok.Token, tok.ExpiresOn, err
}

func checkAKSToken(t *testing.T, tok string, app *App) {
	t.Helper()
	got, err := emu.ValidateToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	if got.Audience != "6dae42f8-4368-4678-94ff-3960e28e3630" || got.AppID != app.ClientID || got.ObjectID != app.ObjectID || got.Tenant != tenant {
		t.Fatalf("token claims %+v", got)
	}
}

func TestClientSecretCredential(t *testing.T) {
	app := emu.AddApp(App{Tenant: tenant, ClientID: NewGUID(), Secrets: []string{"s3cr3t~value"}})
	nw.Reset()
	cred, err := azidentity.NewClientSecretCredential(tenant, app.ClientID, "s3cr3t~value", nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, exp, err := getToken(t.Context(), cred, aksScope)
	if err != nil {
		t.Fatal(err)
	}
	checkAKSToken(t, tok, app)
	if time.Until(exp) < 59*time.Minute {
		t.Fatalf("expires %s", exp)
	}
	if !nw.Reached(Host) {
		t.Fatalf("hosts %v", nw.Hosts())
	}

	bad, err := azidentity.NewClientSecretCredential(tenant, app.ClientID, "wrong", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = getToken(t.Context(), bad, aksScope)
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) || af.RawResponse.StatusCode != 401 || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("error %v", err)
	}
	unknown, _ := azidentity.NewClientSecretCredential(tenant, NewGUID(), "x", nil)
	if _, _, err = getToken(t.Context(), unknown, aksScope); err == nil || !strings.Contains(err.Error(), "AADSTS700016") {
		t.Fatalf("unknown app: %v", err)
	}
	noTenant, _ := azidentity.NewClientSecretCredential(NewGUID(), app.ClientID, "s3cr3t~value", nil)
	if _, _, err = getToken(t.Context(), noTenant, aksScope); err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Fatalf("unknown tenant: %v", err)
	}
}

func TestClientCertificateCredential(t *testing.T) {
	cert, _, pemData, err := NewCertificate("ferry-ci")
	if err != nil {
		t.Fatal(err)
	}
	app := emu.AddApp(App{Tenant: tenant, ClientID: NewGUID(), Certificates: []*x509.Certificate{cert}})
	certs, key, err := azidentity.ParseCertificates(pemData, nil)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientCertificateCredential(tenant, app.ClientID, certs, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := getToken(t.Context(), cred, aksScope)
	if err != nil {
		t.Fatal(err)
	}
	checkAKSToken(t, tok, app)

	_, _, otherPEM, err := NewCertificate("stranger")
	if err != nil {
		t.Fatal(err)
	}
	certs, key, _ = azidentity.ParseCertificates(otherPEM, nil)
	cred, _ = azidentity.NewClientCertificateCredential(tenant, app.ClientID, certs, key, nil)
	if _, _, err := getToken(t.Context(), cred, aksScope); err == nil || !strings.Contains(err.Error(), "AADSTS700027") {
		t.Fatalf("unregistered certificate: %v", err)
	}
}

func federatedApp(subject string) *App {
	return emu.AddApp(App{Tenant: tenant, ClientID: NewGUID(), Federated: []FederatedCredential{{Issuer: oidcemu.GitHubIssuer, Subject: subject}}})
}

func TestClientAssertionCredentialWithGitHubToken(t *testing.T) {
	app := federatedApp("repo:acme/shop:environment:production")
	job := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "production"})
	cred, err := azidentity.NewClientAssertionCredential(tenant, app.ClientID, func(context.Context) (string, error) {
		return job.Mint(FederatedAudience)
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := getToken(t.Context(), cred, aksScope)
	if err != nil {
		t.Fatal(err)
	}
	checkAKSToken(t, tok, app)

	tests := []struct {
		name, code string
		mint       func() (string, error)
	}{
		{"other subject", "AADSTS70021", func() (string, error) {
			return gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "staging"}).Mint(FederatedAudience)
		}},
		{"wrong audience", "AADSTS700212", func() (string, error) { return job.Mint("sts.amazonaws.com") }},
		{"expired", "AADSTS700024", func() (string, error) {
			return gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "production", Lifetime: -time.Minute}).Mint(FederatedAudience)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, err := azidentity.NewClientAssertionCredential(tenant, app.ClientID, func(context.Context) (string, error) { return tt.mint() }, nil)
			if err != nil {
				t.Fatal(err)
			}
			if _, _, err := getToken(t.Context(), cred, aksScope); err == nil || !strings.Contains(err.Error(), tt.code) {
				t.Fatalf("error %v, want %s", err, tt.code)
			}
		})
	}
}

func TestWorkloadIdentityCredentialFromEnvironment(t *testing.T) {
	app := federatedApp("repo:acme/shop:ref:refs/heads/main")
	tok, err := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop"}).Mint(FederatedAudience)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "azure-token")
	if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_TENANT_ID", tenant)
	t.Setenv("AZURE_CLIENT_ID", app.ClientID)
	t.Setenv("AZURE_FEDERATED_TOKEN_FILE", f)
	cred, err := azidentity.NewWorkloadIdentityCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	at, _, err := getToken(t.Context(), cred, aksScope)
	if err != nil {
		t.Fatal(err)
	}
	checkAKSToken(t, at, app)
}

func TestShortTokens(t *testing.T) {
	emu.SetTokenLifetime(2 * time.Second)
	t.Cleanup(func() { emu.SetTokenLifetime(time.Hour) })
	app := emu.AddApp(App{Tenant: tenant, ClientID: NewGUID(), Secrets: []string{"brief"}})
	cred, _ := azidentity.NewClientSecretCredential(tenant, app.ClientID, "brief", nil)
	tok, exp, err := getToken(t.Context(), cred, aksScope)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(exp); d > 2*time.Second {
		t.Fatalf("expires in %s", d)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := emu.ValidateToken(tok); err == nil {
		t.Fatal("an expired token validated")
	}
	again, _, err := getToken(t.Context(), cred, aksScope)
	if err != nil || again == tok {
		t.Fatalf("no fresh token: %v", err)
	}
}

func TestACRExchange(t *testing.T) {
	const registry = "shopprod.azurecr.io"
	nw.Handle("*.azurecr.io", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !emu.ServeACR(w, r) {
			http.NotFound(w, r)
		}
	}))
	app := emu.AddApp(App{Tenant: tenant, ClientID: NewGUID(), Secrets: []string{"acr"}})
	cred, _ := azidentity.NewClientSecretCredential(tenant, app.ClientID, "acr", nil)
	arm, _, err := getToken(t.Context(), cred, "https://management.azure.com/.default")
	if err != nil {
		t.Fatal(err)
	}
	c := nw.Client()
	resp, err := c.PostForm("https://"+registry+"/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {registry},
		"tenant": {tenant}, "access_token": {arm}})
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&ex)
	resp.Body.Close()
	if resp.StatusCode != 200 || ex.RefreshToken == "" {
		t.Fatalf("exchange: %s", resp.Status)
	}
	// docker's way: GET /oauth2/token with Basic 000...:refresh token.
	req, _ := http.NewRequest(http.MethodGet, "https://"+registry+"/oauth2/token?service="+registry+"&scope=repository:shop/web:pull", nil)
	req.SetBasicAuth(ACRUser, ex.RefreshToken)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var at struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&at)
	resp.Body.Close()
	who, scopes, err := emu.CheckACRAccess(registry, at.AccessToken)
	if err != nil || who != app.ObjectID || len(scopes) != 1 || scopes[0] != "repository:shop/web:pull" {
		t.Fatalf("access: %s %v %v", who, scopes, err)
	}
	if _, _, err := emu.CheckACRAccess("other.azurecr.io", at.AccessToken); err == nil {
		t.Fatal("a token of one registry opened another")
	}
	// An AKS-audience token is not an ARM token.
	aks, _, _ := getToken(t.Context(), cred, aksScope)
	resp, err = c.PostForm("https://"+registry+"/oauth2/exchange", url.Values{"grant_type": {"access_token"}, "service": {registry}, "access_token": {aks}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("exchange of a non-ARM token: %s", resp.Status)
	}
}

// TestDiscoveryDocuments checks what MSAL and other clients read before a
// token request.
func TestDiscoveryDocuments(t *testing.T) {
	get := func(u string) (int, map[string]any) {
		resp, err := nw.Client().Get(u)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		json.NewDecoder(resp.Body).Decode(&m)
		return resp.StatusCode, m
	}
	emu.AddApp(App{Tenant: tenant, ClientID: NewGUID()})
	code, m := get("https://" + Host + "/common/discovery/instance?api-version=1.1&authorization_endpoint=" +
		url.QueryEscape("https://"+Host+"/"+tenant+"/oauth2/v2.0/authorize"))
	if code != 200 || m["tenant_discovery_endpoint"] != "https://"+Host+"/"+tenant+"/v2.0/.well-known/openid-configuration" {
		t.Fatalf("instance discovery %d %v", code, m)
	}
	code, m = get("https://" + Host + "/" + tenant + "/v2.0/.well-known/openid-configuration")
	if code != 200 || m["issuer"] != "https://"+Host+"/"+tenant+"/v2.0" || m["token_endpoint"] != "https://"+Host+"/"+tenant+"/oauth2/v2.0/token" {
		t.Fatalf("metadata %d %v", code, m)
	}
	code, m = get("https://" + Host + "/" + tenant + "/discovery/v2.0/keys")
	if keys, _ := m["keys"].([]any); code != 200 || len(keys) != 1 {
		t.Fatalf("keys %d %v", code, m)
	}
	if code, m = get("https://" + Host + "/" + NewGUID() + "/v2.0/.well-known/openid-configuration"); code != 400 || m["error"] != "invalid_request" {
		t.Fatalf("unknown tenant %d %v", code, m)
	}
}
