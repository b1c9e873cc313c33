package kube

import (
	"context"
	"fmt"
	"sort"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Ref names containers of one workload in one kubeconfig context.
type Ref struct {
	// Address is how the user wrote it; it names the workload in logs
	// and errors.
	Address   string
	Context   string // "" = the kubeconfig's current context
	Namespace string
	Name      string
	// Container names the containers to change, separated by commas
	// (init containers too); "" = the only container.
	Container string
	// Kind is the workload's kind: "" or KindDeployment, KindStatefulSet,
	// KindDaemonSet.
	Kind string
}

func (r Ref) String() string { return r.Address }

// The workload kinds a Ref may name.
const (
	KindDeployment  = "Deployment"
	KindStatefulSet = "StatefulSet"
	KindDaemonSet   = "DaemonSet"
)

// getDeployment reads the Deployment and picks the first container r
// names.
func getDeployment(ctx context.Context, cs API, r Ref) (*appsv1.Deployment, int, error) {
	d, slots, err := getDeploymentSlots(ctx, cs, r)
	if err != nil {
		return nil, 0, err
	}
	return d, slots[0].Index, nil
}

// getDeploymentSlots reads the Deployment and picks the containers r
// names.
func getDeploymentSlots(ctx context.Context, cs API, r Ref) (*appsv1.Deployment, []slot, error) {
	w, slots, err := getWorkload(ctx, cs, nil, r)
	if err != nil {
		return nil, nil, err
	}
	d, _ := w.obj.(*appsv1.Deployment)
	return d, slots, nil
}

func contextName(c string) string {
	if c == "" {
		return "(current)"
	}
	return fmt.Sprintf("%q", c)
}

// replicaSetsOf lists the ReplicaSets d controls.
func replicaSetsOf(ctx context.Context, cs API, d *appsv1.Deployment) ([]*appsv1.ReplicaSet, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment selector: %w", err)
	}
	list, err := cs.ReplicaSets(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing replica sets: %w", err)
	}
	var out []*appsv1.ReplicaSet
	for i := range list.Items {
		if ownedBy(&list.Items[i], d.UID) {
			out = append(out, &list.Items[i])
		}
	}
	sort.Slice(out, func(i, j int) bool { return revisionOf(out[i]) < revisionOf(out[j]) })
	return out, nil
}

// podsOf lists the pods of rs.
func podsOf(ctx context.Context, cs API, d *appsv1.Deployment, rs *appsv1.ReplicaSet) ([]corev1.Pod, error) {
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		return nil, fmt.Errorf("deployment selector: %w", err)
	}
	list, err := cs.Pods(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: sel.String()})
	if err != nil {
		return nil, fmt.Errorf("listing pods: %w", err)
	}
	hash := rs.Labels[podTemplateHashLabel]
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Labels[podTemplateHashLabel] == hash && p.DeletionTimestamp == nil {
			out = append(out, p)
		}
	}
	return out, nil
}

func revisionOf(o metav1.Object) int64 {
	var n int64
	_, _ = fmt.Sscan(o.GetAnnotations()[revisionAnnotation], &n)
	return n
}
