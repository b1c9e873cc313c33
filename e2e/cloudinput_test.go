package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
)

// badCloudCase is an action run whose cloud credentials cannot work.
type badCloudCase struct {
	name       string
	kubeconfig []byte
	context    string
	with       map[string]string
	extra      env
	// want are fragments of the error output: the setting and the fix.
	want []string
}

// TestCloudBadCredentialsChangeNothing: a role the job may not assume, an
// audience the cloud does not trust, credentials that are missing, and an
// exec plugin ferry does not know each end the action with exit 2 and an
// error naming the setting and the fix, before anything changed: no
// write reached the cluster, the Heroku app beside it, or its registry.
func TestCloudBadCredentialsChangeNothing(t *testing.T) {
	t.Parallel()
	eks := eksClusters(false, "")[1:]
	gke := gkeClusters()[1:]
	aks := aksClusters("spn", cloud.azSPN.ClientID)[1:]
	provider := cloud.gcpProvider.PoolResource() + "/providers/" + cloud.gcpProvider.ID
	cases := []badCloudCase{
		{name: "a role the repository may not assume", kubeconfig: kubeauth.EKSKubeconfig(eks...), context: eks[0].ARN(),
			with: map[string]string{"aws-role-arn": cloud.otherRoleARN, "aws-region": eksRegion},
			want: []string{"FERRY_AWS_ROLE_ARN", cloud.otherRoleARN}},
		{name: "an audience AWS does not trust", kubeconfig: kubeauth.EKSKubeconfig(eks...), context: eks[0].ARN(),
			with: map[string]string{"aws-role-arn": cloud.roleARN, "aws-region": eksRegion, "aws-audience": "api://not-trusted"},
			want: []string{"FERRY_AWS_AUDIENCE", "Incorrect token audience"}},
		{name: "an audience the Google provider does not accept", kubeconfig: kubeauth.GKEKubeconfig(gke...), context: gke[0].ContextName(),
			with: map[string]string{"gcp-workload-identity-provider": provider, "gcp-audience": "https://example.com/wrong"},
			want: []string{"FERRY_GCP_AUDIENCE", "does not match the expected audience"}},
		{name: "no AWS credentials", kubeconfig: kubeauth.EKSKubeconfig(eks...), context: eks[0].ARN(),
			with: map[string]string{"aws-region": eksRegion},
			want: []string{"FERRY_AWS_ROLE_ARN", "AWS_ACCESS_KEY_ID"}},
		{name: "no Google credentials", kubeconfig: kubeauth.GKEKubeconfig(gke...), context: gke[0].ContextName(),
			want: []string{"FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER", "FERRY_GOOGLE_APPLICATION_CREDENTIALS"}},
		{name: "no Azure secret", kubeconfig: kubeauth.AKSKubeconfig(aks...), context: aks[0].Name,
			with: map[string]string{"azure-tenant-id": lab.AzureTenant},
			want: []string{"FERRY_AZURE_CLIENT_SECRET"}},
		{name: "a wrong Azure secret", kubeconfig: kubeauth.AKSKubeconfig(aks...), context: aks[0].Name,
			with: map[string]string{"azure-client-id": cloud.azSPN.ClientID, "azure-tenant-id": lab.AzureTenant, "azure-client-secret": "not-the-secret"},
			want: []string{"FERRY_AZURE_CLIENT_SECRET"}},
		{name: "an exec plugin ferry does not know", kubeconfig: unknownPluginKubeconfig(t), context: "doks",
			want: []string{"doctl", "install the plugin"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			assertBadCloudChangesNothing(t, c)
		})
	}
}

func assertBadCloudChangesNothing(t *testing.T, c badCloudCase) {
	t.Helper()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	for _, u := range []string{eksRoleUser, eksDeployerUser, cloud.gcpKey.Email, cloud.azSPN.ObjectID, cloud.gcpProvider.Principal("repo:acme/shop:ref:refs/heads/main")} {
		grant(t, production, pns, u) // so that only the credentials can be wrong
	}
	app := herokuApp(t, "shop-bad-cloud")
	seedHeroku(t, app, nil, "web")
	before := mutationsOf(app)
	with := map[string]string{
		"source":          "registry.test/shop@" + fakeDigest(t.Name()),
		"targets":         target(pns, "web", c.context) + " heroku:" + app + "/web",
		"kubeconfig-data": b64(c.kubeconfig),
		"heroku-api-key":  herokuKey,
		"heroku-api-url":  emu.APIURL(),
		"heroku-registry": emu.RegistryHost(),
	}
	for k, v := range c.with {
		with[k] = v
	}
	extra := oidcAction(lab.GitHub.NewJob(oidcJob()), runID())
	for k, v := range c.extra {
		extra[k] = v
	}
	r := runAction(t, with, extra)
	if r.code != 2 || r.outputs["result"] != "bad-input" {
		t.Fatalf("want exit 2 and result=bad-input\n%s", r)
	}
	for _, w := range c.want {
		if !strings.Contains(r.outputs["error"], w) {
			t.Errorf("the error does not name %q:\n%s", w, r.outputs["error"])
		}
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Errorf("bad credentials wrote to production: %v", m)
	}
	if n := mutationsOf(app) - before; n != 0 {
		t.Errorf("bad credentials made %d changes to the Heroku app or its registry", n)
	}
	assertNoMinted(t, "the log (masks aside)", strings.Join(nonMaskLines(r.log), "\n"))
	assertNoMinted(t, "the outputs", dumpOutputs(r.outputs))
}

// nonMaskLines are the lines of an Actions log that are not ::add-mask::.
func nonMaskLines(log string) []string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			out = append(out, l)
		}
	}
	return out
}

// unknownPluginKubeconfig is production's cluster with a user whose exec
// plugin is DigitalOcean's doctl, which ferry does not stand in for.
func unknownPluginKubeconfig(t *testing.T) []byte {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["doks"] = &clientcmdapi.Cluster{Server: production.Server, CertificateAuthorityData: production.CAPEM()}
	cfg.AuthInfos["doks"] = &clientcmdapi.AuthInfo{Exec: &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1beta1",
		Command: "doctl", Args: []string{"kubernetes", "cluster", "kubeconfig", "exec-credential", "--version=v1beta1", "6ab3e8a0"}}}
	cfg.Contexts["doks"] = &clientcmdapi.Context{Cluster: "doks", AuthInfo: "doks"}
	cfg.CurrentContext = "doks"
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
