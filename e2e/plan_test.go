package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// plan sends each target's exact patch as a server-side dry run, so an
// admission webhook that rejects the image is found with nothing written;
// promote does the same before its first write, so the other target is
// left alone too.
func TestPlanCatchesAWebhookRejection(t *testing.T) {
	t.Parallel()
	guarded := namespace(t, production)
	other := namespace(t, production)
	create(t, production, guarded, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	create(t, production, other, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	wh, err := testenv.StartImageWebhook(t.Context(), production, "deny-"+guarded, guarded, "unvetted")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { wh.Close(production, "deny-"+guarded) })

	e := baseEnv().with(
		"FERRY_SOURCE", "registry.test/unvetted@"+fakeDigest(t.Name()),
		"FERRY_TARGETS", target(other, "web", "production")+" "+target(guarded, "web", "production"),
		"FERRY_OUTPUT", "json",
	)
	for _, cmd := range []string{"plan", "promote"} {
		r := ferry(t, e, cmd)
		if r.code != 2 || !strings.Contains(r.stdout+r.stderr, "not on the allow-list") || !strings.Contains(r.stdout+r.stderr, "dry run") {
			t.Fatalf("%s: want exit 2 with the webhook's refusal\n%s", cmd, r)
		}
		rep := r.report(t)
		if rep.Targets[1].Status != promote.StatusFailed || !strings.Contains(rep.Targets[1].Error, "allow-list") {
			t.Errorf("%s: the guarded target's report %+v does not carry the refusal", cmd, rep.Targets[1])
		}
	}
	for _, ns := range []string{guarded, other} {
		if m := mutations(t, production, ns); len(m) != 0 {
			t.Errorf("%s: refused plan and promote wrote: %v", ns, m)
		}
	}
	var dry int
	for _, s := range wh.Seen() {
		if !s.DryRun || s.Allowed || s.Namespace != guarded || s.Name != "web" {
			t.Errorf("webhook saw %+v: want only refused dry runs of %s/web", s, guarded)
		}
		dry++
	}
	if dry != 2 {
		t.Errorf("webhook judged %d dry runs, want 2 (plan and promote)", dry)
	}
	dryRuns, err := production.DryRuns(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var inOther int
	for _, d := range dryRuns {
		if d.Namespace == other && d.Verb == "patch" && d.Resource == "deployments" {
			inOther++
		}
	}
	if inOther != 2 {
		t.Errorf("%d dry-run patches of the unguarded target, want 2", inOther)
	}
}

// With RBAC's say: an identity that may read but not patch is told so per
// target, verb, resource and namespace, with nothing written.
func TestPlanCatchesAForbiddenVerb(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	ctx := context.Background()
	role := &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-readonly", Namespace: pns},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch"}},
			{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
		},
	}
	if _, err := production.Admin.RbacV1().Roles(pns).Create(ctx, role, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	rb := &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "ferry-readonly", Namespace: pns},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "ferry-readonly"},
		Subjects:   []rbacv1.Subject{{APIGroup: "rbac.authorization.k8s.io", Kind: "Group", Name: "ferry-readers"}},
	}
	if _, err := production.Admin.RbacV1().RoleBindings(pns).Create(ctx, rb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	kc := filepath.Join(t.TempDir(), "kubeconfig")
	data := testenv.Kubeconfig(map[string]*testenv.Cluster{"production": production}, testenv.Impersonate("ferry-reader", "ferry-readers"))
	if err := os.WriteFile(kc, data, 0o600); err != nil {
		t.Fatal(err)
	}
	e := env{
		"KUBECONFIG":    kc,
		"FERRY_SOURCE":  "registry.test/shop@" + fakeDigest(t.Name()),
		"FERRY_TARGETS": target(pns, "web", "production"),
	}
	for _, cmd := range []string{"plan", "promote"} {
		r := ferry(t, e, cmd)
		out := r.stdout + r.stderr
		if r.code != 2 || !strings.Contains(out, "ferry may not patch deployments.apps web, ") || !strings.Contains(out, "in namespace "+pns) ||
			!strings.Contains(out, "create leases.coordination.k8s.io") {
			t.Fatalf("%s: want exit 2 naming the patch and the lease verbs refused in %s\n%s", cmd, pns, r)
		}
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("refused plan and promote wrote: %v", m)
	}
	if w := leaseWrites(t, production, pns); len(w) != 0 {
		t.Fatalf("refused promote tried to take a lock: %v", w)
	}
}
