package kubeauth

import (
	"slices"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-dev/ferry/internal/testenv"
)

var fakeCluster = &testenv.Cluster{Name: "x", Server: "https://127.0.0.1:6443"}

func TestEKSKubeconfigShape(t *testing.T) {
	data := EKSKubeconfig(
		EKSCluster{Cluster: fakeCluster, Region: "eu-west-1", Name: "staging"},
		EKSCluster{Cluster: fakeCluster, Region: "eu-west-1", Name: "prod", Profile: "deploy"},
	)
	want := `- name: arn:aws:eks:eu-west-1:111122223333:cluster/prod
  user:
    exec:
      apiVersion: client.authentication.k8s.io/v1beta1
      args:
      - --region
      - eu-west-1
      - eks
      - get-token
      - --cluster-name
      - prod
      - --output
      - json
      command: aws
      env:
      - name: AWS_PROFILE
        value: deploy
`
	if !strings.HasSuffix(string(data), want) {
		t.Fatalf("kubeconfig:\n%s", data)
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	arn := "arn:aws:eks:eu-west-1:111122223333:cluster/prod"
	if cfg.CurrentContext != arn || cfg.Contexts[arn].AuthInfo != arn || cfg.Clusters[arn].Server != fakeCluster.Server {
		t.Fatalf("config %+v", cfg)
	}
	ex := cfg.AuthInfos["arn:aws:eks:eu-west-1:111122223333:cluster/staging"].Exec
	if ex.Command != "aws" || ex.APIVersion != "client.authentication.k8s.io/v1beta1" ||
		!slices.Equal(ex.Args, []string{"--region", "eu-west-1", "eks", "get-token", "--cluster-name", "staging", "--output", "json"}) {
		t.Fatalf("exec %+v", ex)
	}

	auth, err := clientcmd.Load(EKSKubeconfig(EKSCluster{Cluster: fakeCluster, Region: "us-east-1", Name: "c", Authenticator: true,
		RoleARN: "arn:aws:iam::111122223333:role/r"}))
	if err != nil {
		t.Fatal(err)
	}
	ex = auth.AuthInfos["arn:aws:eks:us-east-1:111122223333:cluster/c"].Exec
	if ex.Command != "aws-iam-authenticator" || !slices.Equal(ex.Args, []string{"token", "-i", "c", "-r", "arn:aws:iam::111122223333:role/r"}) {
		t.Fatalf("exec %+v", ex)
	}
}

func TestGKEKubeconfigShape(t *testing.T) {
	cfg, err := clientcmd.Load(GKEKubeconfig(GKECluster{Cluster: fakeCluster, Project: "shop-prod", Location: "europe-west1", Name: "prod"}))
	if err != nil {
		t.Fatal(err)
	}
	name := "gke_shop-prod_europe-west1_prod"
	ex := cfg.AuthInfos[name].Exec
	if cfg.CurrentContext != name || ex.Command != "gke-gcloud-auth-plugin" || !ex.ProvideClusterInfo || len(ex.Args) != 0 ||
		!strings.Contains(ex.InstallHint, "cluster-access-for-kubectl#install_plugin") {
		t.Fatalf("exec %+v", ex)
	}
}

func TestAKSKubeconfigShape(t *testing.T) {
	base := AKSCluster{Cluster: fakeCluster, Name: "prod", ResourceGroup: "shop", TenantID: "72f988bf-0000-0000-0000-000000000001"}
	tests := []struct {
		login, clientID string
		want            []string
	}{
		{"", "", []string{"get-token", "--environment", "AzurePublicCloud", "--server-id", AKSServerAppID, "--client-id", AKSClientAppID,
			"--tenant-id", base.TenantID, "--login", "devicecode"}},
		{"spn", "", []string{"get-token", "--login", "spn", "--server-id", AKSServerAppID, "--client-id", AKSClientAppID,
			"--tenant-id", base.TenantID, "--environment", "AzurePublicCloud"}},
		{"spn", "app-1", []string{"get-token", "--login", "spn", "--server-id", AKSServerAppID, "--client-id", "app-1",
			"--tenant-id", base.TenantID, "--environment", "AzurePublicCloud"}},
		{"workloadidentity", "", []string{"get-token", "--login", "workloadidentity", "--server-id", AKSServerAppID}},
		{"azurecli", "", []string{"get-token", "--login", "azurecli", "--server-id", AKSServerAppID}},
	}
	for _, tt := range tests {
		a := base
		a.Login, a.ConvertClientID = tt.login, tt.clientID
		cfg, err := clientcmd.Load(AKSKubeconfig(a))
		if err != nil {
			t.Fatal(err)
		}
		ex := cfg.AuthInfos["clusterUser_shop_prod"].Exec
		if cfg.Contexts["prod"].AuthInfo != "clusterUser_shop_prod" || ex.Command != "kubelogin" || !slices.Equal(ex.Args, tt.want) {
			t.Errorf("%s: exec %+v", tt.login, ex)
		}
	}
}
