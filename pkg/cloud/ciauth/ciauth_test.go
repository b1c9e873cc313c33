package ciauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// jwt builds an unsigned token with the given claims; nothing here checks
// signatures.
func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc.EncodeToString(b) + ".c2ln"
}

// githubRuntime follows the Actions runtime's token endpoint: GET with the
// request token as bearer, audience in the query, {"count":N,"value":JWT}.
func githubRuntime(t *testing.T, requestToken string, calls *atomic.Int32) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		if r.Method != http.MethodGet || r.URL.Path != "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken" {
			http.NotFound(w, r)
			return
		}
		if r.Header.Get("Authorization") != "bearer "+requestToken {
			w.WriteHeader(http.StatusUnauthorized)
			json.NewEncoder(w).Encode(map[string]string{"message": "bad request token"})
			return
		}
		if r.URL.Query().Get("api-version") != "2.0" {
			http.Error(w, "api-version lost", http.StatusBadRequest)
			return
		}
		aud := r.URL.Query().Get("audience")
		if aud == "" {
			aud = "https://github.com/acme"
		}
		tok := jwt(t, map[string]any{"aud": aud, "exp": time.Now().Add(5 * time.Minute).Unix(), "sub": "repo:acme/shop:ref:refs/heads/main"})
		json.NewEncoder(w).Encode(map[string]any{"count": len(tok), "value": tok})
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestGitHubToken(t *testing.T) {
	var calls atomic.Int32
	srv := githubRuntime(t, "req-token-123", &calls)
	var reported []string
	env := MapLookup(map[string]string{
		"GITHUB_ACTIONS":                 "true",
		"ACTIONS_ID_TOKEN_REQUEST_URL":   srv.URL + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": "req-token-123",
	})
	src := FromEnv(env, srv.Client(), func(v string) { reported = append(reported, v) })
	if _, ok := src.(*GitHub); !ok {
		t.Fatalf("FromEnv in GitHub Actions = %T", src)
	}
	ctx := context.Background()
	tok, err := src.Token(ctx, "sts.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	if got := Audiences(tok); len(got) != 1 || got[0] != "sts.amazonaws.com" {
		t.Fatalf("audience %q", got)
	}
	if len(reported) != 1 || reported[0] != tok {
		t.Fatal("the token was not reported before it was returned")
	}
	// Cached per audience until shortly before it expires.
	if _, err := src.Token(ctx, "sts.amazonaws.com"); err != nil {
		t.Fatal(err)
	}
	if calls.Load() != 1 {
		t.Fatalf("%d requests for one audience, want 1 (cached)", calls.Load())
	}
	tok2, err := src.Token(ctx, "api://AzureADTokenExchange")
	if err != nil {
		t.Fatal(err)
	}
	if Audiences(tok2)[0] != "api://AzureADTokenExchange" || calls.Load() != 2 {
		t.Fatalf("second audience: %q after %d calls", Audiences(tok2), calls.Load())
	}
}

func TestGitHubErrors(t *testing.T) {
	var calls atomic.Int32
	srv := githubRuntime(t, "right", &calls)
	cases := []struct {
		name      string
		g         *GitHub
		input     bool
		wantInErr string
	}{
		{"no permission", &GitHub{}, true, "permissions: id-token: write"},
		{"only url", &GitHub{RequestURL: srv.URL}, true, "permissions: id-token: write"},
		{"refused", &GitHub{RequestURL: srv.URL + "/_apis/distributedtask/hubs/build/plans/p/jobs/j/idtoken?api-version=2.0", RequestToken: "wrong-secret-token", Client: srv.Client()}, false, "401 Unauthorized: bad request token"},
		{"not found", &GitHub{RequestURL: srv.URL + "/nowhere", RequestToken: "wrong-secret-token", Client: srv.Client()}, false, "404"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.g.Token(context.Background(), "x")
			if err == nil {
				t.Fatal("want an error")
			}
			if promote.IsInput(err) != tc.input {
				t.Fatalf("input error = %v, want %v: %v", promote.IsInput(err), tc.input, err)
			}
			if !strings.Contains(err.Error(), tc.wantInErr) {
				t.Fatalf("error %q does not say %q", err, tc.wantInErr)
			}
			if strings.Contains(err.Error(), "wrong-secret-token") {
				t.Fatalf("error leaks the request token: %v", err)
			}
		})
	}
}

func TestCircleCI(t *testing.T) {
	v2 := jwt(t, map[string]any{"aud": "org-uuid-1", "sub": "org/org-uuid-1/project/p/user/u"})
	v1 := jwt(t, map[string]any{"aud": "org-uuid-1", "sub": "org/org-uuid-1/project/p/user/u", "v": 1})
	cases := []struct {
		name     string
		env      map[string]string
		audience string
		want     string
		wantErr  string
	}{
		{"v2 preferred", map[string]string{"CIRCLECI": "true", "CIRCLE_OIDC_TOKEN_V2": v2, "CIRCLE_OIDC_TOKEN": v1}, "", v2, ""},
		{"v1 fallback", map[string]string{"CIRCLECI": "true", "CIRCLE_OIDC_TOKEN": v1}, "org-uuid-1", v1, ""},
		{"fixed audience", map[string]string{"CIRCLECI": "true", "CIRCLE_OIDC_TOKEN_V2": v2}, "sts.amazonaws.com", "", `audience is "org-uuid-1", not "sts.amazonaws.com"`},
		{"no token", map[string]string{"CIRCLECI": "true"}, "", "", "run the job with a context"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := FromEnv(MapLookup(tc.env), nil, nil)
			got, err := src.Token(context.Background(), tc.audience)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !promote.IsInput(err) {
					t.Fatalf("err = %v, want an input error saying %q", err, tc.wantErr)
				}
				if strings.Contains(err.Error(), v2) {
					t.Fatal("error leaks the token")
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %v, %v", got == tc.want, err)
			}
		})
	}
}

func TestAudienceChoice(t *testing.T) {
	circle := &CircleCI{Token2: jwt(t, map[string]any{"aud": "org-uuid-1"})}
	gh := &GitHub{}
	cases := []struct {
		name            string
		src             Source
		explicit, cloud string
		want            string
	}{
		{"explicit wins", circle, "custom", "sts.amazonaws.com", "custom"},
		{"fixed audience over the cloud default", circle, "", "sts.amazonaws.com", "org-uuid-1"},
		{"choosable source gets the cloud default", gh, "", "sts.amazonaws.com", "sts.amazonaws.com"},
		// FERRY_AWS_AUDIENCE (and the action's input) default to the
		// cloud's default: that is nobody's choice, and a CircleCI token
		// never carries it.
		{"fixed audience over a setting left at the cloud default", circle, "sts.amazonaws.com", "sts.amazonaws.com", "org-uuid-1"},
		{"choosable source, setting at the cloud default", gh, "sts.amazonaws.com", "sts.amazonaws.com", "sts.amazonaws.com"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Audience(context.Background(), tc.src, tc.explicit, tc.cloud); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "token")
	tok := jwt(t, map[string]any{"aud": []string{"api://AzureADTokenExchange", "other"}})
	if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var reported int
	f := &File{Path: path, Setting: "AZURE_FEDERATED_TOKEN_FILE", Report: func(string) { reported++ }}
	ctx := context.Background()
	for _, aud := range []string{"", "api://AzureADTokenExchange", "other"} {
		got, err := f.Token(ctx, aud)
		if err != nil || got != tok {
			t.Fatalf("audience %q: %v", aud, err)
		}
	}
	if reported != 3 {
		t.Fatalf("reported %d times, want every read", reported)
	}
	if _, err := f.Token(ctx, "sts.amazonaws.com"); err == nil || !promote.IsInput(err) {
		t.Fatalf("wrong audience: %v", err)
	}
	// Rotated files are read again.
	tok2 := jwt(t, map[string]any{"aud": "api://AzureADTokenExchange", "n": 2})
	os.WriteFile(path, []byte(tok2), 0o600)
	if got, _ := f.Token(ctx, ""); got != tok2 {
		t.Fatal("rotated token not picked up")
	}
	missing := &File{Path: filepath.Join(dir, "nope"), Setting: "AWS_WEB_IDENTITY_TOKEN_FILE"}
	_, err := missing.Token(ctx, "")
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "AWS_WEB_IDENTITY_TOKEN_FILE") {
		t.Fatalf("missing file: %v", err)
	}
}

func TestFromEnvElsewhere(t *testing.T) {
	if src := FromEnv(MapLookup(map[string]string{"CI": "true"}), nil, nil); src != nil {
		t.Fatalf("outside GitHub and CircleCI: %v", src)
	}
	if src := FromEnv(nil, nil, nil); src != nil {
		t.Fatalf("nil lookup: %v", src)
	}
}

func TestClaims(t *testing.T) {
	exp := time.Unix(1900000000, 0)
	cases := []struct {
		tok string
		aud []string
		exp time.Time
	}{
		{jwt(t, map[string]any{"aud": "a", "exp": exp.Unix()}), []string{"a"}, exp},
		{jwt(t, map[string]any{"aud": []string{"a", "b"}}), []string{"a", "b"}, time.Time{}},
		{jwt(t, map[string]any{"sub": "x"}), nil, time.Time{}},
		{"not-a-jwt", nil, time.Time{}},
		{"a.!!!.c", nil, time.Time{}},
		{"a." + base64.RawURLEncoding.EncodeToString([]byte("[1]")) + ".c", nil, time.Time{}},
	}
	for _, tc := range cases {
		if got := Audiences(tc.tok); strings.Join(got, ",") != strings.Join(tc.aud, ",") {
			t.Errorf("Audiences(%.20s) = %q, want %q", tc.tok, got, tc.aud)
		}
		if got := Expiry(tc.tok); !got.Equal(tc.exp) {
			t.Errorf("Expiry(%.20s) = %v, want %v", tc.tok, got, tc.exp)
		}
	}
}

func TestSessionName(t *testing.T) {
	cases := []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "9876543210", "GITHUB_RUN_ATTEMPT": "2"}, "ferry-gh-9876543210-2"},
		{map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1"}, "ferry-gh-1"},
		{map[string]string{"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "42"}, "ferry-circleci-42"},
		{map[string]string{"CIRCLECI": "true", "CIRCLE_BUILD_NUM": "4 2/x"}, "ferry-circleci-4-2-x"},
		{map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": strings.Repeat("9", 80)}, ("ferry-gh-" + strings.Repeat("9", 80))[:64]},
		{nil, "ferry"},
	}
	for _, tc := range cases {
		if got := SessionName(MapLookup(tc.env)); got != tc.want {
			t.Errorf("SessionName(%v) = %q, want %q", tc.env, got, tc.want)
		}
	}
}
