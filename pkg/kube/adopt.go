package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Adopt places what the Deployment runs now against a promotion another
// process left (see promote.Recoverer): the snapshot's pod template, the
// one the release asked for, or another. A release whose answer the dead
// run never recorded is rebuilt from the snapshot and c.Image, exactly as
// Release builds it, so that Restore can tell it landed.
func (t *Target) Adopt(ctx context.Context, s promote.Snapshot, c promote.Change) (promote.Found, promote.Change, string, error) {
	st, err := promote.DecodeState[snapshotState](s.State)
	if err != nil {
		return "", c, "", err
	}
	ch, err := promote.DecodeState[changeState](c.State)
	if err != nil {
		return "", c, "", err
	}
	if len(ch.Asked.Spec.Containers) == 0 {
		if (c.Image == "" && !st.mapped()) || !slotsExist(st) {
			return "", c, "", fmt.Errorf("the record names no release to look for")
		}
		ch.Asked = st.asked(c.Image)
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return "", c, "", err
	}
	w, err := readWorkload(ctx, cs, kindOf(t.ref), t.ref.Namespace, t.ref.Name)
	if err != nil {
		return "", c, "", err
	}
	now := fmt.Sprintf("%s (revision %s)", describeImages(w.template), w.revision)
	found := adopt(w.uid == st.UID, w.template, st, ch)
	if found == promote.FoundChange && ch.Left == nil {
		ch.Left, ch.Generation = w.template.DeepCopy(), w.generation
	}
	adopted, err := encodeChange(c.Image, ch)
	return found, adopted, now, err
}

// slotsExist reports whether every container st promoted is in its
// template.
func slotsExist(st snapshotState) bool {
	for _, s := range st.slots() {
		if s.container(&st.Template.Spec) == nil {
			return false
		}
	}
	return true
}

// adopt is Adopt's decision. It only reads its arguments.
func adopt(sameUID bool, now corev1.PodTemplateSpec, st snapshotState, ch changeState) promote.Found {
	switch {
	case !sameUID:
		return promote.FoundOther
	case equality.Semantic.DeepEqual(now, st.Template):
		return promote.FoundSnapshot
	case equality.Semantic.DeepEqual(now, ch.Asked), ch.Left != nil && equality.Semantic.DeepEqual(now, *ch.Left):
		return promote.FoundChange
	}
	return promote.FoundOther
}
