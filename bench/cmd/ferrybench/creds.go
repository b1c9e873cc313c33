package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/bench/internal/measure"
	"github.com/ferry-dev/ferry/bench/internal/results"
	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/awsemu"
	"github.com/ferry-dev/ferry/internal/testenv/azureemu"
	"github.com/ferry-dev/ferry/internal/testenv/cloudlab"
	"github.com/ferry-dev/ferry/internal/testenv/kubeauth"
)

// The creds scenario: how long ferry takes from its start to its first
// authenticated API call when it mints a managed cluster's token itself,
// against the same run with the cloud's exec plugin doing it (where the
// plugin can be installed here), and against the plugin's own command.
// The clouds are the lab's emulators (internal/testenv/cloudlab) behind
// its proxy; the cluster is a real kube-apiserver that asks the lab's
// TokenReview webhook about every token.

// credsNS and credsUser* are the scenario's namespace and identities.
const (
	credsNS      = "bench"
	credsCluster = "prod"
	credsRegion  = "eu-west-1"
)

// credsCase is one token source.
type credsCase struct {
	cloud      string // EKS, GKE, AKS
	kubeconfig []byte
	context    string
	env        []string // the credentials
	// plugin, when set, is the exec plugin's own command (argv) and
	// pluginPath the folder that holds it; "" when it is not installed.
	plugin     []string
	pluginPath string
	// pluginKubeconfig is the kubeconfig for the plugin run ("" = the
	// same).
	pluginKubeconfig []byte
	missing          string // why the plugin is not compared
}

// credsScenario measures `ferry status` on one Deployment, whose first
// API call needs the cluster token, with each in-process token source.
func (b *bench) credsScenario(ctx context.Context) error {
	lab, err := cloudlab.Start(cloudlab.Options{})
	if err != nil {
		return err
	}
	defer lab.Close()
	key := lab.AWS.AddUser("bench")
	sa, err := lab.Google.AddServiceAccount("shop-prod", "bench")
	if err != nil {
		return err
	}
	secret := randomKey()
	app := lab.Azure.AddApp(azureemu.App{Tenant: lab.AzureTenant, ClientID: azureemu.NewGUID(), Secrets: []string{secret}})
	userARN := "arn:aws:iam::" + awsemu.DefaultAccount + ":user/bench"
	wh, err := lab.Webhook(cloudlab.WebhookOptions{ClusterID: credsCluster, EKSMappings: map[string]kubeauth.Mapping{userARN: {Username: "eks-bench"}}})
	if err != nil {
		return err
	}
	c, err := testenv.StartClusterWith(ctx, "creds", testenv.ClusterOptions{TokenWebhook: wh.Config()})
	if err != nil {
		return err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			b.log.Printf("stopping the control plane: %v", err)
		}
	}()
	if err := b.credsCluster(ctx, c, "eks-bench", sa.Email, app.ObjectID); err != nil {
		return err
	}
	keyFile := filepath.Join(b.cfg.work, "sa.json")
	if err := os.WriteFile(keyFile, sa.KeyFile(), 0o600); err != nil {
		return err
	}
	cases := b.credsCases(c, lab, key, keyFile, app, secret)
	return b.credsMeasure(ctx, lab, cases)
}

// credsCluster creates the Deployment and grants each user ferry's Role.
func (b *bench) credsCluster(ctx context.Context, c *testenv.Cluster, users ...string) error {
	if _, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: credsNS}}, metav1.CreateOptions{}); err != nil {
		return err
	}
	if err := createDeployment(ctx, c, credsNS, "web", "registry.test/shop:v1"); err != nil {
		return err
	}
	for _, u := range users {
		if _, err := kubeauth.Grant(ctx, c, credsNS, kubeauth.User(u), kubeauth.FerryRules()); err != nil {
			return err
		}
	}
	return nil
}

func (b *bench) credsCases(c *testenv.Cluster, lab *cloudlab.Lab, key awsemu.AccessKey, keyFile string, app *azureemu.App, secret string) []credsCase {
	eks := kubeauth.EKSCluster{Cluster: c, Region: credsRegion, Name: credsCluster}
	gke := kubeauth.GKECluster{Cluster: c, Project: "shop-prod", Location: "europe-west1", Name: credsCluster}
	aks := kubeauth.AKSCluster{Cluster: c, Name: "shop-prod", ResourceGroup: "shop", TenantID: lab.AzureTenant, Login: "spn", ConvertClientID: app.ClientID}
	cases := []credsCase{
		{cloud: "EKS", kubeconfig: kubeauth.EKSKubeconfig(eks), context: eks.ARN(),
			// The AWS CLI reads its CA bundle from AWS_CA_BUNDLE, not
			// SSL_CERT_FILE; ferry's SDK honours both.
			env:    append(key.Env(), "AWS_REGION="+credsRegion, "AWS_CA_BUNDLE="+lab.Net.CAFile(), "AWS_CONFIG_FILE=/nonexistent", "AWS_SHARED_CREDENTIALS_FILE=/nonexistent"),
			plugin: []string{"aws", "--region", credsRegion, "eks", "get-token", "--cluster-name", credsCluster, "--output", "json"}},
		{cloud: "GKE", kubeconfig: kubeauth.GKEKubeconfig(gke), context: gke.ContextName(),
			env:    []string{"GOOGLE_APPLICATION_CREDENTIALS=" + keyFile},
			plugin: []string{"gke-gcloud-auth-plugin", "--use_application_default_credentials"},
			// gcloud's kubeconfig runs the plugin without arguments, which
			// asks gcloud for its login; with a key file the plugin needs
			// --use_application_default_credentials.
			pluginKubeconfig: []byte(strings.Replace(string(kubeauth.GKEKubeconfig(gke)), "      command: gke-gcloud-auth-plugin\n",
				"      args:\n      - --use_application_default_credentials\n      command: gke-gcloud-auth-plugin\n", 1))},
		{cloud: "AKS", kubeconfig: kubeauth.AKSKubeconfig(aks), context: aks.Name,
			env:     []string{"AAD_SERVICE_PRINCIPAL_CLIENT_SECRET=" + secret},
			missing: "kubelogin is not packaged in Debian (apt-cache search finds no kubelogin; Debian's azure-cli is not what the kubeconfig runs), and this bench builds no plugin from source"},
	}
	for i := range cases {
		if cases[i].plugin == nil {
			continue
		}
		p, err := exec.LookPath(b.tool(cases[i].plugin[0]))
		if err != nil {
			cases[i].missing = cases[i].plugin[0] + ": not installed (bench/install.sh installs Debian's awscli; gke-gcloud-auth-plugin comes only from Google's apt repository)"
			cases[i].plugin = nil
			continue
		}
		cases[i].plugin[0] = p
		cases[i].pluginPath = filepath.Dir(p)
	}
	return cases
}

// credsRun is one timed command of the scenario.
type credsRun struct {
	name string
	argv []string
	env  []string
}

func (b *bench) credsMeasure(ctx context.Context, lab *cloudlab.Lab, cases []credsCase) error {
	var errs []error
	for _, cc := range cases {
		kc := filepath.Join(b.cfg.work, "kubeconfig-"+strings.ToLower(cc.cloud))
		pkc := kc + "-plugin"
		if err := errors.Join(os.WriteFile(kc, cc.kubeconfig, 0o600), os.WriteFile(pkc, orDefault(cc.pluginKubeconfig, cc.kubeconfig), 0o600)); err != nil {
			return err
		}
		base := append(lab.Env(b.env()), cc.env...)
		status := []string{b.cfg.ferry, "status", "--targets", "k8s:" + credsNS + "/web?context=" + cc.context, "-o", "json"}
		runs := []credsRun{{name: "ferry, token minted in process", argv: status,
			env: append(withPath(base, b.emptyDir()), "KUBECONFIG="+kc, "FERRY_KUBE_CREDENTIALS=ferry")}}
		if cc.plugin != nil {
			runs = append(runs,
				credsRun{name: "ferry, token from " + filepath.Base(cc.plugin[0]), argv: status,
					env: append(withPath(base, cc.pluginPath), "KUBECONFIG="+pkc, "FERRY_KUBE_CREDENTIALS=plugin")},
				credsRun{name: strings.Join(append([]string{filepath.Base(cc.plugin[0])}, cc.plugin[1:]...), " "), argv: cc.plugin,
					env: withPath(base, cc.pluginPath)})
		}
		times, err := b.credsRounds(ctx, runs)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", cc.cloud, err))
			continue
		}
		b.credsFigures(cc, runs, times)
	}
	return errors.Join(errs...)
}

// credsRounds runs every command once per round, in an order rotated
// each round, and returns the wall times in seconds.
func (b *bench) credsRounds(ctx context.Context, runs []credsRun) (map[string][]float64, error) {
	times := map[string][]float64{}
	for round := range b.cfg.runs + 1 {
		for _, r := range measure.Rotate(runs, round) {
			cmd := exec.Command(r.argv[0], r.argv[1:]...)
			cmd.Env = r.env
			s, err := measure.Run(ctx, cmd)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", r.name, err)
			}
			if round == 0 {
				continue // warm-up: page cache, the emulators' first key fetch
			}
			times[r.name] = append(times[r.name], s.Wall.Seconds())
		}
	}
	return times, nil
}

func (b *bench) credsFigures(cc credsCase, runs []credsRun, times map[string][]float64) {
	ferry := times[runs[0].name]
	for _, r := range runs {
		b.addRawValues("cluster credentials, "+cc.cloud+": wall (s)", r.name, times[r.name])
		line := strings.Join(append([]string{filepath.Base(r.argv[0])}, r.argv[1:]...), " ")
		for _, kv := range r.env {
			if strings.HasPrefix(kv, "FERRY_KUBE_CREDENTIALS=") {
				line = kv + " " + line
			}
		}
		b.addCommand("cluster credentials ("+cc.cloud+")", line)
	}
	name := cc.cloud + ": start to first authenticated API call, token minted in process"
	note := "`ferry status` on one Deployment (preflight mints the token, then reads the Deployment); the cluster asks the lab's TokenReview webhook, which checks the token with the " + map[string]string{"EKS": "STS", "GKE": "Google", "AKS": "Entra ID"}[cc.cloud] + " emulator; every request goes through the lab's HTTPS proxy"
	if cc.plugin == nil {
		b.add(results.New(name, "s", ferry, "", nil, nil).WithNote(note + "; not compared: " + cc.missing))
		return
	}
	b.add(results.New(name, "s", ferry, runs[1].name, times[runs[1].name], nil).WithNote(note + "; anchor: the same run with the exec plugin minting the token (FERRY_KUBE_CREDENTIALS=plugin)"))
	b.add(results.New(cc.cloud+": token minted in process vs the plugin's own command", "s", ferry, runs[2].name, times[runs[2].name], nil).
		WithNote("the plugin command alone prints a token and makes no API call"))
}

// emptyDir is a folder with nothing in it, for a PATH without plugins.
func (b *bench) emptyDir() string {
	d := filepath.Join(b.cfg.work, "empty-path")
	_ = os.MkdirAll(d, 0o755)
	return d
}

// withPath replaces PATH in env.
func withPath(env []string, path string) []string {
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		if !strings.HasPrefix(kv, "PATH=") {
			out = append(out, kv)
		}
	}
	return append(out, "PATH="+path)
}

func orDefault(b, def []byte) []byte {
	if len(b) == 0 {
		return def
	}
	return b
}
