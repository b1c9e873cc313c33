package kube

import (
	"encoding/json"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferry-dev/ferry/pkg/image"
)

// snapshotState is a Deployment's rollback point, kept in
// promote.Snapshot.State.
type snapshotState struct {
	UID        types.UID `json:"uid"`
	Generation int64     `json:"generation"`
	// Template is the whole pod template, which a restore puts back
	// (what `kubectl rollout undo` does, and it works without history).
	Template corev1.PodTemplateSpec `json:"template"`
	// HasAnnotations and ChangeCause say how to put the change-cause
	// annotation back.
	HasAnnotations bool    `json:"has_annotations,omitempty"`
	ChangeCause    *string `json:"change_cause,omitempty"`
	Paused         bool    `json:"paused,omitempty"`
	// Container is the index of the promoted container (the first app
	// container Slots names, when it names several).
	Container int `json:"container"`
	// Slots are the promoted containers, init containers included; empty
	// in a state written before ferry changed several (then Container).
	Slots []slot `json:"containers,omitempty"`
	// Kind is the workload's kind ("" for a Deployment); Strategy its
	// spec.updateStrategy (StatefulSet: partition included), put back
	// exactly by a restore.
	Kind     string          `json:"kind,omitempty"`
	Strategy json.RawMessage `json:"update_strategy,omitempty"`
	// ApplyAs is the field manager whose server-side apply writes the
	// images, release and restore alike (FERRY_ON_OWNED=apply-as-owner);
	// "" for ferry's JSON patches.
	ApplyAs string `json:"apply_as,omitempty"`
	// ReplicaSet is the name of the current ReplicaSet.
	ReplicaSet string `json:"replica_set,omitempty"`
}

// changeState is what a release or a rollback did to a Deployment, kept in
// promote.Change.State.
type changeState struct {
	// Asked is the pod template the patch asked for.
	Asked corev1.PodTemplateSpec `json:"asked"`
	// Left is the template the patch left, and Generation the generation,
	// when its answer arrived; nil when it did not (then the patch may or
	// may not have landed).
	Left       *corev1.PodTemplateSpec `json:"left,omitempty"`
	Generation int64                   `json:"generation,omitempty"`
}

// slots are the containers st promoted.
func (st snapshotState) slots() []slot {
	if len(st.Slots) > 0 {
		return st.Slots
	}
	s := slot{Index: st.Container}
	if c := s.container(&st.Template.Spec); c != nil {
		s.Name = c.Name
	}
	return []slot{s}
}

// mapped reports whether st's containers take mapped images (see
// slot.Image): a release then needs no image of the run.
func (st snapshotState) mapped() bool {
	for _, s := range st.slots() {
		if s.Image == "" {
			return false
		}
	}
	return true
}

// runRef is img's reference, "" for a zero image (a release whose
// containers all take mapped images).
func runRef(img image.Image) string {
	if img.IsZero() {
		return ""
	}
	return img.Ref()
}

// newState is the snapshot state of a template and the slots promoted.
func newState(tmpl corev1.PodTemplateSpec, slots []slot) snapshotState {
	st := snapshotState{Template: *tmpl.DeepCopy(), Slots: slots}
	for _, s := range slots {
		if !s.Init {
			st.Container = s.Index
			break
		}
	}
	return st
}

// asked is the template a release of ref leaves.
func (st snapshotState) asked(ref string) corev1.PodTemplateSpec {
	tmpl := st.Template.DeepCopy()
	setImages(tmpl, st.slots(), ref)
	return *tmpl
}
