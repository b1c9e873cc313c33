package regemu

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/ecr"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"golang.org/x/oauth2/google"

	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/gcpemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

var (
	nw  *cloudnet.Net
	img v1.Image
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
	for k, v := range map[string]string{"AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent",
		"AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "eu-west-1"} {
		os.Setenv(k, v)
	}
	if img, err = images.Build(images.Spec{Seed: 42}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

func seed(t *testing.T, g *Registry, ref string) {
	t.Helper()
	if _, err := g.Seed(t.Context(), ref, img); err != nil {
		t.Fatal(err)
	}
	g.Reset()
}

// pull reads a manifest as ferry would: go-containerregistry, default
// transport (HTTPS_PROXY, SSL_CERT_FILE), the given authenticator.
func pull(t *testing.T, ref string, a authn.Authenticator) error {
	t.Helper()
	r, err := name.ParseReference(ref)
	if err != nil {
		t.Fatal(err)
	}
	_, err = remote.Image(r, remote.WithContext(t.Context()), remote.WithAuth(a))
	return err
}

func status(err error) int {
	var te *transport.Error
	if asErr(err, &te) {
		return te.StatusCode
	}
	return 0
}

func TestECR(t *testing.T) {
	awsEmu := awsemu.New(awsemu.Options{Client: nw.Client(), ECRTokenLifetime: 2 * time.Second})
	awsEmu.Install(nw)
	key := awsEmu.AddUser("puller")
	host := "111122223333.dkr.ecr.eu-west-1.amazonaws.com"
	reg := ECR(awsEmu, host, nil)
	reg.Install(nw)
	seed(t, reg, "shop/web:1")

	t.Setenv("AWS_ACCESS_KEY_ID", key.ID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", key.Secret)
	cfg, err := config.LoadDefaultConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out, err := ecr.NewFromConfig(cfg).GetAuthorizationToken(t.Context(), &ecr.GetAuthorizationTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := base64.StdEncoding.DecodeString(aws.ToString(out.AuthorizationData[0].AuthorizationToken))
	user, pass, _ := strings.Cut(string(raw), ":")

	ref := host + "/shop/web:1"
	if err := pull(t, ref, &authn.Basic{Username: user, Password: pass}); err != nil {
		t.Fatal(err)
	}
	if ids := reg.Identities(); len(ids) != 1 || ids[0] != "AWS:arn:aws:iam::111122223333:user/puller" {
		t.Fatalf("identities %v", ids)
	}
	if err := pull(t, ref, authn.Anonymous); status(err) != 401 {
		t.Fatalf("anonymous: %v", err)
	}
	if err := pull(t, ref, &authn.Basic{Username: "AWS", Password: "nope"}); status(err) != 401 {
		t.Fatalf("wrong password: %v", err)
	}
	time.Sleep(2100 * time.Millisecond)
	if err := pull(t, ref, &authn.Basic{Username: user, Password: pass}); status(err) != 403 || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired password: %v", err)
	}
}

func TestGoogleRegistries(t *testing.T) {
	gcp := gcpemu.New(gcpemu.Options{Client: nw.Client()})
	gcp.Install(nw)
	sa, err := gcp.AddServiceAccount("shop-prod", "ci")
	if err != nil {
		t.Fatal(err)
	}
	creds, err := google.CredentialsFromJSONWithType(t.Context(), sa.KeyFile(), google.ServiceAccount, "https://www.googleapis.com/auth/cloud-platform")
	if err != nil {
		t.Fatal(err)
	}
	tok, err := creds.TokenSource.Token()
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"europe-west1-docker.pkg.dev", "gcr.io"} {
		t.Run(host, func(t *testing.T) {
			reg := Google(gcp, host, func(id, repo, _ string) bool { return id != "" && !strings.Contains(repo, "secret") })
			reg.Install(nw)
			seed(t, reg, "shop-prod/images/web:1")
			seed(t, reg, "shop-prod/images/secret:1")
			if err := pull(t, host+"/shop-prod/images/web:1", &authn.Basic{Username: "oauth2accesstoken", Password: tok.AccessToken}); err != nil {
				t.Fatal(err)
			}
			if ids := reg.Identities(); len(ids) != 1 || ids[0] != "oauth2accesstoken:"+sa.Email {
				t.Fatalf("identities %v", ids)
			}
			if err := pull(t, host+"/shop-prod/images/secret:1", &authn.Basic{Username: "oauth2accesstoken", Password: tok.AccessToken}); status(err) != 403 {
				t.Fatalf("no rights: %v", err)
			}
			if err := pull(t, host+"/shop-prod/images/web:1", &authn.Basic{Username: "oauth2accesstoken", Password: "ya29.forged"}); status(err) != 401 {
				t.Fatalf("forged token: %v", err)
			}
			if err := pull(t, host+"/shop-prod/images/web:1", authn.Anonymous); status(err) != 401 {
				t.Fatalf("anonymous: %v", err)
			}
		})
	}
}

func TestGHCR(t *testing.T) {
	reg := GHCR(map[string]string{"ghs_jobtoken": "github-actions[bot]"},
		func(id, repo, _ string) bool { return id != "" && strings.HasPrefix(repo, "acme/") },
		func(repo string) bool { return repo == "acme/public" })
	reg.Install(nw)
	seed(t, reg, "acme/web:1")
	seed(t, reg, "other/web:1")
	seed(t, reg, "acme/public:1")
	if err := pull(t, "ghcr.io/acme/web:1", &authn.Basic{Username: "x-access-token", Password: "ghs_jobtoken"}); err != nil {
		t.Fatal(err)
	}
	if err := pull(t, "ghcr.io/acme/web:1", &authn.Basic{Username: "octocat", Password: "ghp_wrong"}); status(err) != 401 {
		t.Fatalf("wrong token: %v", err)
	}
	if err := pull(t, "ghcr.io/other/web:1", &authn.Basic{Username: "x", Password: "ghs_jobtoken"}); status(err) != 403 {
		t.Fatalf("no rights: %v", err)
	}
	if err := pull(t, "ghcr.io/acme/public:1", authn.Anonymous); err != nil {
		t.Fatalf("public: %v", err)
	}
	if err := pull(t, "ghcr.io/acme/web:1", authn.Anonymous); status(err) != 401 {
		t.Fatalf("anonymous private: %v", err)
	}
	if ids := reg.Identities(); ids[0] != "github-actions[bot]" {
		t.Fatalf("identities %v", ids)
	}
}

func TestDockerHub(t *testing.T) {
	reg := DockerHub(map[string]string{"acme": "dckr_pat_1"}, func(id, repo, _ string) bool { return id == "acme" && strings.HasPrefix(repo, "acme/") }, nil)
	reg.Install(nw)
	seed(t, reg, "acme/private:1")
	if err := pull(t, "docker.io/acme/private:1", &authn.Basic{Username: "acme", Password: "dckr_pat_1"}); err != nil {
		t.Fatal(err)
	}
	err := pull(t, "docker.io/acme/private:1", &authn.Basic{Username: "acme", Password: "wrong"})
	if status(err) != 401 || !strings.Contains(err.Error(), "incorrect username or password") {
		t.Fatalf("wrong password: %v", err)
	}
	if err := pull(t, "docker.io/acme/private:1", authn.Anonymous); status(err) != 401 {
		t.Fatalf("anonymous: %v", err)
	}
	if !nw.Reached("auth.docker.io") || !nw.Reached("index.docker.io") {
		t.Fatalf("hosts %v", nw.Hosts())
	}
}

func TestACR(t *testing.T) {
	az, err := azureemu.New(azureemu.Options{Client: nw.Client()})
	if err != nil {
		t.Fatal(err)
	}
	az.Install(nw)
	tenant := azureemu.NewGUID()
	app := az.AddApp(azureemu.App{Tenant: tenant, ClientID: azureemu.NewGUID(), Secrets: []string{"pw"}})
	reg := ACR(az, "shopprod", nil)
	reg.Install(nw)
	seed(t, reg, "shop/web:1")

	cred, err := azidentity.NewClientSecretCredential(tenant, app.ClientID, "pw", nil)
	if err != nil {
		t.Fatal(err)
	}
	arm, err := cred.GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.azure.com/.default"}})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := nw.Client().PostForm("https://shopprod.azurecr.io/oauth2/exchange", url.Values{"grant_type": {"access_token"},
		"service": {"shopprod.azurecr.io"}, "tenant": {tenant}, "access_token": {arm.Token}})
	if err != nil {
		t.Fatal(err)
	}
	var ex struct {
		RefreshToken string `json:"refresh_token"`
	}
	json.NewDecoder(resp.Body).Decode(&ex)
	resp.Body.Close()
	// As docker config holds it after `az acr login`: identity token, and
	// as a Basic password.
	for _, a := range []authn.Authenticator{
		authn.FromConfig(authn.AuthConfig{Username: azureemu.ACRUser, IdentityToken: ex.RefreshToken}),
		&authn.Basic{Username: azureemu.ACRUser, Password: ex.RefreshToken},
	} {
		if err := pull(t, "shopprod.azurecr.io/shop/web:1", a); err != nil {
			t.Fatal(err)
		}
	}
	if ids := reg.Identities(); len(ids) != 1 || ids[0] != app.ObjectID {
		t.Fatalf("identities %v", ids)
	}
	if err := pull(t, "shopprod.azurecr.io/shop/web:1", &authn.Basic{Username: azureemu.ACRUser, Password: "forged"}); status(err) != 401 {
		t.Fatalf("forged: %v", err)
	}
}

func TestBasicLoopback(t *testing.T) {
	reg, stop, err := StartBasic(map[string]string{"puller": "pull-secret-pw"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	seed(t, reg, "shop/web:1")
	nw.Reset()
	if err := pull(t, reg.Host+"/shop/web:1", &authn.Basic{Username: "puller", Password: "pull-secret-pw"}); err != nil {
		t.Fatal(err)
	}
	if err := pull(t, reg.Host+"/shop/web:1", &authn.Basic{Username: "puller", Password: "x"}); status(err) != 401 {
		t.Fatalf("wrong: %v", err)
	}
	if len(nw.Hosts()) != 0 {
		t.Fatalf("loopback went through the proxy: %v", nw.Hosts())
	}
	if ids := reg.Identities(); len(ids) != 1 || ids[0] != "puller" {
		t.Fatalf("identities %v", ids)
	}
}

// TestSeedIsReadable reads back every blob of a seeded image, over http
// with credentials: Seed's in-process requests must land where a client's
// do (a monolithic upload named its repository after the URL's host).
func TestSeedIsReadable(t *testing.T) {
	g, stop, err := StartBasic(map[string]string{"u": "p"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	im, err := images.Build(images.Spec{Layers: 2, LayerSize: 32 << 10, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.Seed(t.Context(), "shop/web:v1", im); err != nil {
		t.Fatal(err)
	}
	r, err := name.ParseReference(g.Host + "/shop/web:v1")
	if err != nil {
		t.Fatal(err)
	}
	got, err := remote.Image(r, remote.WithContext(t.Context()), remote.WithAuth(&authn.Basic{Username: "u", Password: "p"}))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := got.ConfigFile(); err != nil {
		t.Fatalf("reading the config: %v", err)
	}
	layers, err := got.Layers()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(io.Discard, rc); err != nil {
			t.Fatalf("reading a layer: %v", err)
		}
		rc.Close()
	}
}
