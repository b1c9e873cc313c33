package e2e

import (
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// kubeconfigRun is one staging-to-production promotion through a cloud's
// kubeconfig, as its CLI wrote it.
type kubeconfigRun struct {
	kubeconfig     []byte
	stagingContext string
	prodContext    string
	// user is the Kubernetes user the cluster maps the identity to.
	user string
	// env is the credentials' part of the environment.
	env env
}

// promoteThrough promotes staging's web to production's web through
// k.kubeconfig with nothing installed, and checks that the clusters saw
// k.user (with only ferry's Role) make the change, without a 401 and
// without a credential in ferry's output.
func promoteThrough(t *testing.T, k kubeconfigRun) {
	t.Helper()
	sns, digest := stagingApp(t, "registry.test/shop", "v3")
	grant(t, staging, sns, k.user)
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v2")}})
	grant(t, production, pns, k.user)

	e := cloudEnv(t).with(
		"KUBECONFIG", writeFile(t, "kubeconfig", k.kubeconfig),
		"FERRY_SOURCE", "k8s:"+sns+"/web?context="+k.stagingContext,
		"FERRY_TARGETS", target(pns, "web", k.prodContext),
	)
	for kk, v := range k.env {
		e[kk] = v
	}
	r := ferry(t, e, "promote")
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	want := "registry.test/shop@" + digest
	if rep := r.report(t); rep.Outcome != promote.OutcomePromoted || rep.Image != want {
		t.Errorf("report: outcome %s image %s, want promoted %s", rep.Outcome, rep.Image, want)
	}
	if got := imageOf(get(t, production, pns, "web"), "app"); got != want {
		t.Errorf("production runs %s, want %s", got, want)
	}
	if m := mutationsBy(t, production, pns, k.user); len(m) == 0 {
		t.Errorf("no change in production was made as %s: %v", k.user, mutations(t, production, pns))
	}
	assertNoUnauthorized(t, staging, sns)
	assertNoUnauthorized(t, production, pns)
	assertNoMinted(t, "ferry's output", r.stdout+r.stderr)
	assertReviewed(t, k.user)
}

// assertReviewed checks that both clusters' webhooks accepted a token of
// user's: ferry's own token, not a static one.
func assertReviewed(t *testing.T, user string) {
	t.Helper()
	for _, h := range []*kubeauth.Webhook{cloud.stagingHook, cloud.prodHook} {
		if !slices.ContainsFunc(h.Reviews(), func(r kubeauth.Review) bool { return r.Authenticated && r.Username == user }) {
			t.Errorf("no token of %s was accepted by a webhook", user)
		}
	}
}

// TestCloudEKSKubeconfigWithoutPlugin: the kubeconfig `aws eks
// update-kubeconfig` writes (aws eks get-token) and the EKS guide's
// aws-iam-authenticator one, with an IAM user's keys, and the first with
// --role-arn too (the role is assumed with the keys).
func TestCloudEKSKubeconfigWithoutPlugin(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		authenticator bool
		role, user    string
	}{
		{"aws eks get-token", false, "", eksDeployerUser},
		{"aws-iam-authenticator", true, "", eksDeployerUser},
		{"aws eks get-token --role", false, cloud.roleARN, eksRoleUser},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cl := eksClusters(c.authenticator, c.role)
			keys := env{"AWS_REGION": eksRegion}
			for _, kv := range cloud.deployer.Env() {
				k, v, _ := strings.Cut(kv, "=")
				keys[k] = v
			}
			promoteThrough(t, kubeconfigRun{
				kubeconfig: kubeauth.EKSKubeconfig(cl...), stagingContext: cl[0].ARN(), prodContext: cl[1].ARN(),
				user: c.user, env: keys,
			})
		})
	}
}

// TestCloudGKEKubeconfigWithoutPlugin: the kubeconfig `gcloud container
// clusters get-credentials` writes (gke-gcloud-auth-plugin, installed on
// this machine but not on ferry's PATH), with a service account key in
// GOOGLE_APPLICATION_CREDENTIALS.
func TestCloudGKEKubeconfigWithoutPlugin(t *testing.T) {
	t.Parallel()
	cl := gkeClusters()
	key := writeFile(t, "key.json", cloud.gcpKey.KeyFile())
	promoteThrough(t, kubeconfigRun{
		kubeconfig: kubeauth.GKEKubeconfig(cl...), stagingContext: cl[0].ContextName(), prodContext: cl[1].ContextName(),
		user: cloud.gcpKey.Email, env: env{"GOOGLE_APPLICATION_CREDENTIALS": key},
	})
}

// TestCloudAKSKubeconfigWithoutPlugin: `az aks get-credentials` then
// `kubelogin convert-kubeconfig -l spn --client-id ID` with the secret in
// kubelogin's AAD_SERVICE_PRINCIPAL_CLIENT_SECRET, and `-l workloadidentity` with the variables AKS's
// workload identity webhook sets (AZURE_CLIENT_ID, AZURE_TENANT_ID,
// AZURE_FEDERATED_TOKEN_FILE; the token file here holds a GitHub OIDC
// token the app trusts).
func TestCloudAKSKubeconfigWithoutPlugin(t *testing.T) {
	t.Parallel()
	t.Run("spn", func(t *testing.T) {
		t.Parallel()
		cl := aksClusters("spn", cloud.azSPN.ClientID)
		promoteThrough(t, kubeconfigRun{
			kubeconfig: kubeauth.AKSKubeconfig(cl...), stagingContext: cl[0].Name, prodContext: cl[1].Name,
			// kubelogin's own variable for the spn login's secret.
			user: cloud.azSPN.ObjectID, env: env{"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET": cloud.azSecret},
		})
	})
	t.Run("workloadidentity", func(t *testing.T) {
		t.Parallel()
		tok, err := lab.GitHub.NewJob(oidcJob()).Mint("api://AzureADTokenExchange")
		if err != nil {
			t.Fatal(err)
		}
		cl := aksClusters("workloadidentity", "")
		promoteThrough(t, kubeconfigRun{
			kubeconfig: kubeauth.AKSKubeconfig(cl...), stagingContext: cl[0].Name, prodContext: cl[1].Name,
			user: cloud.azWI.ObjectID, env: env{
				"AZURE_CLIENT_ID": cloud.azWI.ClientID, "AZURE_TENANT_ID": lab.AzureTenant,
				"AZURE_FEDERATED_TOKEN_FILE": writeFile(t, "azure-identity-token", []byte(tok)),
			},
		})
	})
}
