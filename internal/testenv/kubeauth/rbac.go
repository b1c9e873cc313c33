package kubeauth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/internal/testenv"
)

// FerryRules are the permissions ferry uses today, read off pkg/kube:
// Deployments get (source, target, restore), list and watch (rollout
// informers) and patch (release, restore); ReplicaSets and Pods list and
// watch (rollout evaluation, source digests); and, for pull secrets of a
// k8s: source, ServiceAccounts and Secrets get; and the Lease that locks a
// target and holds its promotion record: get, create, update. extra rules
// are appended.
func FerryRules(extra ...rbacv1.PolicyRule) []rbacv1.PolicyRule {
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{"apps"}, Resources: []string{"deployments"}, Verbs: []string{"get", "list", "watch", "patch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list", "watch"}},
		{APIGroups: []string{""}, Resources: []string{"serviceaccounts", "secrets"}, Verbs: []string{"get"}},
		// The Lease that locks a target and holds its promotion record.
		{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"get", "create", "update"}},
	}
	return append(rules, extra...)
}

// User is an RBAC subject for a user name.
func User(name string) rbacv1.Subject {
	return rbacv1.Subject{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}
}

// Grant creates (or replaces) a Role with rules in namespace and binds
// subject to it, as an administrator would for ferry. It returns the
// Role's name, which is derived from the subject.
func Grant(ctx context.Context, c *testenv.Cluster, namespace string, subject rbacv1.Subject, rules []rbacv1.PolicyRule) (string, error) {
	sum := sha256.Sum256([]byte(subject.Kind + "/" + subject.Name))
	name := "ferry-" + hex.EncodeToString(sum[:6])
	meta := metav1.ObjectMeta{Name: name, Namespace: namespace, Labels: map[string]string{"testenv.ferry.dev/grant": "true"}}
	role := &rbacv1.Role{ObjectMeta: meta, Rules: rules}
	binding := &rbacv1.RoleBinding{ObjectMeta: meta, Subjects: []rbacv1.Subject{subject},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: name}}
	roles := c.Admin.RbacV1().Roles(namespace)
	if _, err := roles.Create(ctx, role, metav1.CreateOptions{}); apierrors.IsAlreadyExists(err) {
		if _, err := roles.Update(ctx, role, metav1.UpdateOptions{}); err != nil {
			return "", fmt.Errorf("granting %s in %s: %w", subject.Name, namespace, err)
		}
	} else if err != nil {
		return "", fmt.Errorf("granting %s in %s: %w", subject.Name, namespace, err)
	}
	_, err := c.Admin.RbacV1().RoleBindings(namespace).Create(ctx, binding, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("granting %s in %s: %w", subject.Name, namespace, err)
	}
	return name, nil
}
