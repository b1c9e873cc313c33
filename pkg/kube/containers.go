package kube

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// slot is one container a target changes: an app container or an init
// container, by its index in the pod template.
type slot struct {
	Init  bool   `json:"init,omitempty"`
	Index int    `json:"index"`
	Name  string `json:"name"`
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

// splitContainers reads Ref.Container: names separated by commas.
func splitContainers(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
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

// setImages points every slot of tmpl at ref.
func setImages(tmpl *corev1.PodTemplateSpec, slots []slot, ref string) {
	for _, s := range slots {
		if c := s.container(&tmpl.Spec); c != nil {
			c.Image = ref
		}
	}
}

// imageOps test each slot's name and replace its image, in one patch.
func imageOps(slots []slot, ref string) []patchOp {
	var ops []patchOp
	for _, s := range slots {
		ops = append(ops, patchOp{Op: "test", Path: s.path() + "/name", Value: s.Name})
	}
	for _, s := range slots {
		ops = append(ops, patchOp{Op: "replace", Path: s.path() + "/image", Value: ref})
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
