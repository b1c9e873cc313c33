package kube

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// slot is one container a target changes: an app container or an init
// container, by its index in the pod template.
type slot struct {
	Init  bool   `json:"init,omitempty"`
	Index int    `json:"index"`
	Name  string `json:"name"`
	// From and Image are, for a target with a container mapping, the
	// source's container the slot takes its image from and that image
	// ("repo@sha256:..."); empty when the slot takes the run's image.
	From  string `json:"from,omitempty"`
	Image string `json:"image,omitempty"`
}

// ref is the image the slot is to run: its mapped image, else the run's.
func (s slot) ref(run string) string {
	if s.Image != "" {
		return s.Image
	}
	return run
}

// path is the JSON pointer to the container in a workload.
func (s slot) path() string {
	if s.Init {
		return fmt.Sprintf("/spec/template/spec/initContainers/%d", s.Index)
	}
	return fmt.Sprintf("/spec/template/spec/containers/%d", s.Index)
}

func (s slot) container(spec *corev1.PodSpec) *corev1.Container {
	list := spec.Containers
	if s.Init {
		list = spec.InitContainers
	}
	if s.Index < 0 || s.Index >= len(list) {
		return nil
	}
	return &list[s.Index]
}

// mapSlots gives each slot the image of the source's container m maps
// it to, from imgs (by source container name). A source container imgs
// lacks is an error: the pipeline resolves every one first. It only reads
// its arguments.
func mapSlots(slots []slot, m []promote.ContainerMap, imgs map[string]image.Image) ([]slot, error) {
	out := make([]slot, len(slots))
	for i, s := range slots {
		for _, p := range m {
			if p.Container != s.Name {
				continue
			}
			img, ok := imgs[p.From]
			if !ok {
				return nil, fmt.Errorf("no image was resolved for the source's container %q", p.From)
			}
			s.From, s.Image = p.From, img.Ref()
		}
		out[i] = s
	}
	return out, nil
}

// askedFor says what a release of run to slots asks for: run, or with a
// mapping each container's image ("app=repo@sha256:..., proxy=...").
func askedFor(slots []slot, run string) string {
	cs := make([]promote.ContainerImage, 0, len(slots))
	for _, s := range slots {
		if s.Image == "" {
			return run
		}
		cs = append(cs, promote.ContainerImage{Container: s.Name, Image: s.Image})
	}
	return promote.MappedImage(cs)
}

// upToDate reports whether spec runs what a release of run to slots asks
// for (never, for a zero run without a mapping). It only reads its
// arguments.
func upToDate(spec corev1.PodSpec, slots []slot, run string) bool {
	for _, s := range slots {
		c := s.container(&spec)
		if c == nil || s.ref(run) == "" || c.Image != s.ref(run) {
			return false
		}
	}
	return len(slots) > 0
}

// findSlots picks the containers names in spec, app containers first,
// then init containers; no names pick the only app container. what names
// the workload in errors ("deployment shop/web"). It only reads its
// arguments.
func findSlots(what string, spec corev1.PodSpec, names []string) ([]slot, error) {
	var all []string
	for _, c := range spec.Containers {
		all = append(all, c.Name)
	}
	for _, c := range spec.InitContainers {
		all = append(all, c.Name+" (init)")
	}
	if len(names) == 0 {
		switch len(spec.Containers) {
		case 1:
			return []slot{{Index: 0, Name: spec.Containers[0].Name}}, nil
		default:
			return nil, promote.Input(fmt.Errorf("%s has %d containers (%s): add ?container=NAME to the address, or ?container=NAME,NAME for several",
				what, len(spec.Containers), strings.Join(all, ", ")))
		}
	}
	var out []slot
	for _, n := range names {
		s, ok := lookup(spec, n)
		if !ok {
			return nil, promote.Input(fmt.Errorf("%s has no container %q (it has: %s)", what, n, strings.Join(all, ", ")))
		}
		out = append(out, s)
	}
	return out, nil
}

func lookup(spec corev1.PodSpec, name string) (slot, bool) {
	for i, c := range spec.Containers {
		if c.Name == name {
			return slot{Index: i, Name: name}, true
		}
	}
	for i, c := range spec.InitContainers {
		if c.Name == name {
			return slot{Init: true, Index: i, Name: name}, true
		}
	}
	return slot{}, false
}

// setImages points every slot of tmpl at its mapped image, or ref.
func setImages(tmpl *corev1.PodTemplateSpec, slots []slot, ref string) {
	for _, s := range slots {
		if c := s.container(&tmpl.Spec); c != nil {
			c.Image = s.ref(ref)
		}
	}
}

// imageOps test each slot's name and replace its image (its mapped
// image, or ref), in one patch.
func imageOps(slots []slot, ref string) []patchOp {
	var ops []patchOp
	for _, s := range slots {
		ops = append(ops, patchOp{Op: "test", Path: s.path() + "/name", Value: s.Name})
	}
	for _, s := range slots {
		ops = append(ops, patchOp{Op: "replace", Path: s.path() + "/image", Value: s.ref(ref)})
	}
	return ops
}

// seenImage is what the slots run: the image when they all run one, else
// each container's.
func seenImage(spec corev1.PodSpec, slots []slot) string {
	var parts []string
	same := true
	first := ""
	for i, s := range slots {
		img := ""
		if c := s.container(&spec); c != nil {
			img = c.Image
		}
		if i == 0 {
			first = img
		} else if img != first {
			same = false
		}
		parts = append(parts, s.Name+"="+img)
	}
	if same {
		return first
	}
	return strings.Join(parts, ", ")
}

// slotNames lists the slots' container names.
func slotNames(slots []slot) string {
	var names []string
	for _, s := range slots {
		names = append(names, s.Name)
	}
	return strings.Join(names, ", ")
}

// wanted is what a snapshot is taken for: the run's image, and for a
// target with a container mapping the source's images by container name;
// zero for status and rollback.
type wanted struct {
	img    image.Image
	mapped map[string]image.Image
}

// IsZero reports whether the snapshot is taken for no promotion.
func (w wanted) IsZero() bool { return w.img.IsZero() && w.mapped == nil }

// Mapping is the target's container mapping (see promote.Mapper).
func (t *Target) Mapping() []promote.ContainerMap { return address.SplitMapping(t.ref.Container) }

// SnapshotMapped is Snapshot for a promotion that gives each container
// of the mapping the image of its source container (see promote.Mapper);
// the state records each container's image.
func (t *Target) SnapshotMapped(ctx context.Context, imgs map[string]image.Image) (promote.Snapshot, error) {
	return t.snapshot(ctx, wanted{mapped: imgs})
}

// mapped gives slots the images of want's mapping, when it has one.
func (t *Target) mapped(slots []slot, want wanted) ([]slot, error) {
	if want.mapped == nil {
		return slots, nil
	}
	return mapSlots(slots, t.Mapping(), want.mapped)
}

// ResolveContainers returns the images the source's containers names
// run, pinned, from one read of the workload and its pods (see
// promote.ContainerSource).
func (s *Source) ResolveContainers(ctx context.Context, names []string) ([]image.Image, error) {
	imgs, err := s.resolve(ctx, names)
	if err != nil {
		return nil, fmt.Errorf("resolving containers %s of %s: %w", strings.Join(names, ", "), s.ref, err)
	}
	return imgs, nil
}

var (
	_ promote.Mapper          = (*Target)(nil)
	_ promote.ContainerSource = (*Source)(nil)
)
