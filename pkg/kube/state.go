package kube

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
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
	// Container is the index of the promoted container.
	Container int `json:"container"`
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
