package rbac

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// The names roles.yaml uses, which the test keeps; only the namespaces
// change, to two on one cluster.
const (
	deployment  = "web"
	pullSecret  = "registry-credentials"
	staging     = "staging"
	production  = "production"
	contextName = "rbac"
	// The registry's one account, which the pull secret holds.
	registryUser, registryPassword = "puller", "pull-password"
)

// manifests are roles.yaml, decoded.
type manifests struct {
	source, target *rbacv1.Role
	binding        *rbacv1.RoleBinding
}

func loadManifests(t *testing.T) manifests {
	t.Helper()
	b, err := os.ReadFile("roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var m manifests
	for _, doc := range strings.Split(string(b), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		switch meta.Kind {
		case "Role":
			r := &rbacv1.Role{}
			if err := yaml.UnmarshalStrict([]byte(doc), r); err != nil {
				t.Fatal(err)
			}
			if r.Name == "ferry-source" {
				m.source = r
			} else {
				m.target = r
			}
		case "RoleBinding":
			m.binding = &rbacv1.RoleBinding{}
			if err := yaml.UnmarshalStrict([]byte(doc), m.binding); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatalf("roles.yaml holds a %q", meta.Kind)
		}
	}
	if m.source == nil || m.target == nil || m.binding == nil || m.target.Name != "ferry-target" || m.binding.RoleRef.Name != "ferry-target" {
		t.Fatalf("roles.yaml does not hold the Roles ferry-source and ferry-target and a RoleBinding of ferry-target")
	}
	return m
}

// TestReadmeShowsRoles: the README shows roles.yaml as it is.
func TestReadmeShowsRoles(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	roles, err := os.ReadFile("roles.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- BEGIN RBAC", "<!-- END RBAC -->"
	i, j := bytes.Index(readme, []byte(begin)), bytes.Index(readme, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	shown := readme[bytes.IndexByte(readme[i:], '\n')+i+1 : j]
	if want := "```yaml\n" + string(roles) + "```\n"; string(shown) != want {
		t.Errorf("README.md's Roles are not docs/rbac/roles.yaml; put the file between the markers, in a yaml block")
	}
}

// lab is a control plane, a registry that wants credentials, one that
// does not, and the ferry binary.
type lab struct {
	cluster          *testenv.Cluster
	admin            kubernetes.Interface
	ferry            string
	kubeconfig       []byte
	privateRegistry  string // wants registryUser's credentials
	publicRegistry   string
	home             string
	stagingImage     string // the staging Deployment's image
	productionBefore string // the production Deployment's image before any promotion
}

// TestRolesAreEnough runs ferry with nothing but roles.yaml's rights.
func TestRolesAreEnough(t *testing.T) {
	m := loadManifests(t)
	l := startLab(t)
	l.grant(t, m)
	l.deploy(t)

	t.Run("plan, promote, status, rollback", l.promoteAndRollBack)
	t.Run("a failed promotion is restored", l.restore)
	t.Run("a tag resolved with the pull secret", l.pullSecret)
	t.Run("a StatefulSet and a DaemonSet promoted, a crash restored", l.kinds)
	t.Run("a Rollout promoted, a crash aborted and restored", l.rollout)
	t.Run("every request allowed, every verb used", func(t *testing.T) { l.audit(t, m) })
	t.Run("without the RoleBinding, refused", func(t *testing.T) { l.refusedWithout(t, m) })
}

func startLab(t *testing.T) *lab {
	t.Helper()
	ctx := t.Context()
	l := &lab{home: t.TempDir()}
	c, err := testenv.StartCluster(ctx, "rbac")
	if err != nil {
		t.Fatalf("starting the control plane: %v", err)
	}
	c.StopOnCleanup(t)
	l.cluster, l.admin = c, c.Admin
	l.kubeconfig = impersonating(t, c, bindingGroup)
	l.ferry = buildFerry(t)

	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Wrap: basicAuth})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	l.privateRegistry = host
	host, stop, err = images.StartRegistry()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	l.publicRegistry = host
	return l
}

// bindingGroup is the group roles.yaml's RoleBinding names; grant checks
// the file against it.
const bindingGroup = "ferry"

// impersonating returns a kubeconfig whose one context reaches the cluster
// as the user ferry-ci in group: the harness's admin token, impersonating,
// so what ferry may do is what RBAC gives that user and group.
func impersonating(t *testing.T, c *testenv.Cluster, group string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(testenv.Kubeconfig(map[string]*testenv.Cluster{contextName: c}))
	if err != nil {
		t.Fatal(err)
	}
	u := cfg.AuthInfos[contextName]
	u.Token = c.AdminConfig().BearerToken
	u.Impersonate = "ferry-ci"
	u.ImpersonateGroups = []string{group}
	b, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func buildFerry(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "ferry")
	cmd := exec.CommandContext(t.Context(), "go", "build", "-trimpath", "-o", bin, "../../cmd/ferry")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building ferry: %v\n%s", err, out)
	}
	return bin
}

// basicAuth lets only registryUser in, as a private registry does.
func basicAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != registryUser || p != registryPassword {
			w.Header().Set("WWW-Authenticate", `Basic realm="private"`)
			http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// grant applies roles.yaml: ferry-source in staging, ferry-target in
// production, each bound as the file's RoleBinding binds ferry-target.
func (l *lab) grant(t *testing.T, m manifests) {
	t.Helper()
	ctx := t.Context()
	if len(m.binding.Subjects) != 1 || m.binding.Subjects[0].Kind != "Group" || m.binding.Subjects[0].Name != bindingGroup {
		t.Fatalf("roles.yaml binds %v; the test impersonates group %q", m.binding.Subjects, bindingGroup)
	}
	for ns, role := range map[string]*rbacv1.Role{staging: m.source, production: m.target} {
		if _, err := l.admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		r := role.DeepCopy()
		r.Namespace = ns
		if _, err := l.admin.RbacV1().Roles(ns).Create(ctx, r, metav1.CreateOptions{}); err != nil {
			t.Fatalf("creating %s in %s: %v", r.Name, ns, err)
		}
		b := m.binding.DeepCopy()
		b.Namespace, b.Name, b.RoleRef.Name = ns, role.Name, role.Name
		if _, err := l.admin.RbacV1().RoleBindings(ns).Create(ctx, b, metav1.CreateOptions{}); err != nil {
			t.Fatalf("binding %s in %s: %v", r.Name, ns, err)
		}
		l.waitForServiceAccount(t, ns)
	}
}

// waitForServiceAccount waits for a new namespace's default service
// account, without which no pod is admitted.
func (l *lab) waitForServiceAccount(t *testing.T, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := l.admin.CoreV1().ServiceAccounts(ns).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s has no default service account: %v", ns, err)
	}
}

// deploy creates web in both namespaces: staging runs the new build,
// production the old one.
func (l *lab) deploy(t *testing.T) {
	t.Helper()
	l.stagingImage = "registry.example/shop/web:2"
	l.productionBefore = "registry.example/shop/web:1"
	l.apply(t, staging, l.stagingImage, 1)
	l.apply(t, production, l.productionBefore, 1)
	l.waitRolledOut(t, staging)
	l.waitRolledOut(t, production)
}

// apply creates or updates web in ns.
func (l *lab) apply(t *testing.T, ns, image string, replicas int32) {
	t.Helper()
	ctx := t.Context()
	labels := map[string]string{"app": deployment}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: deployment, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			ProgressDeadlineSeconds: ptr(int32(30)),
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: deployment, Image: image}}},
			},
		},
	}
	have, err := l.admin.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
	if err == nil {
		have.Spec.Replicas, have.Spec.Template.Spec.Containers[0].Image = &replicas, image
		_, err = l.admin.AppsV1().Deployments(ns).Update(ctx, have, metav1.UpdateOptions{})
	} else {
		_, err = l.admin.AppsV1().Deployments(ns).Create(ctx, d, metav1.CreateOptions{})
	}
	if err != nil {
		t.Fatalf("deploying %s in %s: %v", image, ns, err)
	}
}

func ptr[T any](v T) *T { return &v }

// waitRolledOut waits until web in ns runs its template everywhere.
func (l *lab) waitRolledOut(t *testing.T, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := l.admin.AppsV1().Deployments(ns).Get(ctx, deployment, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		want := *d.Spec.Replicas
		s := d.Status
		return s.ObservedGeneration == d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want, nil
	})
	if err != nil {
		t.Fatalf("%s/%s did not roll out: %v", ns, deployment, err)
	}
}

// image is what web in ns runs now.
func (l *lab) image(t *testing.T, ns string) string {
	t.Helper()
	d, err := l.admin.AppsV1().Deployments(ns).Get(t.Context(), deployment, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// run runs ferry with the impersonating kubeconfig, locally (not in CI
// mode), and returns its output and exit code.
func (l *lab) run(t *testing.T, command string, env ...string) (string, int) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), l.ferry, command)
	cmd.Env = append([]string{
		"PATH=/usr/bin:/bin",
		"HOME=" + l.home,
		"FERRY_KUBECONFIG_DATA=" + string(l.kubeconfig),
		"FERRY_TARGETS=k8s:" + production + "/" + deployment + "?context=" + contextName,
		"FERRY_TIMEOUT=90s",
		"FERRY_RESTORE_TIMEOUT=90s",
	}, env...)
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return string(out), code
}

// must runs a command that has to exit with want.
func (l *lab) must(t *testing.T, want int, command string, env ...string) string {
	t.Helper()
	out, code := l.run(t, command, env...)
	t.Logf("ferry %s: exit %d\n%s", command, code, out)
	if code != want {
		t.Fatalf("ferry %s: exit %d, want %d\n%s", command, code, want, out)
	}
	if strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("ferry %s was refused something:\n%s", command, out)
	}
	return out
}

var stagingSource = "FERRY_SOURCE=k8s:" + staging + "/" + deployment + "?context=" + contextName

func (l *lab) promoteAndRollBack(t *testing.T) {
	l.must(t, 0, "plan", stagingSource)
	l.must(t, 0, "promote", stagingSource)
	after := l.image(t, production)
	if !strings.HasPrefix(after, "registry.example/shop/web@sha256:") {
		t.Fatalf("production runs %s after the promotion, want staging's digest", after)
	}
	l.must(t, 0, "status")
	l.must(t, 0, "rollback")
	l.waitRolledOut(t, production)
	if got := l.image(t, production); got != l.productionBefore {
		t.Fatalf("production runs %s after the rollback, want %s", got, l.productionBefore)
	}
}

// restore promotes an image whose pods crash: ferry must put production's
// pod template back, with the target Role's rights only. It runs as
// against an API server without streaming lists: client-go's informers
// start with a streaming watch where the server has them, as this one does
// (the promotion above), and with a list where it does not, which
// KUBE_FEATURE_WatchListClient=false (client-go's own switch) makes them do
// here.
func (l *lab) restore(t *testing.T) {
	img, err := images.Build(images.Spec{Seed: 7})
	if err != nil {
		t.Fatal(err)
	}
	ref := l.publicRegistry + "/shop/web-crash:3"
	if _, err := images.Push(t.Context(), ref, img); err != nil {
		t.Fatal(err)
	}
	before := l.image(t, production)
	out := l.must(t, 1, "promote", "FERRY_SOURCE="+ref, "KUBE_FEATURE_WatchListClient=false")
	if !strings.Contains(out, "CrashLoopBackOff") {
		t.Errorf("the promotion did not fail on the crash:\n%s", out)
	}
	if got := l.image(t, production); got != before {
		t.Fatalf("production runs %s after the restore, want %s", got, before)
	}
}

// kinds promotes to the StatefulSet and the DaemonSet roles.yaml names,
// then a crashing build to the StatefulSet, whose restore deletes the
// broken pod.
func (l *lab) kinds(t *testing.T) {
	ctx := t.Context()
	labels := map[string]string{"app": "db"}
	sts := &appsv1.StatefulSet{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: production},
		Spec: appsv1.StatefulSetSpec{
			Replicas: ptr(int32(2)),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "db", Image: "registry.example/db:1"}}}},
		},
	}
	if _, err := l.admin.AppsV1().StatefulSets(production).Create(ctx, sts, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	labels = map[string]string{"app": "agent"}
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "agent", Namespace: production},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "agent", Image: "registry.example/agent:1"}}}},
		},
	}
	if _, err := l.admin.AppsV1().DaemonSets(production).Create(ctx, ds, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	both := "FERRY_TARGETS=k8s:" + production + "/statefulset/db?context=" + contextName + " k8s:" + production + "/daemonset/agent?context=" + contextName
	good := "FERRY_SOURCE=registry.example/db@sha256:" + strings.Repeat("1", 64)
	// Wait (with ferry's own rules) for both to have rolled out; the
	// informers start with a list, as against API servers without
	// streaming lists (see restore).
	l.must(t, 0, "promote", good, both, "FERRY_ON_PROGRESSING=wait", "KUBE_FEATURE_WatchListClient=false")
	crash := "FERRY_SOURCE=registry.example/db-crash@sha256:" + strings.Repeat("2", 64)
	out := l.must(t, 1, "promote", crash, "FERRY_TARGETS=k8s:"+production+"/statefulset/db?context="+contextName)
	if !strings.Contains(out, "deleting pod db-1") {
		t.Errorf("the restore did not replace the broken pod:\n%s", out)
	}
	l.must(t, 0, "status", both)
}

// rollout promotes to the Argo Rollouts Rollout roles.yaml names, under
// Argo Rollouts' real controller, then a crashing build, whose restore
// aborts the rollout through its status subresource.
func (l *lab) rollout(t *testing.T) {
	ctx := t.Context()
	bin, err := testenv.BuildTool(ctx, "argo-rollouts")
	if err != nil {
		t.Fatalf("building Argo Rollouts' controller: %v", err)
	}
	a, err := l.cluster.StartArgoRollouts(ctx, bin)
	if err != nil {
		t.Fatalf("starting Argo Rollouts' controller: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("argo rollouts controller log, last lines:\n%s", a.Tail(40))
		}
		if err := a.Stop(); err != nil {
			t.Errorf("stopping Argo Rollouts' controller: %v", err)
		}
	})
	ro := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(`
apiVersion: argoproj.io/v1alpha1
kind: Rollout
metadata: {name: web, namespace: production}
spec:
  replicas: 1
  selector: {matchLabels: {app: web-rollout}}
  template:
    metadata: {labels: {app: web-rollout}}
    spec: {containers: [{name: web, image: "registry.example/web:1"}]}
  strategy: {canary: {}}
`), &ro.Object); err != nil {
		t.Fatal(err)
	}
	dc, err := dynamic.NewForConfig(l.cluster.AdminConfig())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dc.Resource(schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "rollouts"}).Namespace(production).Create(ctx, ro, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	tgt := "FERRY_TARGETS=k8s:" + production + "/rollout/web?context=" + contextName
	good := "FERRY_SOURCE=registry.example/web@sha256:" + strings.Repeat("3", 64)
	l.must(t, 0, "plan", good, tgt, "FERRY_ON_PROGRESSING=wait")
	// The informers start with a list, as against API servers without
	// streaming lists (see restore).
	l.must(t, 0, "promote", good, tgt, "FERRY_ON_PROGRESSING=wait", "KUBE_FEATURE_WatchListClient=false")
	crash := "FERRY_SOURCE=registry.example/web-crash@sha256:" + strings.Repeat("4", 64)
	if out := l.must(t, 1, "promote", crash, tgt); !strings.Contains(out, "aborted the rollout") {
		t.Errorf("the restore did not abort the rollout:\n%s", out)
	}
	l.must(t, 0, "status", tgt)
}

// pullSecret: a source with no running pod, whose tag ferry resolves in a
// private registry with the pull secret its service account names.
func (l *lab) pullSecret(t *testing.T) {
	ctx := t.Context()
	img, err := images.Build(images.Spec{Seed: 11})
	if err != nil {
		t.Fatal(err)
	}
	ref := l.privateRegistry + "/shop/web:4"
	auth := remote.WithAuth(&authn.Basic{Username: registryUser, Password: registryPassword})
	digest, err := images.Push(ctx, ref, img, auth)
	if err != nil {
		t.Fatal(err)
	}
	l.addPullSecret(t)
	l.apply(t, staging, ref, 0)
	l.waitRolledOut(t, staging)

	out := l.must(t, 0, "plan", stagingSource, "FERRY_RESOLVE_TAGS=true")
	if !strings.Contains(out, digest.String()) {
		t.Errorf("plan does not name %s, the digest of %s:\n%s", digest, ref, out)
	}
	if !strings.Contains(out, "credentials from the pull secrets of k8s:"+staging+"/"+deployment) {
		t.Errorf("plan does not say the pull secrets served %s:\n%s", l.privateRegistry, out)
	}
	if strings.Contains(out, registryPassword) {
		t.Errorf("the registry password is in ferry's output")
	}
}

// addPullSecret creates roles.yaml's pull secret in staging and names it
// in the default service account, as the Role's resourceNames expect.
func (l *lab) addPullSecret(t *testing.T) {
	t.Helper()
	ctx := t.Context()
	cfg, err := json.Marshal(map[string]any{"auths": map[string]any{l.privateRegistry: map[string]string{
		"auth": base64.StdEncoding.EncodeToString([]byte(registryUser + ":" + registryPassword)),
	}}})
	if err != nil {
		t.Fatal(err)
	}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: pullSecret, Namespace: staging},
		Type:       corev1.SecretTypeDockerConfigJson,
		Data:       map[string][]byte{corev1.DockerConfigJsonKey: cfg},
	}
	if _, err := l.admin.CoreV1().Secrets(staging).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	sa, err := l.admin.CoreV1().ServiceAccounts(staging).Get(ctx, "default", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	sa.ImagePullSecrets = []corev1.LocalObjectReference{{Name: pullSecret}}
	if _, err := l.admin.CoreV1().ServiceAccounts(staging).Update(ctx, sa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// auditEvent is the part of a kube-apiserver audit event (audit.k8s.io/v1)
// the test reads.
type auditEvent struct {
	Verb             string `json:"verb"`
	ImpersonatedUser *struct {
		Username string `json:"username"`
	} `json:"impersonatedUser"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Subresource string `json:"subresource"`
		Namespace   string `json:"namespace"`
		APIGroup    string `json:"apiGroup"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
}

// grant is one (namespace, API group, resource, verb) roles.yaml allows.
type grant struct{ ns, group, resource, verb string }

// audit reads what ferry asked the API server, from its audit log: no
// request was refused (ferry's informers retry a refused watch quietly, so
// exit codes alone would not show it), and every verb roles.yaml grants
// was used, so none is there for nothing.
func (l *lab) audit(t *testing.T, m manifests) {
	// Mutations waits until the log holds every answered request.
	if _, err := l.cluster.Mutations(t.Context()); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(l.cluster.Dir, "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	used := map[grant]bool{}
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("audit log: %v", err)
		}
		if e.ImpersonatedUser == nil || e.ImpersonatedUser.Username != "ferry-ci" || e.ObjectRef == nil || e.ResponseStatus == nil {
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		g := grant{e.ObjectRef.Namespace, e.ObjectRef.APIGroup, res, e.Verb}
		if e.ResponseStatus.Code == http.StatusForbidden {
			t.Errorf("ferry was refused %+v", g)
		}
		used[g] = true
	}
	for ns, role := range map[string]*rbacv1.Role{staging: m.source, production: m.target} {
		for _, rule := range role.Rules {
			for _, g := range grantsOf(ns, rule) {
				if !used[g] {
					t.Errorf("%s grants %+v, which ferry never used", role.Name, g)
				}
			}
		}
	}
}

func grantsOf(ns string, r rbacv1.PolicyRule) []grant {
	var out []grant
	for _, group := range r.APIGroups {
		for _, res := range r.Resources {
			for _, verb := range r.Verbs {
				out = append(out, grant{ns, group, res, verb})
			}
		}
	}
	return out
}

// refusedWithout: with the RoleBindings gone, the impersonated user may do
// nothing, so what passed above was the Roles' doing.
func (l *lab) refusedWithout(t *testing.T, m manifests) {
	ctx := t.Context()
	for _, ns := range []string{staging, production} {
		for _, name := range []string{m.source.Name, m.target.Name} {
			err := l.admin.RbacV1().RoleBindings(ns).Delete(ctx, name, metav1.DeleteOptions{})
			if err != nil && !strings.Contains(err.Error(), "not found") {
				t.Fatal(err)
			}
		}
	}
	// The API server's authorizer learns of the deletion from a watch:
	// give it a moment.
	var out string
	var code int
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		out, code = l.run(t, "status")
		return code != 0, nil
	})
	if err != nil || !strings.Contains(strings.ToLower(out), "forbidden") {
		t.Fatalf("ferry status without the RoleBinding: exit %d\n%s\nwant it refused (forbidden)", code, out)
	}
}
