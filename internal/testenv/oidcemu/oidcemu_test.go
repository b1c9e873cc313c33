package oidcemu

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

var (
	nw     *cloudnet.Net
	github *GitHub
	circle *CircleCI
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

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
	if github, err = NewGitHub(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if circle, err = NewCircleCI("c0ffee00-1234-4abc-8def-000000000001"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	github.Install(nw)
	other, err := NewCircleCI("c0ffee00-1234-4abc-8def-000000000002")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	Serve(nw, circle.Issuer, other.Issuer)
	return m.Run()
}

// requestToken does what @actions/core getIDToken does: append the
// audience to ACTIONS_ID_TOKEN_REQUEST_URL and GET it with the request
// token as bearer, through the environment's proxy.
func requestToken(t *testing.T, env []string, aud string) (int, map[string]any) {
	t.Helper()
	return requestTokenAs(t, env, aud, "Bearer")
}

// requestTokenAs is requestToken with the authorization scheme spelt as
// given.
func requestTokenAs(t *testing.T, env []string, aud, scheme string) (int, map[string]any) {
	t.Helper()
	vars := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	u := vars["ACTIONS_ID_TOKEN_REQUEST_URL"]
	if aud != "" {
		u += "&audience=" + aud
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", scheme+" "+vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"])
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

// GitHub's own documentation requests tokens with "Authorization: bearer
// ..." (curl in "Configuring OpenID Connect in cloud providers"); the
// scheme is case-insensitive (RFC 9110 11.1).
func TestGitHubTokenRequestSchemeCase(t *testing.T) {
	job := github.NewJob(JobSpec{Repository: "acme/shop"})
	for _, scheme := range []string{"bearer", "BEARER"} {
		if status, body := requestTokenAs(t, job.Env(), "sts.amazonaws.com", scheme); status != http.StatusOK {
			t.Errorf("%s: status %d %v", scheme, status, body)
		}
	}
	if status, _ := requestTokenAs(t, job.Env(), "sts.amazonaws.com", "Basic"); status != http.StatusUnauthorized {
		t.Errorf("Basic: status %d, want 401", status)
	}
}

func TestGitHubTokenRequest(t *testing.T) {
	job := github.NewJob(JobSpec{Repository: "acme/shop", Environment: "production"})
	status, body := requestToken(t, job.Env(), "sts.amazonaws.com")
	if status != http.StatusOK {
		t.Fatalf("status %d %v", status, body)
	}
	tok, _ := body["value"].(string)
	if _, ok := body["count"]; !ok || tok == "" {
		t.Fatalf("body %v", body)
	}
	claims, err := Verify(t.Context(), nw.Client(), tok, GitHubIssuer, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"sub": "repo:acme/shop:environment:production", "aud": "sts.amazonaws.com", "repository": "acme/shop",
		"repository_owner": "acme", "environment": "production", "ref": "refs/heads/main",
		"job_workflow_ref": "acme/shop/.github/workflows/deploy.yml@refs/heads/main", "iss": GitHubIssuer,
	}
	for k, v := range want {
		if claims[k] != v {
			t.Errorf("claim %s = %v, want %v", k, claims[k], v)
		}
	}
	exp, _ := claims.GetExpirationTime()
	iat, _ := claims.GetIssuedAt()
	if d := exp.Sub(iat.Time); d != 5*time.Minute {
		t.Errorf("lifetime %s, want 5m", d)
	}
	if job.Requests() != 1 {
		t.Errorf("requests %d", job.Requests())
	}

	// Without an audience: https://github.com/OWNER, and a ref subject
	// for a job without environment.
	job2 := github.NewJob(JobSpec{Repository: "acme/shop"})
	_, body = requestToken(t, job2.Env(), "")
	tok2, ok := body["value"].(string)
	if !ok {
		t.Fatalf("body %v has no token", body)
	}
	claims, err = Verify(t.Context(), nw.Client(), tok2, GitHubIssuer, 0)
	if err != nil {
		t.Fatal(err)
	}
	if claims["aud"] != "https://github.com/acme" || claims["sub"] != "repo:acme/shop:ref:refs/heads/main" {
		t.Errorf("aud %v sub %v", claims["aud"], claims["sub"])
	}
}

func TestGitHubWrongRequestToken(t *testing.T) {
	job := github.NewJob(JobSpec{})
	env := []string{"ACTIONS_ID_TOKEN_REQUEST_URL=" + job.RequestURL(), "ACTIONS_ID_TOKEN_REQUEST_TOKEN=forged"}
	if status, _ := requestToken(t, env, "x"); status != http.StatusUnauthorized {
		t.Fatalf("status %d, want 401", status)
	}
	if job.Requests() != 0 {
		t.Fatal("a forged request was served")
	}
}

func TestCircleCITokens(t *testing.T) {
	env, err := circle.Env(CircleJob{ProjectID: "p1", UserID: "u1"})
	if err != nil {
		t.Fatal(err)
	}
	for i, kv := range env {
		_, tok, _ := strings.Cut(kv, "=")
		claims, err := Verify(t.Context(), nw.Client(), tok, circle.URL(), 0)
		if err != nil {
			t.Fatal(err)
		}
		sub := "org/" + circle.OrgID + "/project/p1/user/u1"
		if i == 1 {
			sub += "/vcs-origin/github.com/ferry-dev/shop/vcs-ref/refs/heads/main"
		}
		if claims["sub"] != sub || claims["aud"] != circle.OrgID || claims["iss"] != "https://oidc.circleci.com/org/"+circle.OrgID {
			t.Errorf("%s: claims %v", env[i][:20], claims)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	expired, err := circle.Mint(map[string]any{"sub": "x"}, -time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	// Signed by GitHub's key but claiming CircleCI's issuer.
	forged, err := SignRS256(github.key, circle.KeyID(), github.fill(map[string]any{"iss": circle.URL()}, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	unknownKid, err := SignRS256(circle.key, "nope", circle.fill(nil, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	ghTok, err := github.NewJob(JobSpec{}).Mint("a")
	if err != nil {
		t.Fatal(err)
	}
	future, err := circle.Mint(map[string]any{"nbf": time.Now().Add(time.Hour).Unix()}, 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token, issuer string
		want                Reason
	}{
		{"expired", expired, circle.URL(), ReasonExpired},
		{"forged signature", forged, circle.URL(), ReasonSignature},
		{"unknown kid", unknownKid, circle.URL(), ReasonUnknownKey},
		{"other issuer", ghTok, circle.URL(), ReasonIssuer},
		{"not yet valid", future, circle.URL(), ReasonNotYetValid},
		{"garbage", "a.b.c", circle.URL(), ReasonMalformed},
		{"issuer without emulator", mustMint(t, "https://issuer.example.com"), "https://issuer.example.com", ReasonKeys},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Verify(t.Context(), nw.Client(), tt.token, tt.issuer, 0)
			if got := ReasonOf(err); got != tt.want {
				t.Fatalf("reason %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}

func mustMint(t *testing.T, issuer string) string {
	t.Helper()
	i, err := NewIssuer(issuer, "/keys")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := i.Mint(nil, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestDiscoveryDocument(t *testing.T) {
	resp, err := http.Get(GitHubIssuer + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d["issuer"] != GitHubIssuer || d["jwks_uri"] != GitHubIssuer+"/.well-known/jwks" {
		t.Fatalf("discovery %v", d)
	}
	resp2, err := http.Get("https://oidc.circleci.com/org/" + circle.OrgID + "/.well-known/jwks-pub.json")
	if err != nil {
		t.Fatal(err)
	}
	resp2.Body.Close()
	if resp2.StatusCode != http.StatusOK {
		t.Fatalf("circleci jwks: %s", resp2.Status)
	}
}
