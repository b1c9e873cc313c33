package e2e

import (
	"context"
	"encoding/json"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/promote"
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
	helmOnce.Do(func() { helmBin, helmErr = testenv.BuildTool(context.Background(), "helm") })
	if helmErr != nil {
		t.Fatalf("building Helm 4 with hack/build-tool.sh: %v", helmErr)
	}
	return helmBin
}

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
	pns := namespace(t, production)
	runHelm := helmRunner(t, pns)
	if out, err := runHelm("install", "shop", "testdata/charts/shop", "--server-side=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	// Helm 4 applied the deployment server-side, as manager helm.
	helmFields(t, waitRolledOut(t, production, pns, "shop").ObjectMeta)

	src := "registry.test/shop@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_SOURCE", src, "FERRY_TARGETS", target(pns, "shop", "production"))
	r := ferry(t, e, "promote")
	if out := r.stdout + r.stderr; r.code != 2 || !strings.Contains(out, "managed by Helm (release "+pns+"/shop)") || !strings.Contains(out, "field-manager conflict") || !strings.Contains(out, "FERRY_ON_OWNED=apply-as-owner") {
		t.Fatalf("want exit 2 naming the Helm release, the conflict and apply-as-owner\n%s", r)
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

// helmRunner runs the Helm 4 CLI as the admin in namespace ns.
func helmRunner(t *testing.T, ns string) func(args ...string) (string, error) {
	t.Helper()
	helm, kc := helm4(t), adminKubeconfig(t, production)
	home := []string{"HELM_CACHE_HOME=" + t.TempDir(), "HELM_CONFIG_HOME=" + t.TempDir(), "HELM_DATA_HOME=" + t.TempDir()}
	return func(args ...string) (string, error) {
		cmd := exec.CommandContext(t.Context(), helm, append(args, "--kubeconfig", kc, "--namespace", ns)...)
		cmd.Env = append(os.Environ(), home...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
}

// imageManagers are the field managers (manager/operation) that own the
// image of container (or init container) name.
func imageManagers(t *testing.T, m metav1.ObjectMeta, name string) []string {
	t.Helper()
	key := `k:{"name":"` + name + `"}`
	var out []string
	for _, f := range m.ManagedFields {
		var fields struct {
			Spec struct {
				Template struct {
					Spec struct {
						Containers     map[string]map[string]json.RawMessage `json:"f:containers"`
						InitContainers map[string]map[string]json.RawMessage `json:"f:initContainers"`
					} `json:"f:spec"`
				} `json:"f:template"`
			} `json:"f:spec"`
		}
		if f.FieldsV1 == nil || json.Unmarshal(f.FieldsV1.GetRawBytes(), &fields) != nil {
			continue
		}
		spec := fields.Spec.Template.Spec
		_, app := spec.Containers[key]["f:image"]
		if _, init := spec.InitContainers[key]["f:image"]; app || init {
			out = append(out, f.Manager+"/"+string(f.Operation))
		}
	}
	return out
}

// FERRY_ON_OWNED=apply-as-owner on a release the real Helm 4 applied
// server-side: ferry writes the image as Helm's field manager, so Helm
// keeps owning it and the next helm upgrade — with the same values or
// new ones — succeeds without --force-conflicts (putting the chart's
// image back, as documented). A promotion that fails is restored the same
// way, as is one whose run was killed (by recover, from the Lease record),
// and the upgrade after them succeeds too; plan rehearses that apply as a
// dry run.
func TestHelm4ApplyAsOwner(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	helm := helmRunner(t, pns)
	if out, err := helm("install", "shop", "testdata/charts/shop", "--server-side=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	installed := waitRolledOut(t, production, pns, "shop")
	if got := imageManagers(t, installed.ObjectMeta, "app"); !slices.Equal(got, []string{"helm/Apply"}) {
		t.Fatalf("after helm install the image is managed by %v, want helm/Apply", got)
	}
	e := baseEnv().with("FERRY_TARGETS", target(pns, "shop", "production"), "FERRY_ON_OWNED", "apply-as-owner")
	owned := func(when string, want string) *appsv1.Deployment {
		t.Helper()
		d := waitRolledOut(t, production, pns, "shop")
		if got := imageOf(d, "app"); got != want {
			t.Fatalf("%s: the deployment runs %s, want %s", when, got, want)
		}
		if got := imageManagers(t, d.ObjectMeta, "app"); !slices.Equal(got, []string{"helm/Apply"}) {
			t.Fatalf("%s: the image is managed by %v, want helm/Apply only", when, got)
		}
		return d
	}

	// plan: the same apply as a dry run, nothing written.
	src := "registry.test/shop@" + fakeDigest(t.Name())
	planDryRunOnly(t, e.with("FERRY_SOURCE", src), pns)

	// promote, then helm upgrade with unchanged values.
	r := ferry(t, e.with("FERRY_SOURCE", src), "promote")
	if r.code != 0 {
		t.Fatalf("promote: want exit 0\n%s", r)
	}
	promoted := owned("after ferry promote", src)
	for _, k := range []string{"app.kubernetes.io/managed-by", "app.kubernetes.io/name", "app.kubernetes.io/instance"} {
		if promoted.Labels[k] != installed.Labels[k] {
			t.Errorf("label %s: %q after the promotion, was %q", k, promoted.Labels[k], installed.Labels[k])
		}
	}
	writes := mutations(t, production, pns)
	for _, w := range writes {
		if w.Resource == "deployments" && !strings.Contains(w.RequestURI, "fieldManager=helm") {
			t.Errorf("ferry wrote the deployment other than as field manager helm: %+v", w)
		}
	}
	if len(writes) == 0 {
		t.Error("the audit log shows no write by ferry")
	}
	if out, err := helm("upgrade", "shop", "testdata/charts/shop"); err != nil {
		t.Fatalf("helm upgrade (unchanged values) after ferry's apply: %v\n%s", err, out)
	}
	owned("after helm upgrade with the chart's values", "registry.test/shop:v1")

	// promote again, then helm upgrade with a new image.
	src2 := "registry.test/shop@" + fakeDigest(t.Name()+"2")
	if r := ferry(t, e.with("FERRY_SOURCE", src2), "promote"); r.code != 0 {
		t.Fatalf("second promote: want exit 0\n%s", r)
	}
	owned("after the second promotion", src2)
	if out, err := helm("upgrade", "shop", "testdata/charts/shop", "--set", "image=registry.test/shop:v3"); err != nil {
		t.Fatalf("helm upgrade --set image after ferry's apply: %v\n%s", err, out)
	}
	owned("after helm upgrade --set image", "registry.test/shop:v3")

	// A promotion that fails is restored as Helm's manager too.
	r = ferry(t, e.with("FERRY_SOURCE", "registry.test/shop-crash@"+fakeDigest(t.Name()+"crash")), "promote")
	if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
		t.Fatalf("crashing promotion: want exit 1 and restored\n%s", r)
	}
	owned("after the restore", "registry.test/shop:v3")

	// Killed mid-verification: the Lease record's snapshot names Helm's
	// manager, and recover restores as it.
	killAndRecover(t, e, pns)
	owned("after recover", "registry.test/shop:v3")
	if out, err := helm("upgrade", "shop", "testdata/charts/shop", "--set", "image=registry.test/shop:v4"); err != nil {
		t.Fatalf("helm upgrade after ferry's restore: %v\n%s", err, out)
	}
	owned("after helm upgrade following the restore", "registry.test/shop:v4")
}

// apply-as-owner writes nothing where it cannot keep Helm the image's
// only manager: a Deployment no tool manages, a Helm release applied
// client-side (Helm 3's way, --server-side=false), a Helm 4 release whose
// image ferry's earlier patch took over, and one whose image kubectl's
// server-side apply shares. Each is exit 2 naming why
// and the fix. The client-side release does not need it: after a plain
// patch, its next helm upgrade succeeds.
func TestHelm4ApplyAsOwnerRefusals(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	helm := helmRunner(t, pns)
	create(t, production, pns, deploy{name: "plain", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	if out, err := helm("install", "csa", "testdata/charts/shop", "--server-side=false"); err != nil {
		t.Fatalf("helm install --server-side=false: %v\n%s", err, out)
	}
	for _, n := range []string{"ssa", "shared"} {
		if out, err := helm("install", n, "testdata/charts/shop", "--server-side=true"); err != nil {
			t.Fatalf("helm install %s: %v\n%s", n, err, out)
		}
	}
	for _, n := range []string{"plain", "csa", "ssa", "shared"} {
		waitRolledOut(t, production, pns, n)
	}
	// kubectl apply --server-side of the same image: kubectl shares it.
	shared := `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"shared"},"spec":{"template":{"spec":{"containers":[{"name":"app","image":"registry.test/shop:v1"}]}}}}`
	if _, err := production.Admin.AppsV1().Deployments(pns).Patch(t.Context(), "shared", types.ApplyPatchType, []byte(shared), metav1.PatchOptions{FieldManager: "kubectl"}); err != nil {
		t.Fatalf("applying the image as kubectl: %v", err)
	}
	if got := imageManagers(t, get(t, production, pns, "shared").ObjectMeta, "app"); !slices.Equal(slices.Sorted(slices.Values(got)), []string{"helm/Apply", "kubectl/Apply"}) {
		t.Fatalf("the shared image is managed by %v, want helm/Apply and kubectl/Apply", got)
	}
	src := "registry.test/shop@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_SOURCE", src)
	// ferry's own patch takes the image from Helm's apply.
	if r := ferry(t, e.with("FERRY_TARGETS", target(pns, "ssa", "production"), "FERRY_ON_OWNED", "patch"), "promote"); r.code != 0 {
		t.Fatalf("FERRY_ON_OWNED=patch: want exit 0\n%s", r)
	}
	if got := imageManagers(t, get(t, production, pns, "ssa").ObjectMeta, "app"); !slices.Equal(got, []string{"ferry/Update"}) {
		t.Fatalf("after ferry's patch the image is managed by %v, want ferry/Update", got)
	}
	before := len(mutations(t, production, pns))
	e = e.with("FERRY_ON_OWNED", "apply-as-owner", "FERRY_SOURCE", "registry.test/shop@"+fakeDigest(t.Name()+"2"))
	for _, c := range []struct{ name, want, fix string }{
		{"plain", "not managed by Helm", "unset FERRY_ON_OWNED"},
		{"csa", "without server-side apply", "FERRY_ON_OWNED=patch"},
		{"ssa", "no longer manages the image of container app (ferry (Update)", "helm upgrade --force-conflicts"},
		{"shared", "the image of container app is managed by kubectl (Apply) as well", "helm upgrade --force-conflicts"},
	} {
		for _, cmd := range []string{"plan", "promote"} {
			r := ferry(t, e.with("FERRY_TARGETS", target(pns, c.name, "production")), cmd)
			if out := r.stdout + r.stderr; r.code != 2 || !strings.Contains(out, c.want) || !strings.Contains(out, c.fix) {
				t.Errorf("%s %s: want exit 2 with %q and %q\n%s", cmd, c.name, c.want, c.fix, r)
			}
		}
	}
	if m := mutations(t, production, pns); len(m) != before {
		t.Errorf("the refusals wrote: %v", m[before:])
	}
	// What the refusal of the shared image says: Helm's own next upgrade
	// conflicts with kubectl over it.
	if out, err := helm("upgrade", "shared", "testdata/charts/shop", "--set", "image=registry.test/shop:v3"); err == nil || !strings.Contains(out, `conflict with "kubectl"`) {
		t.Errorf("helm upgrade of the shared image: want a conflict with kubectl, got err %v\n%s", err, out)
	}

	// A client-side release needs no such write: after ferry's plain
	// patch, helm upgrade's three-way merge puts the chart's image back
	// without an error.
	if r := ferry(t, e.with("FERRY_TARGETS", target(pns, "csa", "production"), "FERRY_ON_OWNED", "patch"), "promote"); r.code != 0 {
		t.Fatalf("FERRY_ON_OWNED=patch on the client-side release: want exit 0\n%s", r)
	}
	if out, err := helm("upgrade", "csa", "testdata/charts/shop", "--set", "image=registry.test/shop:v3"); err != nil {
		t.Fatalf("helm upgrade of the client-side release after ferry's patch: %v\n%s", err, out)
	}
	if got := imageOf(waitRolledOut(t, production, pns, "csa"), "app"); got != "registry.test/shop:v3" {
		t.Errorf("after helm upgrade the client-side release runs %s, want the chart's registry.test/shop:v3", got)
	}
}

// The same write for a StatefulSet and a DaemonSet of a Helm 4 release:
// promoted and restored as Helm's field manager, and helm upgrade succeeds
// after each.
func TestHelm4ApplyAsOwnerStatefulSetAndDaemonSet(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	helm := helmRunner(t, pns)
	if out, err := helm("install", "agents", "testdata/charts/agents", "--server-side=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	waitStatefulSet(t, production, pns, "db")
	waitDaemonSet(t, production, pns, "agent")
	check := func(when, db, agent string) {
		t.Helper()
		s, d := waitStatefulSet(t, production, pns, "db"), waitDaemonSet(t, production, pns, "agent")
		if got := s.Spec.Template.Spec.Containers[0].Image; got != db {
			t.Errorf("%s: statefulset runs %s, want %s", when, got, db)
		}
		if got := d.Spec.Template.Spec.Containers[0].Image; got != agent {
			t.Errorf("%s: daemonset runs %s, want %s", when, got, agent)
		}
		if got := imageManagers(t, s.ObjectMeta, "db"); !slices.Equal(got, []string{"helm/Apply"}) {
			t.Errorf("%s: the statefulset's image is managed by %v, want helm/Apply only", when, got)
		}
		if got := imageManagers(t, d.ObjectMeta, "agent"); !slices.Equal(got, []string{"helm/Apply"}) {
			t.Errorf("%s: the daemonset's image is managed by %v, want helm/Apply only", when, got)
		}
	}
	e := baseEnv().with("FERRY_ON_OWNED", "apply-as-owner")
	var dbImage string
	for _, w := range []struct{ addr, repo string }{
		{"k8s:" + pns + "/statefulset/db?context=production", "registry.test/db"},
		{"k8s:" + pns + "/daemonset/agent?context=production", "registry.test/agent"},
	} {
		src := w.repo + "@" + fakeDigest(t.Name()+w.addr)
		if r := ferry(t, e.with("FERRY_TARGETS", w.addr, "FERRY_SOURCE", src), "promote"); r.code != 0 {
			t.Fatalf("promote %s: want exit 0\n%s", w.addr, r)
		}
		r := ferry(t, e.with("FERRY_TARGETS", w.addr, "FERRY_SOURCE", w.repo+"-crash@"+fakeDigest(t.Name()+w.addr+"crash")), "promote")
		if r.code != 1 || r.report(t).Targets[0].Status != promote.StatusRestored {
			t.Fatalf("crashing promotion of %s: want exit 1 and restored\n%s", w.addr, r)
		}
		if dbImage == "" {
			dbImage = src
			check("after the statefulset's promotion and restore", src, "registry.test/agent:v1")
		} else {
			check("after the daemonset's promotion and restore", dbImage, src)
		}
	}
	if out, err := helm("upgrade", "agents", "testdata/charts/agents", "--set", "agent=registry.test/agent:v2"); err != nil {
		t.Fatalf("helm upgrade after ferry's applies: %v\n%s", err, out)
	}
	check("after helm upgrade", "registry.test/db:v1", "registry.test/agent:v2")
}

// helmFields is the set of fields manager helm holds by apply.
func helmFields(t *testing.T, m metav1.ObjectMeta) string {
	t.Helper()
	for _, f := range m.ManagedFields {
		if f.Manager == "helm" && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" {
			return f.FieldsV1.GetRawString()
		}
	}
	t.Fatalf("no fields applied by helm: %+v", m.ManagedFields)
	return ""
}

// A chart with keyed lists (containers, ports, env, volumes, mounts),
// atomic lists (args, tolerations), maps and an init container: ferry's
// apply as Helm's manager drops none of the fields Helm applied (the
// manager's field set and every value but the two images are as before),
// and helm upgrade then succeeds.
func TestHelm4ApplyAsOwnerKeepsEveryField(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	helm := helmRunner(t, pns)
	if out, err := helm("install", "rich", "testdata/charts/rich", "--server-side=true"); err != nil {
		t.Fatalf("helm install: %v\n%s", err, out)
	}
	before := waitRolledOut(t, production, pns, "rich")
	fields := helmFields(t, before.ObjectMeta)
	t.Logf("fields helm applied: %s", fields)

	src := "registry.test/shop@" + fakeDigest(t.Name())
	e := baseEnv().with("FERRY_TARGETS", "k8s:"+pns+"/rich?context=production&container=app,migrate", "FERRY_SOURCE", src, "FERRY_ON_OWNED", "apply-as-owner")
	if r := ferry(t, e, "promote"); r.code != 0 {
		t.Fatalf("promote: want exit 0\n%s", r)
	}
	after := waitRolledOut(t, production, pns, "rich")
	var was, is any
	_ = json.Unmarshal([]byte(fields), &was)
	_ = json.Unmarshal([]byte(helmFields(t, after.ObjectMeta)), &is)
	if !reflect.DeepEqual(was, is) {
		t.Errorf("helm's fields changed:\nbefore %s\nafter  %s", fields, helmFields(t, after.ObjectMeta))
	}
	want := before.Spec.DeepCopy()
	want.Template.Spec.Containers[0].Image, want.Template.Spec.InitContainers[0].Image = src, src
	if !equality.Semantic.DeepEqual(*want, after.Spec) {
		t.Errorf("the spec changed beyond the two images:\nwant %+v\ngot  %+v", *want, after.Spec)
	}
	if !maps.Equal(before.Labels, after.Labels) || after.Annotations["example.com/team"] != "payments" {
		t.Errorf("metadata changed: labels %v, annotations %v", after.Labels, after.Annotations)
	}
	for _, c := range []string{"app", "migrate"} {
		if got := imageManagers(t, after.ObjectMeta, c); !slices.Equal(got, []string{"helm/Apply"}) {
			t.Errorf("the image of %s is managed by %v, want helm/Apply only", c, got)
		}
	}
	if out, err := helm("upgrade", "rich", "testdata/charts/rich"); err != nil {
		t.Fatalf("helm upgrade after ferry's apply: %v\n%s", err, out)
	}
	if up := waitRolledOut(t, production, pns, "rich"); !equality.Semantic.DeepEqual(up.Spec.Template, before.Spec.Template) {
		t.Errorf("after helm upgrade the template is not the chart's:\nwant %+v\ngot  %+v", before.Spec.Template, up.Spec.Template)
	}
}

// planDryRunOnly runs ferry plan with e on production's deployment shop in
// ns: exit 0, one dry-run patch as field manager helm, no write.
func planDryRunOnly(t *testing.T, e env, ns string) {
	t.Helper()
	if r := ferry(t, e, "plan"); r.code != 0 || !strings.Contains(r.stderr, "dry run") {
		t.Fatalf("plan: want exit 0 and a dry run\n%s", r)
	}
	dry, err := production.DryRuns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var dryApplies int
	for _, d := range dry {
		if d.Namespace == ns && d.Verb == "patch" && strings.Contains(d.RequestURI, "fieldManager=helm") {
			dryApplies++
		}
	}
	if dryApplies != 1 {
		t.Errorf("plan sent %d dry-run patches as field manager helm, want 1: %+v", dryApplies, dry)
	}
	if m := mutations(t, production, ns); len(m) != 0 {
		t.Fatalf("plan wrote: %v", m)
	}
}

// killAndRecover kills a promotion of shop in ns mid-verification, checks
// that its Lease record names the manager to restore as, and recovers.
func killAndRecover(t *testing.T, e env, ns string) {
	t.Helper()
	ek := e.with("FERRY_LOCK_TTL", "2s")
	killAt(t, ek.with("FERRY_SOURCE", "registry.test/shop-slowready@"+fakeDigest(t.Name()+"slow")), "verify: waiting")
	if rec := leaseRecord(t, ns, "shop"); rec.Snapshot == nil || !strings.Contains(string(rec.Snapshot.State), `"apply_as":"helm"`) {
		t.Fatalf("the killed run's record does not name the manager to restore as: %+v", rec.Snapshot)
	}
	if r := ferry(t, ek, "recover"); r.code != 0 || !strings.Contains(r.stderr, "restored to registry.test/shop:v3") {
		t.Fatalf("recover: want exit 0 and restored\n%s", r)
	}
}
