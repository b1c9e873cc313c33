package kubeauth

import (
	"encoding/base64"
	"fmt"
	"strings"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv"
)

// The cloud CLIs' kubeconfigs point at the test cluster's server and CA;
// everything else is written as the tools write it.

// EKSCluster is one entry of EKSKubeconfig.
type EKSCluster struct {
	Cluster *testenv.Cluster
	Region  string // eu-west-1
	Account string // [111122223333]
	Name    string // the EKS cluster name, also the token's x-k8s-aws-id
	// RoleARN is update-kubeconfig's --role-arn: the plugin assumes it.
	RoleARN string
	// Profile, when set, adds AWS_PROFILE to the exec env, as
	// update-kubeconfig does when run with a profile.
	Profile string
	// Authenticator writes the aws-iam-authenticator variant instead of
	// `aws eks get-token`.
	Authenticator bool
}

// ARN is arn:aws:eks:REGION:ACCOUNT:cluster/NAME: the name of the
// cluster, context and user entries.
func (e EKSCluster) ARN() string {
	acct := e.Account
	if acct == "" {
		acct = "111122223333"
	}
	return "arn:aws:eks:" + e.Region + ":" + acct + ":cluster/" + e.Name
}

// EKSKubeconfig returns the kubeconfig `aws eks update-kubeconfig --name
// NAME --region REGION` leaves after one run per cluster, in order (the
// last one is current). Shape from aws-cli
// awscli/customizations/eks/update_kubeconfig.py (get_cluster_entry,
// get_user_entry: exec apiVersion client.authentication.k8s.io/v1beta1,
// command aws, args --region R eks get-token --cluster-name NAME --output
// json [--role ROLE], env AWS_PROFILE) and kubeconfig.py (context entries
// named after the cluster ARN). The aws-iam-authenticator variant follows
// the EKS user guide's "create kubeconfig manually": command
// aws-iam-authenticator, args token -i NAME [-r ROLE].
func EKSKubeconfig(clusters ...EKSCluster) []byte {
	var b kcWriter
	b.header()
	for _, c := range clusters {
		b.cluster(c.ARN(), c.Cluster)
	}
	b.line("contexts:")
	for _, c := range clusters {
		b.context(c.ARN(), c.ARN(), c.ARN())
	}
	b.line("current-context: " + clusters[len(clusters)-1].ARN())
	b.line("kind: Config")
	b.line("preferences: {}")
	b.line("users:")
	for _, c := range clusters {
		b.line("- name: " + c.ARN())
		b.line("  user:")
		b.line("    exec:")
		b.line("      apiVersion: client.authentication.k8s.io/v1beta1")
		b.line("      args:")
		var args []string
		command := "aws"
		if c.Authenticator {
			command = "aws-iam-authenticator"
			args = []string{"token", "-i", c.Name}
			if c.RoleARN != "" {
				args = append(args, "-r", c.RoleARN)
			}
		} else {
			args = []string{"--region", c.Region, "eks", "get-token", "--cluster-name", c.Name, "--output", "json"}
			if c.RoleARN != "" {
				args = append(args, "--role", c.RoleARN)
			}
		}
		for _, a := range args {
			b.line("      - " + a)
		}
		b.line("      command: " + command)
		if c.Profile != "" {
			b.line("      env:")
			b.line("      - name: AWS_PROFILE")
			b.line("        value: " + c.Profile)
		}
	}
	return []byte(b.String())
}

// GKECluster is one entry of GKEKubeconfig.
type GKECluster struct {
	Cluster  *testenv.Cluster
	Project  string
	Location string // zone or region
	Name     string
}

// ContextName is gke_PROJECT_LOCATION_NAME, the name of the cluster,
// context and user entries.
func (g GKECluster) ContextName() string { return "gke_" + g.Project + "_" + g.Location + "_" + g.Name }

// gkeInstallHint is the hint gcloud writes (wrapped as its YAML writer
// wraps it).
const gkeInstallHint = "Install gke-gcloud-auth-plugin for use with kubectl by following\n        https://cloud.google.com/kubernetes-engine/docs/how-to/cluster-access-for-kubectl#install_plugin"

// GKEKubeconfig returns the kubeconfig `gcloud container clusters
// get-credentials NAME --location LOCATION --project PROJECT` leaves after
// one run per cluster (the last one current): exec apiVersion
// client.authentication.k8s.io/v1beta1, command gke-gcloud-auth-plugin,
// installHint, provideClusterInfo true, no args, as in kubeconfigs that
// gcloud wrote and users published (gcloud's own source is not public).
func GKEKubeconfig(clusters ...GKECluster) []byte {
	var b kcWriter
	b.header()
	for _, c := range clusters {
		b.cluster(c.ContextName(), c.Cluster)
	}
	b.line("contexts:")
	for _, c := range clusters {
		b.context(c.ContextName(), c.ContextName(), c.ContextName())
	}
	b.line("current-context: " + clusters[len(clusters)-1].ContextName())
	b.line("kind: Config")
	b.line("preferences: {}")
	b.line("users:")
	for _, c := range clusters {
		b.line("- name: " + c.ContextName())
		b.line("  user:")
		b.line("    exec:")
		b.line("      apiVersion: client.authentication.k8s.io/v1beta1")
		b.line("      command: gke-gcloud-auth-plugin")
		b.line("      installHint: " + gkeInstallHint)
		b.line("      provideClusterInfo: true")
	}
	return []byte(b.String())
}

// AKS kubeconfig constants: the Azure CLI's AKS client application, which
// `az aks get-credentials` kubeconfigs name with --client-id, and
// kubelogin's install hint.
const (
	AKSClientAppID  = "80faf920-1908-4b52-b5ef-a8e7bedfc67a"
	kubeloginHint   = "\nkubelogin is not installed which is required to connect to AAD enabled cluster.\n\nTo learn more, please go to https://aka.ms/aks/kubelogin\n"
	azurePublicName = "AzurePublicCloud"
)

// AKSCluster is one entry of AKSKubeconfig.
type AKSCluster struct {
	Cluster       *testenv.Cluster
	Name          string
	ResourceGroup string
	TenantID      string
	// Login is "" for the kubeconfig as `az aks get-credentials` writes
	// it (kubelogin --login devicecode), or the -l of `kubelogin
	// convert-kubeconfig`: "spn", "workloadidentity" or "azurecli".
	Login string
	// ConvertClientID and ConvertTenantID are --client-id and
	// --tenant-id given to convert-kubeconfig ("" when not given).
	ConvertClientID, ConvertTenantID string
}

// UserName is clusterUser_RG_NAME.
func (a AKSCluster) UserName() string { return "clusterUser_" + a.ResourceGroup + "_" + a.Name }

// AKSKubeconfig returns the kubeconfig `az aks get-credentials
// --resource-group RG --name NAME` leaves for an AKS cluster with Entra
// ID integration (the user runs `kubelogin get-token --environment
// AzurePublicCloud --server-id 6dae42f8-... --client-id 80faf920-...
// --tenant-id T --login devicecode`), optionally after `kubelogin
// convert-kubeconfig -l LOGIN`, whose argument rules follow kubelogin's
// pkg/internal/converter/convert.go: get-token --login LOGIN --server-id
// ID, then for spn --client-id and --tenant-id (from the flags or the
// existing arguments) and --environment; for workloadidentity and
// azurecli only the flags given. Both tools write through client-go, so
// this does too.
func AKSKubeconfig(clusters ...AKSCluster) []byte {
	cfg := clientcmdapi.NewConfig()
	for _, a := range clusters {
		cfg.Clusters[a.Name] = &clientcmdapi.Cluster{Server: a.Cluster.Server, CertificateAuthorityData: a.Cluster.CAPEM()}
		cfg.Contexts[a.Name] = &clientcmdapi.Context{Cluster: a.Name, AuthInfo: a.UserName()}
		exec := &clientcmdapi.ExecConfig{
			Command:     "kubelogin",
			APIVersion:  "client.authentication.k8s.io/v1beta1",
			InstallHint: kubeloginHint,
		}
		clientID, tenantID := AKSClientAppID, a.TenantID
		if a.ConvertClientID != "" {
			clientID = a.ConvertClientID
		}
		if a.ConvertTenantID != "" {
			tenantID = a.ConvertTenantID
		}
		switch a.Login {
		case "":
			exec.Args = []string{"get-token", "--environment", azurePublicName, "--server-id", AKSServerAppID,
				"--client-id", AKSClientAppID, "--tenant-id", a.TenantID, "--login", "devicecode"}
		case "spn":
			exec.Args = []string{"get-token", "--login", "spn", "--server-id", AKSServerAppID,
				"--client-id", clientID, "--tenant-id", tenantID, "--environment", azurePublicName}
		case "workloadidentity", "azurecli":
			exec.Args = []string{"get-token", "--login", a.Login, "--server-id", AKSServerAppID}
			if a.Login == "workloadidentity" && a.ConvertClientID != "" {
				exec.Args = append(exec.Args, "--client-id", a.ConvertClientID)
			}
			if a.ConvertTenantID != "" {
				exec.Args = append(exec.Args, "--tenant-id", a.ConvertTenantID)
			}
		default:
			panic(fmt.Sprintf("kubeauth: unknown kubelogin login %q", a.Login))
		}
		cfg.AuthInfos[a.UserName()] = &clientcmdapi.AuthInfo{Exec: exec}
	}
	cfg.CurrentContext = clusters[len(clusters)-1].Name
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		panic(fmt.Sprintf("kubeauth: encoding kubeconfig: %v", err))
	}
	return data
}

type kcWriter struct{ strings.Builder }

func (b *kcWriter) line(s string) { b.WriteString(s + "\n") }

func (b *kcWriter) header() {
	b.line("apiVersion: v1")
	b.line("clusters:")
}

func (b *kcWriter) cluster(name string, c *testenv.Cluster) {
	b.line("- cluster:")
	b.line("    certificate-authority-data: " + base64.StdEncoding.EncodeToString(c.CAPEM()))
	b.line("    server: " + c.Server)
	b.line("  name: " + name)
}

func (b *kcWriter) context(name, cluster, user string) {
	b.line("- context:")
	b.line("    cluster: " + cluster)
	b.line("    user: " + user)
	b.line("  name: " + name)
}
