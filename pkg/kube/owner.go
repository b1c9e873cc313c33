package kube

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Patch (OnOwned) patches a workload that a GitOps tool or Helm owns,
// knowing that the owner may put its own image back.
const Patch = "patch"

// owner is the tool that manages a workload, as its labels, annotations
// and managed fields show.
type owner struct {
	// Tool is "Helm", "Argo CD" or "Flux".
	Tool string
	// Name is the release, application or Kustomization/HelmRelease.
	Name string
	// Does says what the tool does to a patched image.
	Does string
	// WayOut says how to promote through the tool.
	WayOut string
}

func (o owner) String() string { return o.Tool + " (" + o.Name + ")" }

// Labels and annotations the tools put on what they manage, as their
// documentation gives them.
const (
	helmManagedBy      = "app.kubernetes.io/managed-by"
	helmReleaseName    = "meta.helm.sh/release-name"
	helmReleaseNS      = "meta.helm.sh/release-namespace"
	argoTrackingID     = "argocd.argoproj.io/tracking-id"
	argoInstance       = "app.kubernetes.io/instance"
	fluxKustomization  = "kustomize.toolkit.fluxcd.io/name"
	fluxKustomizeNS    = "kustomize.toolkit.fluxcd.io/namespace"
	fluxHelmRelease    = "helm.toolkit.fluxcd.io/name"
	fluxHelmReleaseNS  = "helm.toolkit.fluxcd.io/namespace"
	helmFieldManager   = "helm"
	argoFieldManager   = "argocd-controller"
	fluxKustomizeField = "kustomize-controller"
)

// ownerOf finds the tool that manages an object from its metadata, or nil.
// Flux comes first (its helm-controller leaves Helm's marks too), then Argo
// CD's tracking annotation (it renders Helm charts, marks included), then
// Helm (labels, annotations, or a Helm 4 server-side apply's managed
// fields), then Argo CD's older tracking label, which Helm charts also set.
// It only reads its argument.
func ownerOf(m metav1.ObjectMeta) *owner {
	l, a := m.Labels, m.Annotations
	if n := l[fluxKustomization]; n != "" {
		return &owner{Tool: "Flux", Name: "Kustomization " + qualified(l[fluxKustomizeNS], n),
			Does:   "its next reconciliation (every spec.interval) applies the image from Git again and undoes the promotion",
			WayOut: "change the image in Git (or let Flux image automation do it), or suspend the Kustomization (flux suspend kustomization) first"}
	}
	if n := l[fluxHelmRelease]; n != "" {
		return &owner{Tool: "Flux", Name: "HelmRelease " + qualified(l[fluxHelmReleaseNS], n),
			Does:   "its next reconciliation upgrades the release with the chart's values and undoes the promotion",
			WayOut: "change the image in the HelmRelease's values in Git, or suspend it (flux suspend helmrelease) first"}
	}
	if id := a[argoTrackingID]; id != "" {
		return argoOwner(id)
	}
	if rel := a[helmReleaseName]; rel != "" || l[helmManagedBy] == "Helm" || appliedBy(m, helmFieldManager) {
		name := qualified(a[helmReleaseNS], rel)
		if rel == "" {
			name = "release " + orUnknown(l[argoInstance])
		} else {
			name = "release " + name
		}
		does := "the next helm upgrade puts the chart's image back"
		if appliedBy(m, helmFieldManager) {
			does = "Helm 4 applied it server-side: the next helm upgrade fails on a field-manager conflict over the image (or, with --force-conflicts, puts the chart's image back)"
		}
		return &owner{Tool: "Helm", Name: name, Does: does,
			WayOut: "promote with helm upgrade (--set the image to the digest)"}
	}
	if appliedBy(m, argoFieldManager) || l[argoInstance] != "" {
		return argoOwner(l[argoInstance])
	}
	return nil
}

func argoOwner(app string) *owner {
	return &owner{Tool: "Argo CD", Name: "application " + orUnknown(app),
		Does:   "with self-heal on it reverts the patch within minutes, and ferry's \"promoted\" becomes untrue; without it, the application turns OutOfSync and its next sync reverts it",
		WayOut: "change the image in the application's source (Git, or argocd app set --kustomize-image / --helm-set)"}
}

// appliedBy reports whether manager holds fields of m by server-side apply.
func appliedBy(m metav1.ObjectMeta, manager string) bool {
	for _, f := range m.ManagedFields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply {
			return true
		}
	}
	return false
}

func qualified(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

func orUnknown(s string) string {
	if s == "" {
		return "(unnamed)"
	}
	return s
}

// checkOwner refuses (an input error) a workload another tool manages,
// unless OnOwned is Patch (then it logs what the owner will do) or
// ApplyAsOwner (then it returns the field manager to write slots as, or
// refuses what that cannot write; see planApplyAsOwner).
func (t *Target) checkOwner(what string, m metav1.ObjectMeta, slots []slot) (applyAs string, err error) {
	o := ownerOf(m)
	if t.opts.OnOwned == ApplyAsOwner {
		if applyAs, err = planApplyAsOwner(t.ref.Kind, what, o, m, slots); err == nil {
			t.logf("managed by %s; writing the image as its field manager %s (FERRY_ON_OWNED=apply-as-owner): the next helm upgrade applies without a conflict and puts the chart's image back", o, applyAs)
		}
		return applyAs, err
	}
	if o == nil {
		return "", nil
	}
	if t.opts.OnOwned == Patch {
		t.logf("managed by %s; patching anyway (FERRY_ON_OWNED=patch): %s", o, o.Does)
		return "", nil
	}
	more := ""
	if appliedBy(m, helmFieldManager) {
		more = "; or FERRY_ON_OWNED=apply-as-owner to write the image as Helm's own server-side apply, which the next helm upgrade applies over without a conflict (putting the chart's image back)"
	}
	return "", promote.Input(fmt.Errorf("%s is managed by %s: %s. Promote through it instead: %s; or set FERRY_ON_OWNED=patch to patch it anyway, knowing that %s may undo the promotion after ferry reported it promoted%s",
		what, o, o.Does, o.WayOut, o.Tool, more))
}
