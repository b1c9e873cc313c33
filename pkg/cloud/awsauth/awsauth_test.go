package awsauth

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"

	"github.com/ferry-dev/ferry/pkg/promote"
)

const (
	baseKeyID  = "AKIDBASEEXAMPLE00001"
	baseSecret = "base-secret-key-do-not-print"
)

// isolate points the SDK's chain at nothing but what the test sets: no
// shared files, no metadata service, no region.
func isolate(t *testing.T) {
	t.Helper()
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "",
		"AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_ROLE_ARN": "", "AWS_WEB_IDENTITY_TOKEN_FILE": "",
		"AWS_ENDPOINT_URL": "", "AWS_ENDPOINT_URL_STS": "", "AWS_ENDPOINT_URL_ECR": "", "AWS_ENDPOINT_URL_ECR_PUBLIC": "",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
	} {
		t.Setenv(k, v)
	}
}

func baseCreds(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", baseKeyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", baseSecret)
}

// stsServer answers STS's query API (form-encoded POST, XML answers) for
// AssumeRoleWithWebIdentity and AssumeRole, recording what it was asked.
type stsServer struct {
	*httptest.Server
	mu       sync.Mutex
	calls    []url.Values
	authz    []string
	expires  time.Time
	refuseWI bool
}

func newSTS(t *testing.T) *stsServer {
	s := &stsServer{expires: time.Now().Add(time.Hour).UTC()}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *stsServer) serve(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	s.mu.Lock()
	s.calls = append(s.calls, r.PostForm)
	s.authz = append(s.authz, r.Header.Get("Authorization"))
	refuse := s.refuseWI
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml")
	action := r.PostForm.Get("Action")
	creds := func(id string) string {
		return fmt.Sprintf(`<Credentials><AccessKeyId>%s</AccessKeyId><SecretAccessKey>secret-of-%s</SecretAccessKey><SessionToken>session-of-%s</SessionToken><Expiration>%s</Expiration></Credentials>`,
			id, id, id, s.expires.Format(time.RFC3339))
	}
	switch action {
	case "AssumeRoleWithWebIdentity":
		if refuse {
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message></Error><RequestId>r1</RequestId></ErrorResponse>`)
			return
		}
		fmt.Fprintf(w, `<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleWithWebIdentityResult>%s<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/ferry/%s</Arn><AssumedRoleId>AROAEXAMPLE:%s</AssumedRoleId></AssumedRoleUser><Audience>sts.amazonaws.com</Audience></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>r2</RequestId></ResponseMetadata></AssumeRoleWithWebIdentityResponse>`,
			creds("ASIAWEBIDENTITY00001"), r.PostForm.Get("RoleSessionName"), r.PostForm.Get("RoleSessionName"))
	case "AssumeRole":
		fmt.Fprintf(w, `<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult>%s<AssumedRoleUser><Arn>arn:aws:sts::111122223333:assumed-role/deploy/%s</Arn><AssumedRoleId>AROADEPLOY:%s</AssumedRoleId></AssumedRoleUser></AssumeRoleResult><ResponseMetadata><RequestId>r3</RequestId></ResponseMetadata></AssumeRoleResponse>`,
			creds("ASIACLUSTERROLE00001"), r.PostForm.Get("RoleSessionName"), r.PostForm.Get("RoleSessionName"))
	case "GetCallerIdentity":
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>arn:aws:sts::111122223333:assumed-role/ci/alice</Arn><UserId>AROACI:alice</UserId><Account>111122223333</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>r4</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	default:
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>unknown</Message></Error></ErrorResponse>`)
	}
}

func (s *stsServer) actions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, c := range s.calls {
		out = append(out, c.Get("Action"))
	}
	return out
}

// fakeOIDC is a CI token source that records the audiences asked.
type fakeOIDC struct {
	mu   sync.Mutex
	auds []string
	err  error
}

func (f *fakeOIDC) String() string { return "test OIDC" }
func (f *fakeOIDC) Token(_ context.Context, aud string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.auds = append(f.auds, aud)
	if f.err != nil {
		return "", f.err
	}
	return "ci-id-token-" + aud, nil
}

// decodeToken checks the token's shape and returns the presigned URL.
func decodeToken(t *testing.T, tok string) *url.URL {
	t.Helper()
	if !strings.HasPrefix(tok, TokenPrefix) {
		t.Fatalf("token lacks %q", TokenPrefix)
	}
	rest := strings.TrimPrefix(tok, TokenPrefix)
	if strings.ContainsAny(rest, "=+/") {
		t.Fatal("token is not base64url without padding")
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(string(b))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// verifyPresigned re-signs the request the URL describes with the given
// credentials and the URL's own signing time, as STS would check it.
func verifyPresigned(t *testing.T, u *url.URL, creds aws.Credentials, region, cluster string) {
	t.Helper()
	q := u.Query()
	for k, want := range map[string]string{"Action": "GetCallerIdentity", "Version": "2011-06-15", "X-Amz-Expires": "60", "X-Amz-Algorithm": "AWS4-HMAC-SHA256"} {
		if got := q.Get(k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	if sh := q.Get("X-Amz-SignedHeaders"); sh != "host;x-k8s-aws-id" {
		t.Errorf("signed headers %q, want host;x-k8s-aws-id", sh)
	}
	if cred := q.Get("X-Amz-Credential"); !strings.HasPrefix(cred, creds.AccessKeyID+"/") || !strings.HasSuffix(cred, "/"+region+"/sts/aws4_request") {
		t.Errorf("credential scope %q, want key %s in %s/sts", cred, creds.AccessKeyID, region)
	}
	signed, err := time.Parse("20060102T150405Z", q.Get("X-Amz-Date"))
	if err != nil {
		t.Fatal(err)
	}
	check := *u
	cq := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
	check.RawQuery = cq.Encode()
	req, _ := http.NewRequest(http.MethodGet, check.String(), nil)
	req.Header.Set(ClusterHeader, cluster)
	req.Header.Set("X-Amz-Expires", "60")
	empty := sha256.Sum256(nil)
	again, _, err := v4.NewSigner().PresignHTTP(context.Background(), creds, req, hex.EncodeToString(empty[:]), "sts", region, signed)
	if err != nil {
		t.Fatal(err)
	}
	au, _ := url.Parse(again)
	if got, want := q.Get("X-Amz-Signature"), au.Query().Get("X-Amz-Signature"); got == "" || got != want {
		t.Errorf("signature does not verify for cluster %q: got %s, want %s", cluster, got, want)
	}
}

func TestEKSTokenWithBaseCredentials(t *testing.T) {
	isolate(t)
	baseCreds(t)
	sts := newSTS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	var reported []string
	p := New(Settings{Report: func(v string) { reported = append(reported, v) }})
	ctx := context.Background()
	e, err := p.EKS(ctx, EKSRequest{Cluster: "staging", Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	tok, err := e.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	u := decodeToken(t, tok.Value)
	if u.Host != strings.TrimPrefix(sts.URL, "http://") {
		t.Errorf("presigned for %s, want the AWS_ENDPOINT_URL_STS host", u.Host)
	}
	verifyPresigned(t, u, aws.Credentials{AccessKeyID: baseKeyID, SecretAccessKey: baseSecret}, "eu-west-1", "staging")
	if life := tok.Expiry.Sub(before); life < 14*time.Minute-time.Second || life > 14*time.Minute+time.Second {
		t.Errorf("token lives %v, want 14m for credentials that do not expire", life)
	}
	if !contains(reported, tok.Value) || !contains(reported, baseSecret) {
		t.Error("the token and the secret key were not both reported")
	}
	if len(sts.actions()) != 0 {
		t.Errorf("minting a token called STS: %v", sts.actions())
	}
}

func TestEKSTokenWithCIRole(t *testing.T) {
	isolate(t) // no base credentials at all: the CI token is the identity
	sts := newSTS(t)
	sts.expires = time.Now().Add(10 * time.Minute).UTC().Truncate(time.Second)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	oidc := &fakeOIDC{}
	p := New(Settings{RoleARN: "arn:aws:iam::111122223333:role/ferry", OIDC: oidc, SessionName: "ferry-gh-42-1"})
	ctx := context.Background()
	// The kubeconfig's profile does not exist in CI; with a CI role it is ignored.
	e, err := p.EKS(ctx, EKSRequest{Cluster: "prod", Region: "eu-west-1", Profile: "laptop-profile"})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := sts.actions(); len(got) != 1 || got[0] != "AssumeRoleWithWebIdentity" {
		t.Fatalf("STS calls %v", got)
	}
	call := sts.calls[0]
	if call.Get("RoleArn") != "arn:aws:iam::111122223333:role/ferry" || call.Get("RoleSessionName") != "ferry-gh-42-1" || call.Get("WebIdentityToken") != "ci-id-token-sts.amazonaws.com" {
		t.Errorf("AssumeRoleWithWebIdentity got %v", call)
	}
	if len(oidc.auds) != 1 || oidc.auds[0] != DefaultAudience {
		t.Errorf("audiences asked %v, want [%s]", oidc.auds, DefaultAudience)
	}
	u := decodeToken(t, tok.Value)
	if u.Query().Get("X-Amz-Security-Token") != "session-of-ASIAWEBIDENTITY00001" {
		t.Error("token not signed with the role's session")
	}
	verifyPresigned(t, u, aws.Credentials{AccessKeyID: "ASIAWEBIDENTITY00001", SecretAccessKey: "secret-of-ASIAWEBIDENTITY00001", SessionToken: "session-of-ASIAWEBIDENTITY00001"}, "eu-west-1", "prod")
	// Role credentials that expire in 10 minutes (refreshed 5 before)
	// bound the token's life below 14 minutes.
	if !tok.Expiry.Before(sts.expires) || time.Until(tok.Expiry) < 4*time.Minute {
		t.Errorf("token expiry %v, want before the role's %v and about 5m from now", tok.Expiry, sts.expires)
	}
	// A second token reuses the role session.
	if _, err := e.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(sts.actions()); n != 1 {
		t.Errorf("%d STS calls after two tokens, want 1", n)
	}
}

func TestEKSTokenWithClusterRole(t *testing.T) {
	isolate(t)
	baseCreds(t)
	sts := newSTS(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
	p := New(Settings{})
	ctx := context.Background()
	e, err := p.EKS(ctx, EKSRequest{Cluster: "prod", Region: "us-west-2", Role: RoleOptions{ARN: "arn:aws:iam::111122223333:role/deploy", ExternalID: "ext-1", ForwardSessionName: true}})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := e.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(sts.actions(), ","); got != "GetCallerIdentity,AssumeRole" {
		t.Fatalf("STS calls %s", got)
	}
	ar := sts.calls[1]
	if ar.Get("RoleArn") != "arn:aws:iam::111122223333:role/deploy" || ar.Get("ExternalId") != "ext-1" || ar.Get("RoleSessionName") != "alice" {
		t.Errorf("AssumeRole got %v", ar)
	}
	if !strings.Contains(sts.authz[1], "Credential="+baseKeyID+"/") {
		t.Error("AssumeRole was not signed with the base credentials")
	}
	verifyPresigned(t, decodeToken(t, tok.Value), aws.Credentials{AccessKeyID: "ASIACLUSTERROLE00001", SecretAccessKey: "secret-of-ASIACLUSTERROLE00001", SessionToken: "session-of-ASIACLUSTERROLE00001"}, "us-west-2", "prod")
}

func TestEKSTokenInputErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("refused web identity", func(t *testing.T) {
		isolate(t)
		sts := newSTS(t)
		sts.refuseWI = true
		t.Setenv("AWS_ENDPOINT_URL_STS", sts.URL)
		p := New(Settings{RoleARN: "arn:aws:iam::111122223333:role/ferry", OIDC: &fakeOIDC{}})
		e, err := p.EKS(ctx, EKSRequest{Cluster: "prod", Region: "eu-west-1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Token(ctx)
		mustInput(t, err, "arn:aws:iam::111122223333:role/ferry", "AccessDenied", "trust policy", "FERRY_AWS_ROLE_ARN", "FERRY_AWS_AUDIENCE")
		if strings.Contains(err.Error(), "ci-id-token") {
			t.Fatal("the error shows the CI token")
		}
	})
	t.Run("no CI token", func(t *testing.T) {
		isolate(t)
		t.Setenv("AWS_ENDPOINT_URL_STS", newSTS(t).URL)
		p := New(Settings{RoleARN: "arn:aws:iam::1:role/x", OIDC: &fakeOIDC{err: promote.Input(fmt.Errorf("add permissions: id-token: write"))}})
		e, _ := p.EKS(ctx, EKSRequest{Cluster: "c", Region: "eu-west-1"})
		_, err := e.Token(ctx)
		mustInput(t, err, "id-token: write")
	})
	t.Run("no credentials", func(t *testing.T) {
		isolate(t)
		p := New(Settings{})
		e, err := p.EKS(ctx, EKSRequest{Cluster: "c", Region: "eu-west-1"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = e.Token(ctx)
		mustInput(t, err, "no AWS credentials found", "AWS_ACCESS_KEY_ID", "FERRY_AWS_ROLE_ARN")
	})
	t.Run("unknown profile", func(t *testing.T) {
		isolate(t)
		_, err := New(Settings{}).EKS(ctx, EKSRequest{Cluster: "c", Profile: "nope"})
		mustInput(t, err, `aws profile "nope"`)
	})
}

func mustInput(t *testing.T, err error, says ...string) {
	t.Helper()
	if err == nil || !promote.IsInput(err) {
		t.Fatalf("want an input error, got %v", err)
	}
	for _, s := range says {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	for _, secret := range []string{baseSecret, "secret-of-", "session-of-"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error leaks %q", secret)
		}
	}
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func TestTokenExpiry(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name  string
		creds aws.Credentials
		want  time.Time
	}{
		{"static keys", aws.Credentials{}, now.Add(14 * time.Minute)},
		{"session ending later", aws.Credentials{CanExpire: true, Expires: now.Add(time.Hour)}, now.Add(14 * time.Minute)},
		{"session ending sooner", aws.Credentials{CanExpire: true, Expires: now.Add(3 * time.Minute)}, now.Add(3 * time.Minute)},
		{"can expire, no time", aws.Credentials{CanExpire: true}, now.Add(14 * time.Minute)},
	}
	for _, tc := range cases {
		if got := TokenExpiry(now, tc.creds); !got.Equal(tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestParseRegistry(t *testing.T) {
	cases := []struct {
		host string
		want Registry
		ok   bool
	}{
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com", Registry{Account: "111122223333", Region: "eu-west-1"}, true},
		{"111122223333.dkr.ecr-fips.us-gov-west-1.amazonaws.com", Registry{Account: "111122223333", Region: "us-gov-west-1", FIPS: true}, true},
		{"111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn", Registry{Account: "111122223333", Region: "cn-north-1"}, true},
		{"111122223333.dkr-ecr.eu-west-1.on.aws", Registry{Account: "111122223333", Region: "eu-west-1"}, true},
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com:443", Registry{Account: "111122223333", Region: "eu-west-1"}, true},
		{"111122223333.DKR.ECR.EU-WEST-1.AMAZONAWS.COM", Registry{Account: "111122223333", Region: "eu-west-1"}, true},
		{"public.ecr.aws", Registry{Public: true}, true},
		{"11112222333.dkr.ecr.eu-west-1.amazonaws.com", Registry{}, false}, // 11 digits
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com.evil.example", Registry{}, false},
		{"evil.example/111122223333.dkr.ecr.eu-west-1.amazonaws.com", Registry{}, false},
		{"ghcr.io", Registry{}, false},
		{"europe-west1-docker.pkg.dev", Registry{}, false},
		{"ecr.aws", Registry{}, false},
	}
	for _, tc := range cases {
		got, ok := ParseRegistry(tc.host)
		if ok != tc.ok || got != tc.want {
			t.Errorf("ParseRegistry(%q) = %+v, %v; want %+v, %v", tc.host, got, ok, tc.want, tc.ok)
		}
	}
}

// ecrServer answers ECR's and ECR Public's JSON 1.1 GetAuthorizationToken.
type ecrServer struct {
	*httptest.Server
	mu     sync.Mutex
	calls  []string // X-Amz-Target
	scopes []string // credential scope of each signature
}

func newECR(t *testing.T) *ecrServer {
	s := &ecrServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		target := r.Header.Get("X-Amz-Target")
		authz := r.Header.Get("Authorization")
		scope := ""
		if i := strings.Index(authz, "Credential="); i >= 0 {
			scope = strings.SplitN(authz[i+len("Credential="):], ",", 2)[0]
		}
		s.mu.Lock()
		s.calls = append(s.calls, target)
		s.scopes = append(s.scopes, scope)
		s.mu.Unlock()
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" || !strings.HasPrefix(authz, "AWS4-HMAC-SHA256 ") {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		exp := float64(time.Now().Add(12*time.Hour).Unix()) + 0.5
		switch target {
		case "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken":
			json.NewEncoder(w).Encode(map[string]any{"authorizationData": []map[string]any{{
				"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:private-ecr-password")),
				"expiresAt":          exp,
				"proxyEndpoint":      "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com",
			}}})
		case "SpencerFrontendService.GetAuthorizationToken":
			json.NewEncoder(w).Encode(map[string]any{"authorizationData": map[string]any{
				"authorizationToken": base64.StdEncoding.EncodeToString([]byte("AWS:public-ecr-password")),
				"expiresAt":          exp,
			}})
		default:
			w.WriteHeader(http.StatusBadRequest)
			json.NewEncoder(w).Encode(map[string]string{"__type": "UnknownOperationException"})
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func resolve(t *testing.T, kc authn.Keychain, host string) (*authn.AuthConfig, error) {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	a, err := kc.Resolve(reg)
	if err != nil {
		return nil, err
	}
	return a.Authorization()
}

func TestKeychain(t *testing.T) {
	isolate(t)
	baseCreds(t)
	srv := newECR(t)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_ECR_PUBLIC", srv.URL)
	var reported []string
	var mu sync.Mutex
	kc := New(Settings{Report: func(v string) { mu.Lock(); reported = append(reported, v); mu.Unlock() }}).Keychain()

	cases := []struct {
		host, user, pass, target, scope string
	}{
		{"111122223333.dkr.ecr.eu-west-1.amazonaws.com", "AWS", "private-ecr-password", "AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken", "/eu-west-1/ecr/aws4_request"},
		{"public.ecr.aws", "AWS", "public-ecr-password", "SpencerFrontendService.GetAuthorizationToken", "/us-east-1/ecr-public/aws4_request"},
		{"ghcr.io", "", "", "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.host, func(t *testing.T) {
			srv.mu.Lock()
			n := len(srv.calls)
			srv.mu.Unlock()
			for range 2 { // the second resolve is served from the cache
				cfg, err := resolve(t, kc, tc.host)
				if err != nil {
					t.Fatal(err)
				}
				if cfg.Username != tc.user || cfg.Password != tc.pass {
					t.Fatalf("got %q/%v", cfg.Username, cfg.Password == tc.pass)
				}
			}
			srv.mu.Lock()
			defer srv.mu.Unlock()
			calls := srv.calls[n:]
			if tc.target == "" {
				if len(calls) != 0 {
					t.Fatalf("a non-ECR registry called ECR: %v", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0] != tc.target || !strings.HasSuffix(srv.scopes[n], tc.scope) {
				t.Fatalf("calls %v scope %v, want one %s in %s", calls, srv.scopes[n:], tc.target, tc.scope)
			}
			mu.Lock()
			defer mu.Unlock()
			if !contains(reported, tc.pass) {
				t.Fatal("the registry password was not reported")
			}
		})
	}
}

func TestKeychainWithoutCredentials(t *testing.T) {
	isolate(t)
	srv := newECR(t)
	t.Setenv("AWS_ENDPOINT_URL_ECR", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_ECR_PUBLIC", srv.URL)
	kc := New(Settings{}).Keychain()
	// ECR Public serves public images to anyone.
	cfg, err := resolve(t, kc, "public.ecr.aws")
	if err != nil || cfg.Username != "" || cfg.Password != "" {
		t.Fatalf("public.ecr.aws without credentials: %+v, %v", cfg, err)
	}
	_, err = resolve(t, kc, "111122223333.dkr.ecr.eu-west-1.amazonaws.com")
	mustInput(t, err, "no AWS credentials found")
	if len(srv.calls) != 0 {
		t.Fatalf("ECR was called without credentials: %v", srv.calls)
	}
}
