package awsemu

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/aws/aws-sdk-go-v2/service/ecrpublic"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

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
	// Nothing from the machine's own AWS setup may leak in.
	for k, v := range map[string]string{
		"AWS_CONFIG_FILE":             "/nonexistent/config",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/credentials",
		"AWS_EC2_METADATA_DISABLED":   "true",
	} {
		os.Setenv(k, v)
	}
	if gh, err = oidcemu.NewGitHub(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	gh.Install(nw)
	emu = New(Options{Client: nw.Client()})
	emu.Install(nw)
	return m.Run()
}

// useKey puts key into the environment, as a user would.
func useKey(t *testing.T, k AccessKey, region string) {
	t.Helper()
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_SESSION_NAME", "AWS_ENDPOINT_URL_STS", "AWS_ENDPOINT_URL_ECR", "AWS_PROFILE"} {
		t.Setenv(v, "")
		os.Unsetenv(v)
	}
	for _, kv := range k.Env() {
		name, val, _ := strings.Cut(kv, "=")
		t.Setenv(name, val)
	}
	t.Setenv("AWS_REGION", region)
}

func loadConfig(t *testing.T) aws.Config {
	t.Helper()
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestGetCallerIdentityWithUserKeys(t *testing.T) {
	key := emu.AddUser("deployer")
	for _, region := range []string{"eu-west-1", "us-east-1"} {
		t.Run(region, func(t *testing.T) {
			useKey(t, key, region)
			nw.Reset()
			out, err := sts.NewFromConfig(loadConfig(t)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToString(out.Arn) != "arn:aws:iam::111122223333:user/deployer" || aws.ToString(out.Account) != DefaultAccount ||
				!strings.HasPrefix(aws.ToString(out.UserId), "AIDA") {
				t.Fatalf("identity %s %s %s", aws.ToString(out.Arn), aws.ToString(out.Account), aws.ToString(out.UserId))
			}
			if !nw.Reached("sts." + region + ".amazonaws.com") {
				t.Fatalf("hosts %v", nw.Hosts())
			}
		})
	}
}

func TestGetCallerIdentityThroughEndpointSetting(t *testing.T) {
	key := emu.AddUser("endpoint-user")
	useKey(t, key, "eu-west-1")
	u, err := nw.Direct("sts.eu-west-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", u)
	nw.Reset()
	out, err := sts.NewFromConfig(loadConfig(t)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(aws.ToString(out.Arn), ":user/endpoint-user") {
		t.Fatalf("arn %s", aws.ToString(out.Arn))
	}
	if len(nw.Hosts()) != 0 || len(nw.RequestsTo("sts.eu-west-1.amazonaws.com")) != 1 {
		t.Fatalf("hosts %v requests %v", nw.Hosts(), nw.Requests())
	}
}

func TestSignatureErrors(t *testing.T) {
	key := emu.AddUser("victim")
	tests := []struct {
		name string
		key  AccessKey
		code string
	}{
		{"wrong secret", AccessKey{ID: key.ID, Secret: strings.Repeat("x", 40)}, "SignatureDoesNotMatch"},
		{"unknown key", AccessKey{ID: "AKIAUNKNOWNUNKNOWN00", Secret: key.Secret}, "InvalidClientTokenId"},
		{"token on a user key", AccessKey{ID: key.ID, Secret: key.Secret, SessionToken: "bogus"}, "InvalidClientTokenId"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			useKey(t, tt.key, "eu-west-1")
			_, err := sts.NewFromConfig(loadConfig(t)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
			if code := apiCode(err); code != tt.code {
				t.Fatalf("error %v, want %s", err, tt.code)
			}
		})
	}
}

// presign makes an EKS-style token URL: GetCallerIdentity presigned with
// x-k8s-aws-id signed and X-Amz-Expires=60, as `aws eks get-token` does.
func presign(t *testing.T, cfg aws.Config, cluster string) string {
	t.Helper()
	pc := sts.NewPresignClient(sts.NewFromConfig(cfg))
	req, err := pc.PresignGetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}, func(o *sts.PresignOptions) {
		o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-k8s-aws-id", cluster),
				smithyhttp.SetHeaderValue("X-Amz-Expires", "60"))
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != http.MethodGet || !strings.Contains(req.URL, "X-Amz-SignedHeaders=host%3Bx-k8s-aws-id") {
		t.Fatalf("presigned %s %s", req.Method, req.URL)
	}
	return req.URL
}

// callPresigned does what aws-iam-authenticator does with a token.
func callPresigned(t *testing.T, url, cluster string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-k8s-aws-id", cluster)
	req.Header.Set("accept", "application/json")
	resp, err := nw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestPresignedGetCallerIdentity(t *testing.T) {
	key := emu.AddUser("eks-user")
	useKey(t, key, "eu-west-1")
	url := presign(t, loadConfig(t), "prod")
	status, body := callPresigned(t, url, "prod")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var out struct {
		GetCallerIdentityResponse struct {
			GetCallerIdentityResult struct{ Arn, Account, UserId string }
		}
	}
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	if out.GetCallerIdentityResponse.GetCallerIdentityResult.Arn != "arn:aws:iam::111122223333:user/eks-user" {
		t.Fatalf("body %s", body)
	}
	// The token of another cluster: the signed header differs.
	status, body = callPresigned(t, url, "staging")
	if status != 403 || !strings.Contains(string(body), `"Code":"SignatureDoesNotMatch"`) {
		t.Fatalf("other cluster: %d %s", status, body)
	}
}

func TestPresignedURLExpires(t *testing.T) {
	key := emu.AddUser("late")
	req, err := http.NewRequest(http.MethodGet, "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("x-k8s-aws-id", "prod")
	signed, _, err := v4.NewSigner().PresignHTTP(t.Context(), aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret},
		req, sha256Hex(nil), "sts", "eu-west-1", time.Now().Add(-16*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	status, body := callPresigned(t, signed, "prod")
	if status != 403 || !strings.Contains(string(body), "Request has expired") {
		t.Fatalf("%d %s", status, body)
	}
	// The same, signed now, passes: it was the age.
	signed, _, err = v4.NewSigner().PresignHTTP(t.Context(), aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret},
		req, sha256Hex(nil), "sts", "eu-west-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, body := callPresigned(t, signed, "prod"); status != 200 {
		t.Fatalf("%d %s", status, body)
	}
}

func TestHeaderSignedSkew(t *testing.T) {
	key := emu.AddUser("skewed")
	body := "Action=GetCallerIdentity&Version=2011-06-15"
	req, _ := http.NewRequest(http.MethodPost, "https://sts.amazonaws.com/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	if err := v4.NewSigner().SignHTTP(t.Context(), aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret},
		req, sha256Hex([]byte(body)), "sts", "us-east-1", time.Now().Add(-20*time.Minute)); err != nil {
		t.Fatal(err)
	}
	resp, err := nw.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(b), "<Code>SignatureDoesNotMatch</Code>") ||
		!strings.Contains(string(b), "Signature expired") || !strings.Contains(string(b), "<Type>Sender</Type>") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}

// webIdentity writes a GitHub token for aud into a file and points the
// SDK's web identity variables at it and at role.
func webIdentity(t *testing.T, job *oidcemu.Job, aud, role string) {
	t.Helper()
	useKey(t, AccessKey{}, "eu-west-1")
	os.Unsetenv("AWS_ACCESS_KEY_ID")
	os.Unsetenv("AWS_SECRET_ACCESS_KEY")
	tok, err := job.Mint(aud)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(f, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_WEB_IDENTITY_TOKEN_FILE", f)
	t.Setenv("AWS_ROLE_ARN", role)
	t.Setenv("AWS_ROLE_SESSION_NAME", "ferry-run-1")
}

func TestAssumeRoleWithWebIdentityThroughTheSDKChain(t *testing.T) {
	role := emu.AddRole(Role{Name: "ferry-deploy", WebIdentity: []WebIdentityTrust{{
		Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:environment:*"}}})
	job := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "production"})
	webIdentity(t, job, "sts.amazonaws.com", role)
	nw.Reset()
	before := len(emu.CallsOf("AssumeRoleWithWebIdentity"))
	out, err := sts.NewFromConfig(loadConfig(t)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(out.Arn); got != "arn:aws:sts::111122223333:assumed-role/ferry-deploy/ferry-run-1" {
		t.Fatalf("arn %s", got)
	}
	if !strings.HasSuffix(aws.ToString(out.UserId), ":ferry-run-1") {
		t.Fatalf("user id %s", aws.ToString(out.UserId))
	}
	if n := len(emu.CallsOf("AssumeRoleWithWebIdentity")) - before; n != 1 {
		t.Fatalf("%d AssumeRoleWithWebIdentity calls", n)
	}
	// AWS fetched the issuer's keys over HTTPS, as IAM does.
	if len(nw.RequestsTo("token.actions.githubusercontent.com")) < 2 {
		t.Fatalf("no discovery/JWKS fetch: %v", nw.Requests())
	}
}

func TestAssumeRoleWithWebIdentityRefusals(t *testing.T) {
	role := emu.AddRole(Role{Name: "ferry-strict", WebIdentity: []WebIdentityTrust{{
		Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:environment:production"}}})
	good := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "production"})
	otherRepo := gh.NewJob(oidcemu.JobSpec{Repository: "acme/other", Environment: "production"})
	short := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop", Environment: "production", Lifetime: -time.Minute})
	stranger, err := oidcemu.NewIssuer("https://oidc.example.com", "/jwks")
	if err != nil {
		t.Fatal(err)
	}
	strangerTok, _ := stranger.Mint(map[string]any{"aud": "sts.amazonaws.com", "sub": "x"}, time.Minute)
	mint := func(j *oidcemu.Job, aud string) string {
		tok, err := j.Mint(aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tests := []struct {
		name, role, token, code, message string
	}{
		{"wrong audience", role, mint(good, "api://AzureADTokenExchange"), "InvalidIdentityToken", "Incorrect token audience"},
		{"subject not trusted", role, mint(otherRepo, "sts.amazonaws.com"), "AccessDenied", "Not authorized to perform sts:AssumeRoleWithWebIdentity"},
		{"no such role", "arn:aws:iam::111122223333:role/nope", mint(good, "sts.amazonaws.com"), "AccessDenied", "Not authorized"},
		{"expired", role, mint(short, "sts.amazonaws.com"), "ExpiredTokenException", "Token expired: current date/time"},
		{"unknown provider", role, strangerTok, "InvalidIdentityToken", "No OpenIDConnect provider found in your account for https://oidc.example.com"},
		{"not a JWT", role, "ya29.not-a-jwt", "InvalidIdentityToken", "not a valid JWT"},
	}
	useKey(t, AccessKey{}, "eu-west-1")
	client := sts.NewFromConfig(loadConfig(t), func(o *sts.Options) { o.Credentials = aws.AnonymousCredentials{} })
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := client.AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{
				RoleArn: aws.String(tt.role), RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(tt.token)})
			var ae smithy.APIError
			if !errors.As(err, &ae) || ae.ErrorCode() != tt.code || !strings.Contains(ae.ErrorMessage(), tt.message) {
				t.Fatalf("error %v, want %s: %s", err, tt.code, tt.message)
			}
		})
	}
	t.Run("duration below STS minimum", func(t *testing.T) {
		_, err := client.AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{RoleArn: aws.String(role),
			RoleSessionName: aws.String("s1"), WebIdentityToken: aws.String(mint(good, "sts.amazonaws.com")), DurationSeconds: aws.Int32(60)})
		if apiCode(err) != "ValidationError" {
			t.Fatalf("error %v", err)
		}
	})
}

// TestShortLivedCredentialsRefresh shows credentials issued for 2 s
// expire (STS refuses them) and the SDK's credential cache re-assumes the
// role on its own.
func TestShortLivedCredentialsRefresh(t *testing.T) {
	emu.SetCredentialLifetime(2 * time.Second)
	t.Cleanup(func() { emu.SetCredentialLifetime(0) })
	role := emu.AddRole(Role{Name: "short", WebIdentity: []WebIdentityTrust{{Issuer: oidcemu.GitHubIssuer}}})
	webIdentity(t, gh.NewJob(oidcemu.JobSpec{}), "sts.amazonaws.com", role)
	cfg := loadConfig(t)
	creds, err := cfg.Credentials.Retrieve(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(creds.Expires); d > 2*time.Second || d < 0 {
		t.Fatalf("credentials expire in %s", d)
	}
	before := len(emu.CallsOf("AssumeRoleWithWebIdentity"))
	time.Sleep(2500 * time.Millisecond)
	// The stale credentials, used as static ones, are refused...
	useKey(t, AccessKey{ID: creds.AccessKeyID, Secret: creds.SecretAccessKey, SessionToken: creds.SessionToken}, "eu-west-1")
	_, err = sts.NewFromConfig(loadConfig(t)).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if apiCode(err) != "ExpiredToken" {
		t.Fatalf("stale credentials: %v", err)
	}
	// ...while the cached provider re-assumes the role.
	if _, err := sts.NewFromConfig(cfg).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatal(err)
	}
	if n := len(emu.CallsOf("AssumeRoleWithWebIdentity")) - before; n != 1 {
		t.Fatalf("%d re-assumptions, want 1", n)
	}
}

func TestAssumeRole(t *testing.T) {
	key := emu.AddUser("chainer")
	role := emu.AddRole(Role{Name: "target", Principals: []string{"arn:aws:iam::111122223333:user/chainer"}})
	useKey(t, key, "eu-west-1")
	client := sts.NewFromConfig(loadConfig(t))
	out, err := client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("chain")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::111122223333:assumed-role/target/chain" {
		t.Fatalf("arn %s", aws.ToString(out.AssumedRoleUser.Arn))
	}
	other := emu.AddUser("outsider")
	useKey(t, other, "eu-west-1")
	_, err = sts.NewFromConfig(loadConfig(t)).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(role), RoleSessionName: aws.String("xy")})
	if apiCode(err) != "AccessDenied" {
		t.Fatalf("error %v", err)
	}
}

func TestECRGetAuthorizationToken(t *testing.T) {
	key := emu.AddUser("puller")
	useKey(t, key, "eu-west-1")
	out, err := ecr.NewFromConfig(loadConfig(t)).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.AuthorizationData) != 1 {
		t.Fatalf("%d authorization data", len(out.AuthorizationData))
	}
	d := out.AuthorizationData[0]
	if aws.ToString(d.ProxyEndpoint) != "https://111122223333.dkr.ecr.eu-west-1.amazonaws.com" {
		t.Fatalf("proxy endpoint %s", aws.ToString(d.ProxyEndpoint))
	}
	if until := time.Until(aws.ToTime(d.ExpiresAt)); until < 11*time.Hour || until > 12*time.Hour {
		t.Fatalf("expires in %s", until)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(d.AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	p, err := emu.CheckECRPassword("111122223333.dkr.ecr.eu-west-1.amazonaws.com", user, pass)
	if err != nil || p.ARN != "arn:aws:iam::111122223333:user/puller" {
		t.Fatalf("check: %v %v", p, err)
	}
	if _, err := emu.CheckECRPassword("111122223333.dkr.ecr.us-east-1.amazonaws.com", user, pass); !errors.Is(err, ErrECRInvalid) {
		t.Fatalf("other region: %v", err)
	}
	if _, err := emu.CheckECRPassword("111122223333.dkr.ecr.eu-west-1.amazonaws.com", user, pass+"x"); !errors.Is(err, ErrECRInvalid) {
		t.Fatalf("wrong password: %v", err)
	}

	// Through AWS_ENDPOINT_URL_ECR as well.
	u, err := nw.Direct("api.ecr.eu-west-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_ENDPOINT_URL_ECR", u)
	if _, err := ecr.NewFromConfig(loadConfig(t)).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{}); err != nil {
		t.Fatal(err)
	}

	useKey(t, AccessKey{ID: key.ID, Secret: "wrong" + key.Secret[5:]}, "eu-west-1")
	_, err = ecr.NewFromConfig(loadConfig(t)).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if apiCode(err) != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %v", err)
	}
}

func TestECRPasswordExpires(t *testing.T) {
	short := New(Options{Client: nw.Client(), ECRTokenLifetime: time.Second})
	key := short.AddUser("brief")
	u, err := nw.Direct("api.ecr.eu-central-1.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	// A second emulator behind the same host for this test only.
	nw.Handle("api.ecr.eu-central-1.amazonaws.com", short)
	t.Cleanup(func() { nw.Handle("api.ecr.eu-central-1.amazonaws.com", emu) })
	useKey(t, key, "eu-central-1")
	t.Setenv("AWS_ENDPOINT_URL_ECR", u)
	out, err := ecr.NewFromConfig(loadConfig(t)).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	_, pass, _ := strings.Cut(string(raw), ":")
	time.Sleep(1100 * time.Millisecond)
	if _, err := short.CheckECRPassword("111122223333.dkr.ecr.eu-central-1.amazonaws.com", "AWS", pass); !errors.Is(err, ErrECRExpired) {
		t.Fatalf("error %v, want expired", err)
	}
}

func TestECRPublicGetAuthorizationToken(t *testing.T) {
	key := emu.AddUser("public-puller")
	useKey(t, key, "us-east-1")
	out, err := ecrpublic.NewFromConfig(loadConfig(t)).GetAuthorizationToken(context.Background(), &ecrpublic.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData.AuthorizationToken))
	if err != nil {
		t.Fatal(err)
	}
	user, pass, _ := strings.Cut(string(raw), ":")
	if _, err := emu.CheckECRPublicPassword(user, pass); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.CheckECRPassword("111122223333.dkr.ecr.us-east-1.amazonaws.com", user, pass); err == nil {
		t.Fatal("an ECR Public password opened a private registry")
	}
	if !nw.Reached("api.ecr-public.us-east-1.amazonaws.com") {
		t.Fatalf("hosts %v", nw.Hosts())
	}
}

func TestStringLike(t *testing.T) {
	tests := []struct {
		p, s string
		want bool
	}{
		{"", "anything", true},
		{"repo:acme/shop:*", "repo:acme/shop:ref:refs/heads/main", true},
		{"repo:acme/shop:*", "repo:acme/shopper:ref:x", false},
		{"repo:acme/?hop:*", "repo:acme/shop:x", true},
		{"repo:acme/shop:environment:production", "repo:acme/shop:environment:production", true},
		{"repo:a.b/c:*", "repo:aXb/c:x", false},
	}
	for _, tt := range tests {
		if got := stringLike(tt.p, tt.s); got != tt.want {
			t.Errorf("stringLike(%q, %q) = %v", tt.p, tt.s, got)
		}
	}
}
