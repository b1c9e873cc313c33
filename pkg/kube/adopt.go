package kube

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
		if st.Container >= len(st.Template.Spec.Containers) || c.Image == "" {
			return "", c, "", fmt.Errorf("the record names no release to look for")
		}
		asked := st.Template.DeepCopy()
		asked.Spec.Containers[st.Container].Image = c.Image
		ch.Asked = *asked
	}
	cs, err := t.clients.Client(ctx, t.ref.Context)
	if err != nil {
		return "", c, "", err
	}
	d, err := cs.Deployments(t.ref.Namespace).Get(ctx, t.ref.Name, metav1.GetOptions{})
	if err != nil {
		return "", c, "", fmt.Errorf("reading deployment: %w", err)
	}
	now := fmt.Sprintf("%s (revision %s)", describeImages(d.Spec.Template), d.Annotations[revisionAnnotation])
	found := adopt(d.UID == st.UID, d.Spec.Template, st, ch)
	if found == promote.FoundChange && ch.Left == nil {
		ch.Left, ch.Generation = d.Spec.Template.DeepCopy(), d.Generation
	}
	adopted, err := encodeChange(c.Image, ch)
	return found, adopted, now, err
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
