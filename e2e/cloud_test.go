package e2e

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudlab"
	"github.com/ferry-dev/ferry/internal/testenv/gcpemu"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
	"github.com/ferry-dev/ferry/internal/testenv/regemu"
)

// The cloud suite: ferry reaches EKS-, GKE- and AKS-style clusters and the
// clouds' registries with nothing installed but itself. The clusters are
// the suite's own staging and production control planes, which accept,
// besides the static tokens of the other tests, the tokens the lab's
// emulators stand behind (a TokenReview webhook each, RBAC on): a test
// grants ferry's Role (kubeauth.FerryRules) to the identity it uses, in
// its own namespaces only. ferry reaches the emulators through
// HTTPS_PROXY and a CA bundle (SSL_CERT_FILE, or the image's bundle in the
// action's sandbox), as it would reach a corporate proxy.
//
// Every credential the emulators hand out lives 20 s (AWS session
// credentials, Google and Entra ID access tokens), so any run longer than
// that must renew them.

// tokenLife is the life of every credential the lab issues.
const tokenLife = 20 * time.Second

// Cluster names as the clouds know them (an EKS token names its cluster).
const (
	eksRegion      = "eu-west-1"
	eksAccount     = awsemu.DefaultAccount
	stagingEKSName = "staging"
	prodEKSName    = "prod"
)

// Kubernetes user names the webhooks map the test identities to.
const (
	eksDeployerUser = "eks-deployer"
	eksRoleUser     = "eks-ferry"
	eksExpiryUser   = "eks-expiry"
)

var (
	lab   *cloudlab.Lab
	cloud *cloudWorld
)

// cloudWorld is the identities and registries the cloud tests share; each
// test still grants cluster access in its own namespaces.
type cloudWorld struct {
	stagingHook, prodHook *kubeauth.Webhook

	// deployer is an IAM user's static keys (EKS user eks-deployer).
	deployer    awsemu.AccessKey
	deployerARN string
	// roleARN is role "ferry": trusted for acme/shop's GitHub jobs, for the
	// CircleCI project's jobs, and assumable by deployer (EKS user
	// eks-ferry).
	roleARN string
	// expiryRole is role "ferry-expiry", assumable by deployer (EKS user
	// eks-expiry): the token expiry test counts its sessions.
	expiryRole string
	// otherRoleARN trusts another repository's jobs only.
	otherRoleARN string

	// gcpKey is a service account whose key file is given to ferry
	// (GKE user: its e-mail); gcpExpiry the same for the expiry test.
	gcpKey, gcpExpiry *gcpemu.ServiceAccount
	// gcpProvider federates acme/shop's GitHub jobs; gcpImpersonated is
	// the service account they may impersonate.
	gcpProvider     *gcpemu.Provider
	gcpImpersonated *gcpemu.ServiceAccount

	// azSPN signs in with a secret; azExpiry the same for the expiry
	// test; azWI with acme/shop's GitHub tokens (federated credential).
	azSPN, azExpiry, azWI *azureemu.App
	azSecret              string

	// ecr and gar serve the cloud tests' source images.
	ecr, gar *regemu.Registry
}

// startCloud starts the lab and everything the cloud tests share, and
// returns the cluster options that make staging and production trust it.
func startCloud() (stagingOpts, prodOpts testenv.ClusterOptions, err error) {
	lab, err = cloudlab.Start(cloudlab.Options{
		AWS:    awsemu.Options{CredentialLifetime: tokenLife},
		Google: gcpemu.Options{TokenLifetime: tokenLife},
		Azure:  azureemu.Options{TokenLifetime: tokenLife},
	})
	if err != nil {
		return stagingOpts, prodOpts, err
	}
	w := &cloudWorld{azSecret: "az-" + rand.Text()}
	w.deployer = lab.AWS.AddUser("deployer")
	w.deployerARN = "arn:aws:iam::" + eksAccount + ":user/deployer"
	w.roleARN = lab.AWS.AddRole(awsemu.Role{Name: "ferry", Principals: []string{w.deployerARN}, WebIdentity: []awsemu.WebIdentityTrust{
		{Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:*"},
		{Issuer: lab.CircleCI.URL(), Audience: lab.CircleCI.OrgID, Subject: "org/" + lab.CircleCI.OrgID + "/project/*"},
	}})
	w.expiryRole = lab.AWS.AddRole(awsemu.Role{Name: "ferry-expiry", Principals: []string{w.deployerARN}})
	w.otherRoleARN = lab.AWS.AddRole(awsemu.Role{Name: "ferry-other", WebIdentity: []awsemu.WebIdentityTrust{
		{Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/other:*"},
	}})
	if err := w.startGoogle(); err != nil {
		return stagingOpts, prodOpts, err
	}
	w.azSPN = lab.Azure.AddApp(azureemu.App{Tenant: lab.AzureTenant, ClientID: azureemu.NewGUID(), Secrets: []string{w.azSecret}})
	w.azExpiry = lab.Azure.AddApp(azureemu.App{Tenant: lab.AzureTenant, ClientID: azureemu.NewGUID(), Secrets: []string{w.azSecret}})
	w.azWI = lab.Azure.AddApp(azureemu.App{Tenant: lab.AzureTenant, ClientID: azureemu.NewGUID(),
		Federated: []azureemu.FederatedCredential{{Issuer: oidcemu.GitHubIssuer, Subject: "repo:acme/shop:ref:refs/heads/main"}}})

	w.ecr = regemu.ECR(lab.AWS, eksAccount+".dkr.ecr."+eksRegion+".amazonaws.com", nil)
	w.ecr.Install(lab.Net)
	w.gar = regemu.Google(lab.Google, "europe-west1-docker.pkg.dev", nil)
	w.gar.Install(lab.Net)

	mappings := map[string]kubeauth.Mapping{
		w.deployerARN: {Username: eksDeployerUser},
		w.roleARN:     {Username: eksRoleUser},
		w.expiryRole:  {Username: eksExpiryUser},
	}
	if w.stagingHook, err = lab.Webhook(cloudlab.WebhookOptions{ClusterID: stagingEKSName, EKSMappings: mappings}); err != nil {
		return stagingOpts, prodOpts, err
	}
	if w.prodHook, err = lab.Webhook(cloudlab.WebhookOptions{ClusterID: prodEKSName, EKSMappings: mappings}); err != nil {
		return stagingOpts, prodOpts, err
	}
	cloud = w
	return testenv.ClusterOptions{TokenWebhook: w.stagingHook.Config()}, testenv.ClusterOptions{TokenWebhook: w.prodHook.Config()}, nil
}

func (w *cloudWorld) startGoogle() error {
	var err error
	if w.gcpKey, err = lab.Google.AddServiceAccount("shop-prod", "ferry"); err != nil {
		return err
	}
	if w.gcpExpiry, err = lab.Google.AddServiceAccount("shop-prod", "ferry-expiry"); err != nil {
		return err
	}
	if w.gcpImpersonated, err = lab.Google.AddServiceAccount("shop-prod", "deployer"); err != nil {
		return err
	}
	w.gcpProvider, err = lab.Google.AddProvider(gcpemu.Provider{ProjectNumber: "123456789012", Pool: "github", ID: "github",
		Issuer: oidcemu.GitHubIssuer, AttributeMapping: map[string]string{"attribute.repository": "assertion.repository"}})
	if err != nil {
		return err
	}
	w.gcpImpersonated.AllowImpersonation(w.gcpProvider.PrincipalSet("repository", "acme/shop"))
	return nil
}

// grant gives user ferry's Role in namespace ns of c, and nothing else.
func grant(t *testing.T, c *testenv.Cluster, ns, user string) {
	t.Helper()
	if _, err := kubeauth.Grant(context.Background(), c, ns, kubeauth.User(user), kubeauth.FerryRules()); err != nil {
		t.Fatal(err)
	}
}

// noPlugins is a PATH with nothing on it: no aws, aws-iam-authenticator,
// gke-gcloud-auth-plugin or kubelogin (this machine has some of them
// installed).
func noPlugins(t *testing.T) string {
	t.Helper()
	return t.TempDir()
}

// cloudEnv is the environment of a ferry run that reaches the lab: the
// proxy and its CA, a PATH without plugins, JSON output.
func cloudEnv(t *testing.T) env {
	return env{
		"HTTPS_PROXY":   lab.Net.ProxyURL(),
		"SSL_CERT_FILE": lab.Net.CAFile(),
		"PATH":          noPlugins(t),
		"FERRY_OUTPUT":  "json",
		"FERRY_TIMEOUT": "90s",
	}
}

// writeFile writes data into the test's folder and returns the path.
func writeFile(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// eksClusters are staging and production as `aws eks update-kubeconfig`
// names them; role is --role-arn ("" for none).
func eksClusters(authenticator bool, role string) []kubeauth.EKSCluster {
	return []kubeauth.EKSCluster{
		{Cluster: staging, Region: eksRegion, Name: stagingEKSName, RoleARN: role, Authenticator: authenticator},
		{Cluster: production, Region: eksRegion, Name: prodEKSName, RoleARN: role, Authenticator: authenticator},
	}
}

func gkeClusters() []kubeauth.GKECluster {
	return []kubeauth.GKECluster{
		{Cluster: staging, Project: "shop-staging", Location: "europe-west1", Name: "staging"},
		{Cluster: production, Project: "shop-prod", Location: "europe-west1", Name: "prod"},
	}
}

// aksClusters are staging and production after `az aks get-credentials`
// and `kubelogin convert-kubeconfig -l login [--client-id ID]`.
func aksClusters(login, clientID string) []kubeauth.AKSCluster {
	return []kubeauth.AKSCluster{
		{Cluster: staging, Name: "shop-staging", ResourceGroup: "shop", TenantID: lab.AzureTenant, Login: login, ConvertClientID: clientID},
		{Cluster: production, Name: "shop-prod", ResourceGroup: "shop", TenantID: lab.AzureTenant, Login: login, ConvertClientID: clientID},
	}
}

// minted is every credential the lab's emulators and webhooks have handed
// out or reviewed so far: none may appear in anything ferry writes.
func minted() []string {
	out := slices.Concat(lab.AWS.Minted(), lab.Google.Minted(), lab.Azure.Minted(), lab.GitHub.Minted(),
		cloud.stagingHook.Tokens(), cloud.prodHook.Tokens(), cloud.ecr.Minted(), cloud.gar.Minted())
	return slices.DeleteFunc(out, func(s string) bool { return len(s) < 16 })
}

// assertNoMinted checks that none of the lab's credentials appears in s.
func assertNoMinted(t *testing.T, what, s string) {
	t.Helper()
	for _, m := range minted() {
		if strings.Contains(s, m) {
			t.Errorf("%s shows a credential the lab minted (%d characters, %q...)", what, len(m), m[:8])
		}
	}
}

// assertMasked checks that each of values has an ::add-mask:: line in an
// Actions log and appears on no other line, and that no credential the
// lab minted appears anywhere but in a mask.
func assertMasked(t *testing.T, log string, what string, values []string) {
	t.Helper()
	if len(values) == 0 {
		t.Errorf("no %s to look for: the run did not mint what the test expects", what)
	}
	masks := map[string]bool{}
	var other strings.Builder
	for _, l := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			masks[v] = true
			continue
		}
		other.WriteString(l + "\n")
	}
	for _, v := range values {
		if !masks[v] {
			t.Errorf("a %s (%d characters) was not masked with ::add-mask::", what, len(v))
		}
	}
	assertNoMinted(t, "the log (masks aside)", other.String())
}

// masksWithPrefix returns the values an Actions log masks that start
// with prefix.
func masksWithPrefix(log, prefix string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok && strings.HasPrefix(v, prefix) {
			out = append(out, v)
		}
	}
	return out
}

// assertNoUnauthorized checks that no request to c in namespace ns was
// refused with 401 (an expired or unknown token).
func assertNoUnauthorized(t *testing.T, c *testenv.Cluster, ns string) {
	t.Helper()
	evs, err := c.Unauthorized(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Namespace == ns || strings.Contains(e.RequestURI, "/namespaces/"+ns+"/") {
			t.Errorf("%s answered 401 to %s", c.Name, e)
		}
	}
}

// mutationsBy returns what user changed in namespace ns of c.
func mutationsBy(t *testing.T, c *testenv.Cluster, ns, user string) []testenv.AuditEvent {
	t.Helper()
	var out []testenv.AuditEvent
	for _, e := range mutations(t, c, ns) {
		if e.User == user {
			out = append(out, e)
		}
	}
	return out
}

// runID is a GitHub run id of the test's own, so that the AWS session
// (ferry-gh-RUN-1) and what it minted can be told apart.
func runID() string { return fmt.Sprint(time.Now().UnixNano() % 1_000_000_000) }

// oidcJob is a job of acme/shop on main, which the lab's roles, providers
// and apps trust.
func oidcJob() oidcemu.JobSpec {
	return oidcemu.JobSpec{Repository: "acme/shop", Workflow: "promote"}
}

type awsCall = awsemu.Call

func filepathDir(p string) string { return filepath.Dir(p) }
