package kubeauth

import (
	"context"
	"encoding/base64"
	"errors"
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

	"k8s.io/client-go/rest"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/pkg/cloud/awsauth"
	"github.com/ferry-dev/ferry/pkg/cloud/azureauth"
	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

func execConfig(cmd string, args []string, env ...string) *clientcmdapi.ExecConfig {
	ec := &clientcmdapi.ExecConfig{Command: cmd, Args: args, APIVersion: "client.authentication.k8s.io/v1beta1"}
	for i := 0; i+1 < len(env); i += 2 {
		ec.Env = append(ec.Env, clientcmdapi.ExecEnvVar{Name: env[i], Value: env[i+1]})
	}
	return ec
}

func TestParse(t *testing.T) {
	procEnv := ciauth.MapLookup(map[string]string{"AZURE_CLIENT_SECRET": "from-azure-var", "AZURE_FEDERATED_TOKEN_FILE": "/var/run/token"})
	cases := []struct {
		name    string
		ec      *clientcmdapi.ExecConfig
		env     ciauth.Lookup
		want    Plugin
		known   bool
		wantErr string
	}{
		{"aws eks update-kubeconfig",
			execConfig("aws", []string{"--region", "eu-west-1", "eks", "get-token", "--cluster-name", "staging", "--output", "json"}, "AWS_PROFILE", "prod"), nil,
			Plugin{Kind: AWSCLI, Command: "aws", Cluster: "staging", Region: "eu-west-1", Profile: "prod", Role: awsauth.RoleOptions{SessionName: "EKSGetTokenAuth"}}, true, ""},
		{"aws with a role and = forms",
			execConfig("/usr/local/bin/aws", []string{"eks", "get-token", "--cluster-name=prod", "--role-arn=arn:aws:iam::1:role/deploy"}, "AWS_DEFAULT_REGION", "us-west-2"), nil,
			Plugin{Kind: AWSCLI, Command: "/usr/local/bin/aws", Cluster: "prod", Region: "us-west-2", Role: awsauth.RoleOptions{ARN: "arn:aws:iam::1:role/deploy", SessionName: "EKSGetTokenAuth"}}, true, ""},
		{"aws eks update-kubeconfig --role-arn writes --role",
			execConfig("aws", []string{"--region", "eu-west-1", "eks", "get-token", "--cluster-name", "prod", "--output", "json", "--role", "arn:aws:iam::1:role/deploy"}), nil,
			Plugin{Kind: AWSCLI, Command: "aws", Cluster: "prod", Region: "eu-west-1", Role: awsauth.RoleOptions{ARN: "arn:aws:iam::1:role/deploy", SessionName: "EKSGetTokenAuth"}}, true, ""},
		{"aws outposts cluster id wins",
			execConfig("aws", []string{"eks", "get-token", "--cluster-name", "n", "--cluster-id", "0123-id"}), nil,
			Plugin{Kind: AWSCLI, Command: "aws", Cluster: "0123-id", Role: awsauth.RoleOptions{SessionName: "EKSGetTokenAuth"}}, true, ""},
		{"another aws command", execConfig("aws", []string{"sts", "get-caller-identity"}), nil, Plugin{}, false, ""},
		{"aws without a cluster", execConfig("aws", []string{"eks", "get-token"}), nil, Plugin{}, true, "add --cluster-name"},
		{"aws with an endpoint", execConfig("aws", []string{"--endpoint-url", "https://x", "eks", "get-token", "--cluster-name", "c"}), nil, Plugin{}, true, "AWS_ENDPOINT_URL_STS"},
		{"iam authenticator",
			execConfig("aws-iam-authenticator", []string{"token", "-i", "eks-cluster"}), nil,
			Plugin{Kind: IAMAuthenticator, Command: "aws-iam-authenticator", Cluster: "eks-cluster"}, true, ""},
		{"iam authenticator, every flag",
			execConfig("aws-iam-authenticator", []string{"--cluster-id=c1", "token", "-r", "arn:aws:iam::1:role/r", "--region", "ap-south-1", "-s", "sess", "-e", "ext", "--forward-session-name"}, "AWS_PROFILE", "p"), nil,
			Plugin{Kind: IAMAuthenticator, Command: "aws-iam-authenticator", Cluster: "c1", Region: "ap-south-1", Profile: "p", Role: awsauth.RoleOptions{ARN: "arn:aws:iam::1:role/r", ExternalID: "ext", SessionName: "sess", ForwardSessionName: true}}, true, ""},
		{"iam authenticator, role and cluster from env",
			execConfig("aws-iam-authenticator", []string{"token"}, "DEFAULT_ROLE", "arn:aws:iam::1:role/d", "KUBERNETES_AWS_AUTHENTICATOR_CLUSTER_ID", "c2"), nil,
			Plugin{Kind: IAMAuthenticator, Command: "aws-iam-authenticator", Cluster: "c2", Role: awsauth.RoleOptions{ARN: "arn:aws:iam::1:role/d"}}, true, ""},
		{"iam authenticator verify", execConfig("aws-iam-authenticator", []string{"verify", "-t", "x"}), nil, Plugin{}, true, "`aws-iam-authenticator token` only"},
		{"gke plugin", execConfig("gke-gcloud-auth-plugin", nil), nil, Plugin{Kind: GKEPlugin, Command: "gke-gcloud-auth-plugin"}, true, ""},
		{"gke plugin with ADC", execConfig("gke-gcloud-auth-plugin", []string{"--use_application_default_credentials"}), nil, Plugin{Kind: GKEPlugin, Command: "gke-gcloud-auth-plugin"}, true, ""},
		{"gke edge cloud", execConfig("gke-gcloud-auth-plugin", []string{"--use_edge_cloud", "--location", "l", "--cluster", "c"}), nil, Plugin{}, true, "--use_edge_cloud"},
		{"kubelogin from az aks get-credentials",
			execConfig("kubelogin", []string{"get-token", "--environment", "AzurePublicCloud", "--server-id", "6dae42f8-4368-4678-94ff-3960e28e3630", "--client-id", "80faf920-1908-4b52-b5ef-a8e7bedfc67a", "--tenant-id", "t1", "--login", "devicecode"}), nil,
			Plugin{Kind: Kubelogin, Command: "kubelogin", Login: "devicecode", ServerID: "6dae42f8-4368-4678-94ff-3960e28e3630", ClientID: "80faf920-1908-4b52-b5ef-a8e7bedfc67a", TenantID: "t1", Environment: "AzurePublicCloud"}, true, ""},
		{"kubelogin spn, variables win over flags",
			execConfig("kubelogin", []string{"get-token", "-l", "spn", "--server-id", "s", "--client-id", "flag-id", "--client-secret", "flag-secret", "-t", "t1"}, "AAD_SERVICE_PRINCIPAL_CLIENT_SECRET", "aad-secret"), procEnv,
			Plugin{Kind: Kubelogin, Command: "kubelogin", Login: "spn", ServerID: "s", ClientID: "flag-id", ClientSecret: "from-azure-var", TenantID: "t1", FederatedTokenFile: ""}, true, ""},
		{"kubelogin workload identity",
			execConfig("kubelogin", []string{"get-token", "--login", "workloadidentity", "--server-id", "s"}, "AZURE_CLIENT_ID", "wi-id", "AZURE_TENANT_ID", "t2", "AZURE_AUTHORITY_HOST", "https://login.microsoftonline.com/"), procEnv,
			Plugin{Kind: Kubelogin, Command: "kubelogin", Login: "workloadidentity", ServerID: "s", ClientID: "wi-id", TenantID: "t2", ClientSecret: "from-azure-var", FederatedTokenFile: "/var/run/token", AuthorityHost: "https://login.microsoftonline.com/"}, true, ""},
		{"kubelogin login from AAD_LOGIN_METHOD",
			execConfig("kubelogin", []string{"get-token", "--server-id", "s"}, "AAD_LOGIN_METHOD", "msi"), nil,
			Plugin{Kind: Kubelogin, Command: "kubelogin", Login: "msi", ServerID: "s"}, true, ""},
		{"kubelogin pop", execConfig("kubelogin", []string{"get-token", "--server-id", "s", "--pop-enabled", "--pop-claims", "u=x"}), nil, Plugin{}, true, "--pop-enabled"},
		{"kubelogin without server id", execConfig("kubelogin", []string{"get-token", "-l", "spn"}), nil, Plugin{}, true, "--server-id"},
		{"kubelogin other subcommand", execConfig("kubelogin", []string{"convert-kubeconfig"}), nil, Plugin{}, true, "`kubelogin get-token` only"},
		{"kubelogin missing value", execConfig("kubelogin", []string{"get-token", "--server-id"}), nil, Plugin{}, true, "--server-id needs a value"},
		{"oidc login", execConfig("kubectl", []string{"oidc-login", "get-token"}), nil, Plugin{}, false, ""},
		{"nil", nil, nil, Plugin{}, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, known, err := Parse(tc.ec, tc.env)
			if known != tc.known {
				t.Fatalf("recognized = %v, want %v", known, tc.known)
			}
			if tc.wantErr != "" {
				if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want an input error saying %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Fatalf("got  %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestDecide(t *testing.T) {
	cases := []struct {
		policy             Policy
		recognized, onPath bool
		mint               bool
		err                bool
	}{
		{Auto, true, false, true, false},
		{Auto, true, true, false, false},
		{Auto, false, true, false, false},
		{Auto, false, false, false, true},
		{Ferry, true, true, true, false},
		{Ferry, true, false, true, false},
		{Ferry, false, true, false, true},
		{PluginOnly, true, false, false, false},
		{PluginOnly, false, false, false, false},
	}
	for _, tc := range cases {
		mint, err := Decide(tc.policy, "oidc-login", tc.recognized, tc.onPath)
		if mint != tc.mint || (err != nil) != tc.err {
			t.Errorf("Decide(%s, recognized %v, on PATH %v) = %v, %v", tc.policy, tc.recognized, tc.onPath, mint, err)
		}
		if err != nil && (!promote.IsInput(err) || !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `"oidc-login"`) || !strings.Contains(err.Error(), "gke-gcloud-auth-plugin")) {
			t.Errorf("error does not name the plugin and what ferry supports: %v", err)
		}
	}
	for in, want := range map[string]Policy{"": Auto, "auto": Auto, "ferry": Ferry, "plugin": PluginOnly} {
		if got, err := ParsePolicy(in); got != want || err != nil {
			t.Errorf("ParsePolicy(%q) = %q, %v", in, got, err)
		}
	}
	if _, err := ParsePolicy("always"); err == nil {
		t.Error("ParsePolicy accepted always")
	}
}

func TestRenew(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	cases := []struct {
		name     string
		life, at time.Duration
		want     bool
	}{
		{"EKS early", 14 * time.Minute, 10 * time.Minute, false},
		{"EKS 3.5m left", 14 * time.Minute, 10*time.Minute + 31*time.Second, true},
		{"GKE 16m left", time.Hour, 44 * time.Minute, false},
		{"GKE 14m left", time.Hour, 46 * time.Minute, true},
		{"2m token, 31s left", 2 * time.Minute, 89 * time.Second, false},
		{"2m token, 29s left", 2 * time.Minute, 91 * time.Second, true},
		{"20s token, 11s left", 20 * time.Second, 9 * time.Second, false},
		{"20s token, 9s left", 20 * time.Second, 11 * time.Second, true},
		{"expired", time.Hour, 2 * time.Hour, true},
	}
	for _, tc := range cases {
		if got := Renew(t0.Add(tc.at), t0, t0.Add(tc.life)); got != tc.want {
			t.Errorf("%s: Renew = %v", tc.name, got)
		}
	}
	if Renew(t0, t0, time.Time{}) {
		t.Error("a token without expiry is renewed")
	}
}

// script is a Source that hands out tokens in order, or errors.
type script struct {
	mu     sync.Mutex
	now    *time.Time
	life   time.Duration
	n      int
	fail   bool
	repeat bool // hand out the same token again
}

func (s *script) String() string { return "test source" }
func (s *script) Token(context.Context) (Token, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return Token{}, promote.Input(errors.New("refused"))
	}
	if !s.repeat || s.n == 0 {
		s.n++
	}
	return Token{Value: fmt.Sprintf("token-%d", s.n), Expiry: s.now.Add(s.life)}, nil
}

func TestCredentialsRenewal(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := &script{now: &now, life: 20 * time.Second}
	c := NewCredentials(src)
	c.now = func() time.Time { return now }
	ctx := context.Background()
	step := func(at time.Duration, want string) {
		t.Helper()
		now = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Add(at)
		got, err := c.token(ctx)
		if err != nil || got != want {
			t.Fatalf("at %v: %q, %v; want %q", at, got, err, want)
		}
	}
	step(0, "token-1")
	step(5*time.Second, "token-1")
	step(11*time.Second, "token-2") // 9s of 20s left: renewed before expiry
	step(15*time.Second, "token-2")
	// A failed renewal keeps the valid token...
	src.fail = true
	step(22*time.Second, "token-2")
	if c.mints != 3 {
		t.Fatalf("%d mints", c.mints)
	}
	step(23*time.Second, "token-2") // ...without asking again at once
	if c.mints != 3 {
		t.Fatalf("asked again within the retry delay: %d mints", c.mints)
	}
	// ...until it expires.
	now = time.Date(2026, 1, 1, 0, 0, 32, 0, time.UTC)
	if _, err := c.token(ctx); err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "test source") {
		t.Fatalf("expired token and failing source: %v", err)
	}
	// An upstream cache handing back the same token is asked again later, not on every request.
	src.fail = false
	step(40*time.Second, "token-3")
	src.repeat = true
	mints := c.mints
	step(51*time.Second, "token-3") // due for renewal; the source repeats itself
	step(51*time.Second+500*time.Millisecond, "token-3")
	if c.mints != mints+1 {
		t.Fatalf("%d mints after a repeated token, want %d", c.mints, mints+1)
	}
}

// apiServer accepts one bearer token at a time and records bodies.
type apiServer struct {
	mu     sync.Mutex
	accept string
	bodies []string
	auths  []string
}

func (a *apiServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.bodies = append(a.bodies, string(b))
	a.auths = append(a.auths, r.Header.Get("Authorization"))
	if r.Header.Get("Authorization") != "Bearer "+a.accept {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","reason":"Unauthorized","code":401}`)
		return
	}
	fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Success"}`)
}

func TestRetryOn401(t *testing.T) {
	api := &apiServer{accept: "token-2"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	now := time.Now()
	c := NewCredentials(&script{now: &now, life: time.Hour})
	client := &http.Client{Transport: c.RoundTripper(http.DefaultTransport)}

	// token-1 was revoked: the server says 401, ferry mints token-2 and
	// sends the same body again.
	req, _ := http.NewRequest(http.MethodPatch, srv.URL+"/apis/apps/v1/namespaces/shop/deployments/web", strings.NewReader(`{"spec":{}}`))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || strings.Join(api.bodies, "|") != `{"spec":{}}|{"spec":{}}` || api.auths[1] != "Bearer token-2" {
		t.Fatalf("status %d, bodies %q, auths %q", resp.StatusCode, api.bodies, api.auths)
	}
	if req.Header.Get("Authorization") != "" {
		t.Fatal("the caller's request was modified")
	}

	// A body that cannot be replayed is not retried: the 401 is returned.
	api.accept, api.bodies = "nobody", nil
	req, _ = http.NewRequest(http.MethodPost, srv.URL+"/x", io.NopCloser(strings.NewReader("once")))
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(api.bodies) != 1 {
		t.Fatalf("status %d after %d requests, want one 401", resp.StatusCode, len(api.bodies))
	}
}

func TestConfigure(t *testing.T) {
	api := &apiServer{accept: "token-1"}
	srv := httptest.NewServer(api)
	defer srv.Close()
	rc := &rest.Config{
		Host:        srv.URL,
		BearerToken: "stale-static-token",
		ExecProvider: &clientcmdapi.ExecConfig{Command: "/nonexistent/aws", Args: []string{"eks", "get-token"},
			APIVersion: "client.authentication.k8s.io/v1beta1", InteractiveMode: clientcmdapi.NeverExecInteractiveMode},
	}
	var wrapped bool
	rc.WrapTransport = func(rt http.RoundTripper) http.RoundTripper { wrapped = true; return rt }
	now := time.Now()
	c := NewCredentials(&script{now: &now, life: time.Hour})
	Configure(rc, c)
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := hc.Get(srv.URL + "/version")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || api.auths[0] != "Bearer token-1" || !wrapped {
		t.Fatalf("status %d auth %q wrapped %v", resp.StatusCode, api.auths, wrapped)
	}
}

// fakeCommand puts an executable named name on a fresh PATH.
func fakeCommand(t *testing.T, names ...string) {
	dir := t.TempDir()
	for _, n := range names {
		os.WriteFile(filepath.Join(dir, n), []byte("#!/bin/sh\nexit 1\n"), 0o755)
	}
	t.Setenv("PATH", dir)
}

func TestResolverEKS(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty")
	os.WriteFile(empty, nil, 0o600)
	sts := httptest.NewServer(http.NotFoundHandler()) // presigning calls nothing
	defer sts.Close()
	for k, v := range map[string]string{"AWS_CONFIG_FILE": empty, "AWS_SHARED_CREDENTIALS_FILE": empty, "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "secret", "AWS_ENDPOINT_URL_STS": sts.URL, "AWS_REGION": "", "AWS_PROFILE": ""} {
		t.Setenv(k, v)
	}
	ec := execConfig("aws", []string{"eks", "get-token", "--cluster-name", "staging", "--output", "json"})
	server := "https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com"
	ctx := context.Background()

	fakeCommand(t) // no aws on PATH
	var reported []string
	r := &Resolver{Report: func(v string) { reported = append(reported, v) }}
	src, err := r.Source(ctx, ec, server)
	if err != nil || src == nil {
		t.Fatalf("source %v, %v", src, err)
	}
	tok, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.Value, awsauth.TokenPrefix) || !strings.Contains(src.String(), "staging") {
		t.Fatalf("token %.20s from %s", tok.Value, src)
	}
	if len(reported) == 0 || reported[len(reported)-1] != tok.Value {
		t.Fatal("the minted token was not reported")
	}
	// The region came from the server URL: the signature's scope says so.
	if u, err := url.Parse(decodeCredential(t, tok.Value)); err != nil || !strings.Contains(u.Query().Get("X-Amz-Credential"), "/eu-west-1/sts/") {
		t.Fatal("region not taken from the EKS server URL")
	}

	fakeCommand(t, "aws") // installed: client-go runs it
	if src, err := r.Source(ctx, ec, server); src != nil || err != nil {
		t.Fatalf("with aws installed and policy auto: %v, %v", src, err)
	}
	r2 := &Resolver{Policy: Ferry}
	if src, err := r2.Source(ctx, ec, server); src == nil || err != nil {
		t.Fatalf("policy ferry with aws installed: %v, %v", src, err)
	}
	fakeCommand(t)
	_, err = (&Resolver{}).Source(ctx, execConfig("kubectl-oidc_login", []string{"get-token"}), server)
	if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), "kubectl-oidc_login") {
		t.Fatalf("unknown plugin: %v", err)
	}
}

func decodeCredential(t *testing.T, tok string) string {
	t.Helper()
	u := strings.TrimPrefix(tok, awsauth.TokenPrefix)
	b, err := decodeRawURL(u)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegionFromServer(t *testing.T) {
	for in, want := range map[string]string{
		"https://ABCDEF0123456789.gr7.eu-west-1.eks.amazonaws.com": "eu-west-1",
		"https://ABCDEF.yl4.us-gov-west-1.eks.amazonaws.com/":      "us-gov-west-1",
		"https://ABCDEF.sk1.cn-north-1.eks.amazonaws.com.cn:443":   "cn-north-1",
		"https://1.2.3.4": "",
		"https://x.eu-west-1.eks.amazonaws.com.evil.example": "",
		"https://35.1.2.3/": "",
	} {
		if got := RegionFromServer(in); got != want {
			t.Errorf("RegionFromServer(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestAzureSettings(t *testing.T) {
	fakeCommand(t) // no az
	oidc := &ciauth.CircleCI{Token2: "x"}
	ferry := azureauth.Settings{TenantID: "ferry-tenant", ClientID: "ferry-app", OIDC: oidc}
	cases := []struct {
		name    string
		p       Plugin
		base    azureauth.Settings
		check   func(azureauth.Settings) bool
		wantErr string
	}{
		{"devicecode uses ferry's credential", Plugin{Login: "devicecode", ClientID: "80faf920", TenantID: "t1", Environment: "AzureChinaCloud"}, ferry,
			func(s azureauth.Settings) bool {
				return s.Mode == azureauth.Auto && s.ClientID == "ferry-app" && s.TenantID == "ferry-tenant" && s.Cloud == "AzureChinaCloud"
			}, ""},
		{"devicecode without one", Plugin{Command: "kubelogin", Login: "devicecode"}, azureauth.Settings{}, nil, "signs in interactively"},
		{"spn keeps its own secret", Plugin{Login: "spn", ClientID: "spn-app", ClientSecret: "s"}, ferry,
			func(s azureauth.Settings) bool {
				return s.Mode == azureauth.ServicePrincipal && s.ClientID == "spn-app" && s.ClientSecret == "s" && s.TenantID == "ferry-tenant"
			}, ""},
		{"workload identity borrows the CI token", Plugin{Login: "workloadidentity", ClientID: "wi-app", TenantID: "t2"}, ferry,
			func(s azureauth.Settings) bool {
				return s.Mode == azureauth.WorkloadIdentity && s.ClientID == "wi-app" && s.OIDC == oidc && s.FederatedTokenFile == ""
			}, ""},
		{"msi", Plugin{Login: "msi", ClientID: "mi-client"}, ferry,
			func(s azureauth.Settings) bool {
				return s.Mode == azureauth.ManagedIdentity && s.ClientID == "mi-client" && s.OIDC == nil
			}, ""},
		{"azurecli without az falls back", Plugin{Login: "azurecli"}, ferry, func(s azureauth.Settings) bool { return s.Mode == azureauth.Auto && s.ClientID == "ferry-app" }, ""},
		{"azurecli without az or credential", Plugin{Login: "azurecli"}, azureauth.Settings{}, nil, "needs the Azure CLI"},
		{"unknown method", Plugin{Login: "magic"}, ferry, nil, "not a login method"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := AzureSettings(tc.p, tc.base, nil)
			if tc.wantErr != "" {
				if err == nil || !promote.IsInput(err) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(s) {
				t.Fatalf("settings %+v, %v", s, err)
			}
		})
	}
}

func decodeRawURL(s string) ([]byte, error) {
	return base64RawURL.DecodeString(s)
}

var base64RawURL = base64.RawURLEncoding
