package kube

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// ApplyAsOwner (OnOwned) writes the image of a workload that Helm 4
// applied server-side as Helm's own apply would: as Helm's field manager,
// an apply of exactly the fields that manager owns, with only the images
// changed. Helm keeps owning every field it owned, the image included, so
// the next helm upgrade applies without a conflict (and puts the chart's
// image back). Any other workload is refused.
const ApplyAsOwner = "apply-as-owner"

// ownerApplyTries bounds the re-reads when the object moved on (a status
// update) between ferry's read and its apply.
const ownerApplyTries = 5

// planApplyAsOwner decides whether ferry may write the images of slots as
// Helm 4's field manager, and returns that manager. o is the owner ownerOf
// found (nil: none); kind the workload's kind; m its metadata; what names
// it in errors. A Rollout is refused: Argo Rollouts' controller, not Helm,
// decides which template runs, and ferry writes it through its own calls.
// It may when Helm owns the workload, Helm's manager holds fields by
// server-side apply, and that apply owns the image of every container
// promoted with no other manager sharing it (a changed value would
// conflict with that manager, for ferry's apply and Helm's next one
// alike). It only reads its arguments.
func planApplyAsOwner(kind, what string, o *owner, m metav1.ObjectMeta, slots []slot) (string, error) {
	fix := "set FERRY_ON_OWNED=refuse and promote through the owner, or FERRY_ON_OWNED=patch to patch it anyway"
	if kind == KindRollout {
		return "", promote.Input(fmt.Errorf("%s is an Argo Rollout: FERRY_ON_OWNED=apply-as-owner writes only Deployments, StatefulSets and DaemonSets; %s", what, fix))
	}
	if o == nil {
		return "", promote.Input(fmt.Errorf("%s is not managed by Helm: FERRY_ON_OWNED=apply-as-owner only writes images that a Helm 4 server-side apply owns; unset FERRY_ON_OWNED (the default, refuse, patches workloads no tool manages)", what))
	}
	if o.Tool != "Helm" {
		return "", promote.Input(fmt.Errorf("%s is managed by %s, not by a Helm 4 server-side apply: FERRY_ON_OWNED=apply-as-owner only writes images that Helm owns; %s", what, o, fix))
	}
	var applied *metav1.ManagedFieldsEntry
	for i, f := range m.ManagedFields {
		if f.Manager == helmFieldManager && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" {
			applied = &m.ManagedFields[i]
		}
	}
	if applied == nil {
		return "", promote.Input(fmt.Errorf("%s is managed by %s without server-side apply (no fields applied by field manager %q: Helm 3, or helm install --server-side=false): FERRY_ON_OWNED=apply-as-owner only writes images that a Helm 4 server-side apply owns; %s",
			what, o, helmFieldManager, fix))
	}
	for _, s := range slots {
		path := imagePath(s)
		var others []string
		for _, f := range m.ManagedFields {
			if f.Subresource != "" || (f.Manager == helmFieldManager && f.Operation == metav1.ManagedFieldsOperationApply) || !ownsPath(f.FieldsV1, path) {
				continue
			}
			others = append(others, fmt.Sprintf("%s (%s)", f.Manager, f.Operation))
		}
		sort.Strings(others)
		owned := ownsPath(applied.FieldsV1, path)
		switch {
		case owned && len(others) == 0:
			continue
		case owned:
			return "", promote.Input(fmt.Errorf("%s: the image of container %s is managed by %s as well as by Helm's apply, so writing a new image as Helm would conflict with %s, as Helm's next upgrade will; run helm upgrade --force-conflicts once to make Helm its only manager, or %s",
				what, s.Name, strings.Join(others, ", "), strings.Join(others, ", "), fix))
		case len(others) > 0:
			return "", promote.Input(fmt.Errorf("%s: Helm's apply no longer manages the image of container %s (%s took it over, so the next helm upgrade conflicts already); run helm upgrade --force-conflicts once to give it back to Helm, or %s",
				what, s.Name, strings.Join(others, ", "), fix))
		default:
			return "", promote.Input(fmt.Errorf("%s: Helm's apply does not manage the image of container %s (the chart does not set it); %s", what, s.Name, fix))
		}
	}
	return helmFieldManager, nil
}

// imagePath is the path of a container's image in a workload's managed
// fields (fieldsV1 keys).
func imagePath(s slot) []string {
	list := "f:containers"
	if s.Init {
		list = "f:initContainers"
	}
	key, _ := json.Marshal(map[string]string{"name": s.Name})
	return []string{"f:spec", "f:template", "f:spec", list, "k:" + string(key), "f:image"}
}

// ownsPath reports whether the fieldsV1 set f holds path.
func ownsPath(f *metav1.FieldsV1, path []string) bool {
	if f == nil {
		return false
	}
	var node map[string]json.RawMessage
	if json.Unmarshal(f.GetRawBytes(), &node) != nil {
		return false
	}
	for i, p := range path {
		raw, ok := node[p]
		if !ok {
			return false
		}
		if i == len(path)-1 {
			return true
		}
		node = nil
		if json.Unmarshal(raw, &node) != nil {
			return false
		}
	}
	return false
}

// ownedApply is the body of manager's apply to w: the fields manager
// owns by apply, at their current values, with the images of the
// containers imgs names changed, and w's resourceVersion as a
// precondition. It is what client-go's ExtractDeployment (and its
// StatefulSet and DaemonSet twins) give, which the tests check; those are
// not used here because their package links every API group of
// Kubernetes into ferry (13.6 MB). It only reads its arguments.
func ownedApply(w *workload, manager string, imgs map[slot]string) ([]byte, error) {
	m := w.meta
	var set map[string]any
	for _, f := range m.ManagedFields {
		if f.Manager == manager && f.Operation == metav1.ManagedFieldsOperationApply && f.Subresource == "" {
			if err := json.Unmarshal(f.FieldsV1.GetRawBytes(), &set); err != nil {
				return nil, fmt.Errorf("reading the fields %s owns: %w", manager, err)
			}
		}
	}
	if set == nil {
		return nil, fmt.Errorf("field manager %s owns no fields by apply", manager)
	}
	u, err := runtime.DefaultUnstructuredConverter.ToUnstructured(w.obj)
	if err != nil {
		return nil, err
	}
	picked, err := pickOwned(u, set)
	if err != nil {
		return nil, fmt.Errorf("reading the fields %s owns: %w", manager, err)
	}
	body, _ := picked.(map[string]any)
	body["apiVersion"], body["kind"] = appsv1.SchemeGroupVersion.String(), w.kind
	meta, _ := body["metadata"].(map[string]any)
	if meta == nil {
		meta = map[string]any{}
		body["metadata"] = meta
	}
	meta["name"], meta["namespace"], meta["resourceVersion"] = m.Name, m.Namespace, m.ResourceVersion
	for s, img := range imgs {
		c := ownedContainer(body, s)
		if c == nil {
			return nil, fmt.Errorf("field manager %s does not own the image of container %s", manager, s.Name)
		}
		c["image"] = img
	}
	return json.Marshal(body)
}

// pickOwned is the part of v (an object as JSON decodes it) that the
// fieldsV1 set holds: "f:NAME" a field of a map, "k:{KEYS}" the item of a
// list whose key fields are KEYS, "v:VALUE" the item VALUE of a set, "i:N"
// the Nth item, "." the node itself; an empty set all of v. It only reads
// its arguments.
func pickOwned(v any, set map[string]any) (any, error) {
	if len(set) == 0 {
		return v, nil
	}
	switch v := v.(type) {
	case map[string]any:
		return pickFields(v, set)
	case []any:
		return pickItems(v, set)
	}
	return v, nil
}

// pickFields is pickOwned for a map.
func pickFields(v, set map[string]any) (map[string]any, error) {
	out := map[string]any{}
	for k, sub := range set {
		if k == "." {
			continue
		}
		name, ok := strings.CutPrefix(k, "f:")
		if !ok {
			return nil, fmt.Errorf("unexpected key %q in the fields of a map", k)
		}
		fv, ok := v[name]
		if !ok {
			continue
		}
		p, err := pickOwned(fv, asSet(sub))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[name] = p
	}
	return out, nil
}

// pickItems is pickOwned for a list: the items set names, in the list's
// order, each with its key fields.
func pickItems(v []any, set map[string]any) ([]any, error) {
	out := []any{}
	for i, item := range v {
		for k, sub := range set {
			keys, ok, err := listKeyMatches(k, i, item)
			if err != nil {
				return nil, err
			}
			if !ok {
				continue
			}
			p, err := pickOwned(item, asSet(sub))
			if err != nil {
				return nil, err
			}
			if pm, ok := p.(map[string]any); ok {
				maps.Copy(pm, keys)
			}
			out = append(out, p)
			break
		}
	}
	return out, nil
}

// listKeyMatches reports whether the fieldsV1 key k names item, the
// index-th of its list, and returns the key fields of a "k:" key.
func listKeyMatches(k string, index int, item any) (map[string]any, bool, error) {
	switch {
	case k == ".":
		return nil, false, nil
	case strings.HasPrefix(k, "k:"):
		var keys map[string]any
		if err := json.Unmarshal([]byte(k[2:]), &keys); err != nil {
			return nil, false, fmt.Errorf("list key %q: %w", k, err)
		}
		m, _ := item.(map[string]any)
		for kk, kv := range keys {
			if !sameJSON(m[kk], kv) {
				return nil, false, nil
			}
		}
		return keys, true, nil
	case strings.HasPrefix(k, "v:"):
		var want any
		if err := json.Unmarshal([]byte(k[2:]), &want); err != nil {
			return nil, false, fmt.Errorf("set value %q: %w", k, err)
		}
		return nil, sameJSON(item, want), nil
	case strings.HasPrefix(k, "i:"):
		return nil, k[2:] == strconv.Itoa(index), nil
	}
	return nil, false, fmt.Errorf("unexpected key %q in the fields of a list", k)
}

func sameJSON(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

func asSet(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

// ownedContainer is the container s in an apply body, when the body sets
// its image.
func ownedContainer(body map[string]any, s slot) map[string]any {
	node := any(body)
	for _, f := range []string{"spec", "template", "spec"} {
		m, _ := node.(map[string]any)
		node = m[f]
	}
	spec, _ := node.(map[string]any)
	list := "containers"
	if s.Init {
		list = "initContainers"
	}
	items, _ := spec[list].([]any)
	for _, it := range items {
		if c, _ := it.(map[string]any); c != nil && c["name"] == s.Name {
			if _, ok := c["image"]; ok {
				return c
			}
		}
	}
	return nil
}

// imagesOf are the images tmpl runs in slots.
func imagesOf(tmpl corev1.PodTemplateSpec, slots []slot) map[slot]string {
	out := map[slot]string{}
	for _, s := range slots {
		if c := s.container(&tmpl.Spec); c != nil {
			out[s] = c.Image
		}
	}
	return out
}

// imagesFor maps every slot to the image a release of run gives it: the
// image a container mapping names, else run.
func imagesFor(slots []slot, run string) map[slot]string {
	out := map[slot]string{}
	for _, s := range slots {
		out[s] = s.ref(run)
	}
	return out
}

// applyAsOwner writes imgs into the workload t names as st.ApplyAs's
// server-side apply (see ownedApply), when the workload is still the one
// st saw at generation gen: a status update in between is read again, a
// changed generation is left alone. dryRun sends it as a server-side dry
// run. It returns the workload's generation and pod template after.
func (t *Target) applyAsOwner(ctx context.Context, cs API, st snapshotState, gen int64, imgs map[slot]string, dryRun bool) (int64, corev1.PodTemplateSpec, error) {
	force := false
	opts := metav1.PatchOptions{FieldManager: st.ApplyAs, Force: &force}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	what := strings.ToLower(kindName(st.Kind))
	k, ns, name := kindOf(t.ref), t.ref.Namespace, t.ref.Name
	for try := 1; ; try++ {
		w, err := readWorkload(ctx, cs, k, ns, name)
		if err != nil {
			return 0, corev1.PodTemplateSpec{}, err
		}
		if w.uid != st.UID || w.generation != gen {
			return 0, corev1.PodTemplateSpec{}, fmt.Errorf("the %s changed since ferry read it (generation %d, was %d; someone else is rolling out?); nothing was changed", what, w.generation, gen)
		}
		body, err := ownedApply(w, st.ApplyAs, imgs)
		if err != nil {
			return 0, corev1.PodTemplateSpec{}, err
		}
		after, err := patchWorkload(ctx, cs, k, ns, name, types.ApplyPatchType, body, opts)
		if err == nil {
			return after.generation, after.template, nil
		}
		if fieldConflict(err) {
			return 0, corev1.PodTemplateSpec{}, fmt.Errorf("applying as field manager %s conflicts with another manager; nothing was changed (run helm upgrade --force-conflicts once, or set FERRY_ON_OWNED=patch): %w", st.ApplyAs, err)
		}
		if !apierrors.IsConflict(err) || try == ownerApplyTries {
			return 0, corev1.PodTemplateSpec{}, err
		}
	}
}

// fieldConflict reports whether err is server-side apply's conflict with
// another field manager (rather than a stale resourceVersion).
func fieldConflict(err error) bool {
	var st apierrors.APIStatus
	if !errors.As(err, &st) || st.Status().Details == nil {
		return false
	}
	for _, c := range st.Status().Details.Causes {
		if c.Type == metav1.CauseTypeFieldManagerConflict {
			return true
		}
	}
	return false
}

func kindName(kind string) string {
	if kind == "" {
		return KindDeployment
	}
	return kind
}

// restoreAsOwner puts the snapshot's images back the way a release under
// ApplyAsOwner changed them, so Helm's manager keeps owning them; gen is
// the generation ferry's release left. It returns the generation after.
func (t *Target) restoreAsOwner(ctx context.Context, cs API, st snapshotState, gen int64) (int64, error) {
	after, _, err := t.applyAsOwner(ctx, cs, st, gen, imagesOf(st.Template, st.slots()), false)
	return after, err
}
