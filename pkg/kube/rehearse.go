package kube

import (
	"context"
	"fmt"
	"strings"

	authorizationv1 "k8s.io/api/authorization/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// access is one call ferry makes: a verb on a resource of an API group
// (RESOURCE/SUBRESOURCE for a subresource), by name when name is set.
type access struct {
	verb, group, resource, name string
}

func (a access) String() string {
	res, sub, _ := strings.Cut(a.resource, "/")
	if a.group != "" {
		res += "." + a.group
	}
	if sub != "" {
		res += "/" + sub
	}
	if a.name != "" {
		res += " " + a.name
	}
	return a.verb + " " + res
}

// accessesOf are the calls a release, its lock, its verification and its
// restore make on a workload of kind ("" for a Deployment) named name. It only
// reads its arguments.
func accessesOf(kind, name string) []access {
	var out []access
	named := func(resource string) {
		for _, v := range []string{"get", "list", "watch", "patch"} {
			out = append(out, access{v, "apps", resource, name})
		}
	}
	switch kind {
	case KindStatefulSet:
		named("statefulsets")
		out = append(out, access{"delete", "", "pods", ""})
	case KindDaemonSet:
		named("daemonsets")
		out = append(out, access{"list", "apps", "controllerrevisions", ""}, access{"watch", "apps", "controllerrevisions", ""})
	case KindRollout:
		// A restore aborts the rollout through its status (see
		// putBack).
		for _, v := range []string{"get", "list", "watch", "patch"} {
			out = append(out, access{v, "argoproj.io", "rollouts", name})
		}
		out = append(out, access{"patch", "argoproj.io", "rollouts/status", name})
	default:
		named("deployments")
		out = append(out, access{"list", "apps", "replicasets", ""}, access{"watch", "apps", "replicasets", ""})
	}
	out = append(out, access{"list", "", "pods", ""}, access{"watch", "", "pods", ""})
	// The lock and record (see Lock).
	lease := LeaseNameFor(kind, name)
	return append(out, access{"get", "coordination.k8s.io", "leases", lease},
		access{"update", "coordination.k8s.io", "leases", lease}, access{"create", "coordination.k8s.io", "leases", ""})
}

// CheckAccess asks the API server with SelfSubjectAccessReviews whether
// ferry may make every call a release, its verification and its restore
// make (see promote.AccessChecker); a refusal is an input error that
// names each verb and resource, and the namespace.
func (t *Target) CheckAccess(ctx context.Context) error {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return err
	}
	var refused []string
	for _, a := range accessesOf(t.ref.Kind, t.ref.Name) {
		res, sub, _ := strings.Cut(a.resource, "/")
		r, err := cs.SelfSubjectAccessReviews().Create(ctx, &authorizationv1.SelfSubjectAccessReview{
			Spec: authorizationv1.SelfSubjectAccessReviewSpec{ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: t.ref.Namespace, Verb: a.verb, Group: a.group, Resource: res, Subresource: sub, Name: a.name,
			}},
		}, metav1.CreateOptions{})
		if err != nil {
			return fmt.Errorf("asking the API server whether ferry may %s: %w", a, err)
		}
		if !r.Status.Allowed {
			refused = append(refused, a.String())
		}
	}
	if len(refused) > 0 {
		return promote.Input(fmt.Errorf("ferry may not %s in namespace %s (SelfSubjectAccessReview); grant them to the identity ferry signs in as (see docs/rbac/roles.yaml)",
			strings.Join(refused, ", "), t.ref.Namespace))
	}
	return nil
}

// Rehearse sends the exact patch a release of img would send as a
// server-side dry run (see promote.Rehearser): admission webhooks and
// validation judge it while nothing is stored. A rejection is an input
// error carrying the API server's answer.
func (t *Target) Rehearse(ctx context.Context, s promote.Snapshot, img image.Image) error {
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return err
	}
	st, err := promote.DecodeState[snapshotState](s.State)
	if err != nil {
		return err
	}
	dry := metav1.PatchOptions{FieldManager: fieldManager, DryRun: []string{metav1.DryRunAll}}
	if st.ApplyAs != "" {
		// The same apply a release sends (see applyAsOwner).
		_, _, err = t.applyAsOwner(ctx, cs, st, st.Generation, imagesFor(st.slots(), runRef(img)), true)
	} else {
		_, err = t.patchWith(ctx, cs, t.releaseOps(st, img), dry)
	}
	switch {
	case err == nil:
		t.logf("dry run: the API server accepts the release (admission and validation ran, nothing was stored)")
		return nil
	case apierrors.IsForbidden(err), apierrors.IsInvalid(err), apierrors.IsBadRequest(err):
		return promote.Input(fmt.Errorf("the API server refuses the release in a dry run (nothing was changed): %w", err))
	}
	return fmt.Errorf("dry run of the release: %w", err)
}

var (
	_ promote.Rehearser     = (*Target)(nil)
	_ promote.AccessChecker = (*Target)(nil)
)
