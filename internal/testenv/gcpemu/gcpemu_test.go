package gcpemu

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

const scope = "https://www.googleapis.com/auth/cloud-platform"

var (
	nw  *cloudnet.Net
	emu *Emulator
	gh  *oidcemu.GitHub
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
	os.Setenv("CLOUDSDK_CONFIG", "/nonexistent/gcloud") // no well-known file
	os.Setenv("GCE_METADATA_HOST", "metadata.invalid")  // never the metadata server
	if gh, err = oidcemu.NewGitHub(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gh.Install(nw)
	emu = New(Options{Client: nw.Client()})
	emu.Install(nw)
	return m.Run()
}

// adc loads application default credentials from file, as a user would
// point GOOGLE_APPLICATION_CREDENTIALS at it.
func adc(t *testing.T, file []byte) *google.Credentials {
	t.Helper()
	p, err := WriteFile(t.TempDir(), "creds.json", file)
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", p)
	creds, err := google.FindDefaultCredentials(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	return creds
}

func tokenOf(t *testing.T, ts oauth2.TokenSource) (*oauth2.Token, error) {
	t.Helper()
	return ts.Token()
}

func TestServiceAccountKeyFile(t *testing.T) {
	sa, err := emu.AddServiceAccount("shop-prod", "ferry")
	if err != nil {
		t.Fatal(err)
	}
	nw.Reset()
	tok, err := tokenOf(t, adc(t, sa.KeyFile()).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	id, err := emu.Lookup(tok.AccessToken)
	if err != nil || id.Name != "ferry@shop-prod.iam.gserviceaccount.com" || id.Scopes[0] != scope {
		t.Fatalf("identity %+v %v", id, err)
	}
	if !strings.HasPrefix(tok.AccessToken, "ya29.") || time.Until(tok.Expiry) < 59*time.Minute {
		t.Fatalf("token expires %s", tok.Expiry)
	}
	if len(nw.RequestsTo("oauth2.googleapis.com")) != 1 {
		t.Fatalf("requests %v", nw.Requests())
	}
}

func TestServiceAccountWrongKey(t *testing.T) {
	sa, err := emu.AddServiceAccount("shop-prod", "rotated")
	if err != nil {
		t.Fatal(err)
	}
	other, err := emu.AddServiceAccount("shop-prod", "other")
	if err != nil {
		t.Fatal(err)
	}
	// sa's e-mail and key id with other's private key.
	forged := strings.Replace(string(other.KeyFile()), other.Email, sa.Email, 1)
	forged = strings.Replace(forged, other.KeyID, sa.KeyID, 1)
	_, err = tokenOf(t, adc(t, []byte(forged)).TokenSource)
	// x/oauth2/jwt does not parse the error body; the body is Google's.
	var re *oauth2.RetrieveError
	if !errorsAs(err, &re) || re.Response.StatusCode != 400 ||
		string(re.Body) != `{"error":"invalid_grant","error_description":"Invalid JWT Signature."}`+"\n" {
		t.Fatalf("error %v", err)
	}
}

func TestAuthorizedUser(t *testing.T) {
	u := emu.AddUser("dev@example.com")
	tok, err := tokenOf(t, adc(t, u.KeyFile()).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := emu.Lookup(tok.AccessToken); err != nil || id.Name != "dev@example.com" {
		t.Fatalf("identity %+v %v", id, err)
	}
	bad := strings.Replace(string(u.KeyFile()), u.ClientSecret, "d-wrong", 1)
	_, err = tokenOf(t, adc(t, []byte(bad)).TokenSource)
	var re *oauth2.RetrieveError
	if !errorsAs(err, &re) || re.ErrorCode != "invalid_client" || re.Response.StatusCode != 401 {
		t.Fatalf("error %v", err)
	}
}

type federation struct {
	provider *Provider
	sa       *ServiceAccount
	job      *oidcemu.Job
}

func newFederation(t *testing.T, pool string) federation {
	t.Helper()
	p, err := emu.AddProvider(Provider{ProjectNumber: "123456789012", Pool: pool, ID: "github", Issuer: oidcemu.GitHubIssuer,
		AttributeMapping: map[string]string{"attribute.repository": "assertion.repository"},
		Condition:        func(a map[string]string) bool { return strings.HasPrefix(a["attribute.repository"], "acme/") }})
	if err != nil {
		t.Fatal(err)
	}
	sa, err := emu.AddServiceAccount("shop-prod", "deploy-"+pool)
	if err != nil {
		t.Fatal(err)
	}
	sa.AllowImpersonation(p.PrincipalSet("repository", "acme/shop"))
	return federation{p, sa, gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop"})}
}

func (f federation) tokenFile(t *testing.T, job *oidcemu.Job, aud string) string {
	t.Helper()
	if aud == "" {
		aud = "https://iam.googleapis.com/" + strings.TrimPrefix(f.provider.Audience(), "//iam.googleapis.com/")
	}
	tok, err := job.Mint(aud)
	if err != nil {
		t.Fatal(err)
	}
	p, err := WriteFile(t.TempDir(), "github-token", []byte(tok))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestWorkloadIdentityFederationFromFile(t *testing.T) {
	f := newFederation(t, "pool-file")
	src := CredentialSource{File: f.tokenFile(t, f.job, "")}

	// Federated token only.
	tok, err := tokenOf(t, adc(t, f.provider.ExternalAccountFile(src, "")).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	id, err := emu.Lookup(tok.AccessToken)
	if err != nil || id.Name != f.provider.Principal("repo:acme/shop:ref:refs/heads/main") || id.Kind != "federated" {
		t.Fatalf("identity %+v %v", id, err)
	}

	// With service account impersonation.
	nw.Reset()
	tok, err = tokenOf(t, adc(t, f.provider.ExternalAccountFile(src, f.sa.Email)).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	id, err = emu.Lookup(tok.AccessToken)
	if err != nil || id.Name != f.sa.Email || id.Kind != "impersonated" {
		t.Fatalf("identity %+v %v", id, err)
	}
	for _, h := range []string{"sts.googleapis.com", "iamcredentials.googleapis.com", "token.actions.githubusercontent.com"} {
		if !nw.Reached(h) {
			t.Errorf("%s not reached: %v", h, nw.Hosts())
		}
	}
}

// TestWorkloadIdentityFederationFromRunnerURL uses the credential source
// google-github-actions/auth writes: the runner's token URL, its bearer,
// and the JSON field "value".
func TestWorkloadIdentityFederationFromRunnerURL(t *testing.T) {
	f := newFederation(t, "pool-url")
	aud := "https://iam.googleapis.com/" + strings.TrimPrefix(f.provider.Audience(), "//iam.googleapis.com/")
	src := CredentialSource{URL: f.job.RequestURL() + "&audience=" + aud,
		Headers: map[string]string{"Authorization": "Bearer " + f.job.RequestToken()}, JSONField: "value"}
	tok, err := tokenOf(t, adc(t, f.provider.ExternalAccountFile(src, f.sa.Email)).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	if id, err := emu.Lookup(tok.AccessToken); err != nil || id.Name != f.sa.Email {
		t.Fatalf("identity %+v %v", id, err)
	}
	if f.job.Requests() != 1 {
		t.Fatalf("runner token requests: %d", f.job.Requests())
	}
}

func TestWorkloadIdentityFederationRefusals(t *testing.T) {
	f := newFederation(t, "pool-refuse")
	outsider := gh.NewJob(oidcemu.JobSpec{Repository: "mallory/shop"})
	sibling := gh.NewJob(oidcemu.JobSpec{Repository: "acme/tools"})
	tests := []struct {
		name, impersonate, want string
		file                    string
	}{
		{"wrong audience", "", "does not match the expected audience", f.tokenFile(t, f.job, "sts.amazonaws.com")},
		{"attribute condition", "", "rejected by the attribute condition", f.tokenFile(t, outsider, "")},
		{"not allowed to impersonate", f.sa.Email, "iam.serviceAccounts.getAccessToken", f.tokenFile(t, sibling, "")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tokenOf(t, adc(t, f.provider.ExternalAccountFile(CredentialSource{File: tt.file}, tt.impersonate)).TokenSource)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
	t.Run("unknown provider", func(t *testing.T) {
		p := *f.provider
		p.ID = "deleted"
		_, err := tokenOf(t, adc(t, p.ExternalAccountFile(CredentialSource{File: f.tokenFile(t, f.job, "")}, "")).TokenSource)
		if err == nil || !strings.Contains(err.Error(), "invalid_target") {
			t.Fatalf("error %v", err)
		}
	})
}

func TestShortTokensAreRefreshed(t *testing.T) {
	emu.SetTokenLifetime(2 * time.Second)
	t.Cleanup(func() { emu.SetTokenLifetime(time.Hour) })
	sa, err := emu.AddServiceAccount("shop-prod", "brief")
	if err != nil {
		t.Fatal(err)
	}
	creds := adc(t, sa.KeyFile())
	first, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if _, err := emu.Lookup(first.AccessToken); err != ErrExpiredToken {
		t.Fatalf("lookup of an old token: %v", err)
	}
	second, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	if second.AccessToken == first.AccessToken {
		t.Fatal("the token source did not refresh")
	}
	if _, err := emu.Lookup(second.AccessToken); err != nil {
		t.Fatal(err)
	}
}

func TestTokenInfo(t *testing.T) {
	sa, err := emu.AddServiceAccount("shop-prod", "info")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := tokenOf(t, adc(t, sa.KeyFile()).TokenSource)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nw.Client().Get("https://oauth2.googleapis.com/tokeninfo?access_token=" + tok.AccessToken)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info map[string]any
	if err := jsonDecode(resp.Body, &info); err != nil {
		t.Fatal(err)
	}
	if info["email"] != sa.Email {
		t.Fatalf("tokeninfo %v", info)
	}
}
