package kubeauth

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"golang.org/x/oauth2/google"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/gcpemu"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

var nw *cloudnet.Net

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
	os.Setenv("CLOUDSDK_CONFIG", "/nonexistent/gcloud")
	os.Setenv("GCE_METADATA_HOST", "metadata.invalid")
	return m.Run()
}

// presignEKS makes a token as `aws eks get-token` does: the SDK's STS
// presigner with x-k8s-aws-id signed and X-Amz-Expires=60.
func presignEKS(t *testing.T, key awsemu.AccessKey, cluster string) string {
	t.Helper()
	cfg := aws.Config{Region: "eu-west-1", Credentials: credentials.NewStaticCredentialsProvider(key.ID, key.Secret, key.SessionToken)}
	req, err := sts.NewPresignClient(sts.NewFromConfig(cfg)).PresignGetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{},
		func(o *sts.PresignOptions) {
			o.ClientOptions = append(o.ClientOptions, func(o *sts.Options) {
				o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("x-k8s-aws-id", cluster),
					smithyhttp.SetHeaderValue("X-Amz-Expires", "60"))
			})
		})
	if err != nil {
		t.Fatal(err)
	}
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(req.URL))
}

// presignAt signs an EKS token URL at a chosen time.
func presignAt(t *testing.T, key awsemu.AccessKey, cluster string, at time.Time) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "https://sts.eu-west-1.amazonaws.com/?Action=GetCallerIdentity&Version=2011-06-15&X-Amz-Expires=60", nil)
	req.Header.Set("x-k8s-aws-id", cluster)
	u, _, err := v4.NewSigner().PresignHTTP(t.Context(), aws.Credentials{AccessKeyID: key.ID, SecretAccessKey: key.Secret},
		req, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "sts", "eu-west-1", at)
	if err != nil {
		t.Fatal(err)
	}
	return "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte(u))
}

// assumeWithGitHub exchanges a GitHub Actions token for the role's
// session credentials through the STS API, as ferry's federation does.
func assumeWithGitHub(t *testing.T, gh *oidcemu.GitHub, role string) awsemu.AccessKey {
	t.Helper()
	tok, err := gh.NewJob(oidcemu.JobSpec{Repository: "acme/shop"}).Mint("sts.amazonaws.com")
	if err != nil {
		t.Fatal(err)
	}
	client := sts.New(sts.Options{Region: "eu-west-1", Credentials: aws.AnonymousCredentials{}})
	out, err := client.AssumeRoleWithWebIdentity(t.Context(), &sts.AssumeRoleWithWebIdentityInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("run-7"), WebIdentityToken: aws.String(tok)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Credentials
	return awsemu.AccessKey{ID: aws.ToString(c.AccessKeyId), Secret: aws.ToString(c.SecretAccessKey), SessionToken: aws.ToString(c.SessionToken)}
}

func clientFor(t *testing.T, c *testenv.Cluster, token string) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(&rest.Config{Host: c.Server, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAPEM()}})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

type outcome int

const (
	ok outcome = iota
	unauthorized
	forbidden
)

func (o outcome) String() string { return [...]string{"200", "401", "403"}[o] }

func listDeployments(ctx context.Context, cs kubernetes.Interface, ns string) outcome {
	_, err := cs.AppsV1().Deployments(ns).List(ctx, metav1.ListOptions{})
	switch {
	case err == nil:
		return ok
	case apierrors.IsUnauthorized(err):
		return unauthorized
	case apierrors.IsForbidden(err):
		return forbidden
	}
	panic(err)
}

// TestWebhookOnRealAPIServer starts a control plane whose kube-apiserver
// asks the webhook about bearer tokens, with RBAC on, and shows: a forged
// or expired token or one minted for another cluster is a 401; a valid
// token of a user without a Role is a 403; with FerryRules it is a 200,
// and only for what FerryRules allow.
func TestWebhookOnRealAPIServer(t *testing.T) {
	amazon := awsemu.New(awsemu.Options{Client: nw.Client()})
	amazon.Install(nw)
	gcp := gcpemu.New(gcpemu.Options{Client: nw.Client()})
	gcp.Install(nw)
	deployer := amazon.AddUser("deployer")
	stranger := amazon.AddUser("stranger")
	sa, err := gcp.AddServiceAccount("shop-prod", "ferry")
	if err != nil {
		t.Fatal(err)
	}
	gh, err := oidcemu.NewGitHub()
	if err != nil {
		t.Fatal(err)
	}
	gh.Install(nw)
	roleARN := amazon.AddRole(awsemu.Role{Name: "ferry", WebIdentity: []awsemu.WebIdentityTrust{{Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:*"}}})
	eks := &EKS{ClusterID: "prod", Client: nw.Client(), MaxAge: 5 * time.Minute, Mappings: map[string]Mapping{
		"arn:aws:iam::111122223333:user/deployer": {Username: "eks:deployer", Groups: []string{"deployers"}},
		roleARN: {Username: "eks-role:{{SessionName}}"},
	}}
	gke := &GKE{Lookup: func(_ context.Context, tok string) (string, time.Time, error) {
		id, err := gcp.Lookup(tok)
		return id.Name, id.Expires, err
	}}
	az, err := azureemu.New(azureemu.Options{Client: nw.Client()})
	if err != nil {
		t.Fatal(err)
	}
	az.Install(nw)
	tenant := azureemu.NewGUID()
	spn := az.AddApp(azureemu.App{Tenant: tenant, ClientID: azureemu.NewGUID(), Secrets: []string{"spn-secret"}})
	aks := &AKS{Issuers: azureemu.Issuers(tenant),
		Keys: func(context.Context) (map[string]*rsa.PublicKey, error) { return az.SigningKeys(), nil }}
	wh, err := StartWebhook(eks, gke, aks)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close() })

	begin := time.Now()
	c, err := testenv.StartClusterWith(t.Context(), "authn", testenv.ClusterOptions{TokenWebhook: wh.Config()})
	if err != nil {
		t.Fatal(err)
	}
	c.StopOnCleanup(t)
	t.Logf("cluster with token webhook ready in %s", time.Since(begin).Round(time.Millisecond))
	ctx := t.Context()
	if _, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "shop"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}

	good := presignEKS(t, deployer, "prod")
	creds, err := google.CredentialsFromJSONWithType(ctx, sa.KeyFile(), google.ServiceAccount, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	gtok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	cred, err := azidentity.NewClientSecretCredential(tenant, spn.ClientID, "spn-secret", nil)
	if err != nil {
		t.Fatal(err)
	}
	atok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{AKSServerAppID + "/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	armTok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	roleKey := assumeWithGitHub(t, gh, roleARN)
	roleTok := presignEKS(t, roleKey, "prod")
	tokens := []string{good, gtok.AccessToken, atok.Token, roleTok}

	checks := []struct {
		name  string
		token string
		want  outcome
	}{
		{"forged EKS token", "k8s-aws-v1." + base64.RawURLEncoding.EncodeToString([]byte("https://sts.amazonaws.com/?Action=GetCallerIdentity")), unauthorized},
		{"EKS token of another cluster", presignEKS(t, deployer, "staging"), unauthorized},
		{"EKS token past its age", presignAt(t, deployer, "prod", time.Now().Add(-6*time.Minute)), unauthorized},
		{"EKS token of an unmapped principal", presignEKS(t, stranger, "prod"), unauthorized},
		{"unknown Google token", "ya29.c.forged", unauthorized},
		{"garbage", "not-a-token", unauthorized},
		{"EKS user without Role", good, forbidden},
		{"Google service account without Role", gtok.AccessToken, forbidden},
		{"Entra ID token for ARM, not AKS", armTok.Token, unauthorized},
		{"Entra ID service principal without Role", atok.Token, forbidden},
	}
	for _, ch := range checks {
		if got := listDeployments(ctx, clientFor(t, c, ch.token), "shop"); got != ch.want {
			t.Errorf("%s: %s, want %s", ch.name, got, ch.want)
		}
	}

	if _, err := Grant(ctx, c, "shop", User("eks:deployer"), FerryRules()); err != nil {
		t.Fatal(err)
	}
	if _, err := Grant(ctx, c, "shop", User(sa.Email), FerryRules()); err != nil {
		t.Fatal(err)
	}
	if _, err := Grant(ctx, c, "shop", User(spn.ObjectID), FerryRules()); err != nil {
		t.Fatal(err)
	}
	if _, err := Grant(ctx, c, "shop", User("eks-role:run-7"), FerryRules()); err != nil {
		t.Fatal(err)
	}
	for _, tok := range tokens {
		assertFerryRulesOnly(t, c, tok)
	}
	stok := assertExpiredRefused(t, c, gcp, sa)

	// Static tokens still work next to the webhook.
	if _, err := c.Admin.CoreV1().Namespaces().Get(ctx, "shop", metav1.GetOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, r := range wh.Reviews() {
		for _, tok := range append(tokens, stok) {
			if strings.Contains(r.Error, tok) || strings.Contains(r.Error, strings.TrimPrefix(tok, "k8s-aws-v1.")) {
				t.Fatalf("a review records a token: %+v", r)
			}
		}
	}
	if n := len(amazon.CallsOf("GetCallerIdentity")); n == 0 {
		t.Fatal("the webhook never called STS")
	}
}

// assertFerryRulesOnly checks that a granted token may do what
// FerryRules allow in namespace shop, and nothing else.
func assertFerryRulesOnly(t *testing.T, c *testenv.Cluster, tok string) {
	t.Helper()
	ctx := t.Context()
	// RBAC changes reach the authorizer's cache within a moment.
	var got outcome
	for range 50 {
		if got = listDeployments(ctx, clientFor(t, c, tok), "shop"); got == ok {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got != ok {
		t.Fatalf("granted user: %s", got)
	}
	cs := clientFor(t, c, tok)
	if _, err := cs.CoreV1().ConfigMaps("shop").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("configmaps outside FerryRules: %v", err)
	}
	if _, err := cs.AppsV1().Deployments("default").List(ctx, metav1.ListOptions{}); !apierrors.IsForbidden(err) {
		t.Errorf("another namespace: %v", err)
	}
	if _, err := cs.CoreV1().Secrets("shop").Get(ctx, "nope", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("secrets get (allowed, absent): %v", err)
	}
}

// assertExpiredRefused checks that a Google token that expires is refused
// once kube-apiserver asks again, and returns it.
func assertExpiredRefused(t *testing.T, c *testenv.Cluster, gcp *gcpemu.Emulator, sa *gcpemu.ServiceAccount) string {
	t.Helper()
	ctx := t.Context()
	gcp.SetTokenLifetime(time.Second)
	short, err := google.CredentialsFromJSONWithType(ctx, sa.KeyFile(), google.ServiceAccount, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	stok, err := short.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	if got := listDeployments(ctx, clientFor(t, c, stok.AccessToken), "shop"); got != ok {
		t.Fatalf("fresh short token: %s", got)
	}
	// kube-apiserver remembers a successful authentication for 10 s on
	// top of the webhook's cache (its token success cache, not
	// configurable), as on any cluster; past that the webhook is asked
	// again and refuses the expired token.
	time.Sleep(11 * time.Second)
	if got := listDeployments(ctx, clientFor(t, c, stok.AccessToken), "shop"); got != unauthorized {
		t.Fatalf("expired token: %s, want 401", got)
	}
	return stok.AccessToken
}
