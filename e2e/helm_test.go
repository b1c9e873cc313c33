package e2e

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv"
)

var (
	helmOnce sync.Once
	helmBin  string
	helmErr  error
)

// helm4 is the real Helm 4 CLI, built from the module proxy by
// hack/build-tool.sh (hack/tools/helm pins it) and cached outside the
// repository: its field manager is its binary's name, "helm".
func helm4(t *testing.T) string {
	t.Helper()
	helmOnce.Do(func() {
		out, err := exec.Command("../hack/build-tool.sh", "helm").Output()
		if err != nil {
			helmErr = err
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				helmErr = &buildError{err, string(ee.Stderr)}
			}
			return
		}
		helmBin = strings.TrimSpace(string(out))
	})
	if helmErr != nil {
		t.Fatalf("building Helm 4 with hack/build-tool.sh: %v", helmErr)
	}
	return helmBin
}

type buildError struct {
	err    error
	stderr string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.stderr }

// adminKubeconfig reaches c as the harness's admin, so that Helm's writes
// are not taken for ferry's in the audit log.
func adminKubeconfig(t *testing.T, c *testenv.Cluster) string {
	t.Helper()
	rc := c.AdminConfig()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["admin"] = &clientcmdapi.Cluster{Server: rc.Host, CertificateAuthorityData: c.CAPEM()}
	cfg.AuthInfos["admin"] = &clientcmdapi.AuthInfo{Token: rc.BearerToken}
	cfg.Contexts["admin"] = &clientcmdapi.Context{Cluster: "admin", AuthInfo: "admin"}
	cfg.CurrentContext = "admin"
	path := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// A release Helm 4 applied server-side: ferry refuses it, naming Helm and
// the conflict the next upgrade would hit; patched anyway, the next helm
// upgrade does fail on the image's field manager, and --force-conflicts
// puts the chart's image back — what the refusal says.
func TestHelm4ServerSideApplyOwner(t *testing.T) {
	t.Parallel()
	helm := helm4(t)
	pns := namespace(t, production)
	kc := adminKubeconfig(t, production)
	runHelm := func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), helm, append(args, "--kubeconfig", kc, "--namespace", pns)...)
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+t.TempDir(), "HELM_CONFIG_HOME="+t.TempDir(), "HELM_DATA_HOME="+t.TempDir())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := runHelm("install", "shop", "testdata/charts/shop", "--server-side=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	waitRolledOut(t, production, pns, "shop")
	d := get(t, production, pns, "shop")
	applied := false
	for _, f := range d.ManagedFields {
		applied = applied || (f.Manager == "helm" && f.Operation == metav1.ManagedFieldsOperationApply)
	}
	if !applied {
		t.Fatalf("Helm 4 did not apply the deployment server-side as manager helm: %+v", d.ManagedFields)
	}

	src := "registry.test/shop@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, "shop", "production"))
	r := ferry(t, e, "promote")
	if out := r.stdout + r.stderr; r.code != 2 || !strings.Contains(out, "managed by Helm (release "+pns+"/shop)") || !strings.Contains(out, "field-manager conflict") {
		t.Fatalf("want exit 2 naming the Helm release and the conflict\n%s", r)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("the refusal wrote: %v", m)
	}

	r = ferry(t, e.with("FERRY_ON_OWNED", "patch"), "promote")
	if r.code != 0 {
		t.Fatalf("FERRY_ON_OWNED=patch: want exit 0\n%s", r)
	}
	out, err := runHelm("upgrade", "shop", "testdata/charts/shop", "--set", "image=registry.test/shop:v3")
	if err == nil || !strings.Contains(out, "conflict") {
		t.Fatalf("helm upgrade after ferry's patch: want a field-manager conflict, got err %v\n%s", err, out)
	}
	t.Logf("helm upgrade after ferry's patch, as the refusal says:\n%s", out)
	if out, err := runHelm("upgrade", "shop", "testdata/charts/shop", "--set", "image=registry.test/shop:v3", "--force-conflicts"); err != nil {
		t.Fatalf("helm upgrade --force-conflicts: %v\n%s", err, out)
	}
	if got := imageOf(get(t, production, pns, "shop"), "app"); got != "registry.test/shop:v3" {
		t.Errorf("after helm upgrade --force-conflicts the deployment runs %s, want the chart's registry.test/shop:v3", got)
	}
}
