package kube

import (
	"context"
	"net/http"

	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/apimachinery/pkg/types"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/gentype"
	"k8s.io/client-go/rest"
)

// API is the part of the Kubernetes API that ferry calls: Deployments,
// StatefulSets and DaemonSets, and the ReplicaSets, ControllerRevisions
// and Pods that belong to them. The method sets are those
// of client-go's typed clients, so a fake clientset's
// AppsV1().Deployments(ns) and friends satisfy them in tests.
//
// ferry does not use client-go's kubernetes.Clientset: it registers every
// API group Kubernetes has (about half of ferry's binary and its largest
// start-up cost) to call three resources of two groups.
type API interface {
	Deployments(namespace string) DeploymentClient
	ReplicaSets(namespace string) ReplicaSetClient
	// StatefulSets and DaemonSets are the other workload kinds; their
	// ControllerRevisions say which revision a DaemonSet's pods run.
	StatefulSets(namespace string) StatefulSetClient
	DaemonSets(namespace string) DaemonSetClient
	ControllerRevisions(namespace string) ControllerRevisionClient
	Pods(namespace string) PodClient
	// ServiceAccounts and Secrets are read for a source's pull secrets.
	ServiceAccounts(namespace string) ServiceAccountClient
	// SelfSubjectAccessReviews ask whether ferry may make a call (plan's
	// rehearsal).
	SelfSubjectAccessReviews() AccessReviewClient
	Secrets(namespace string) SecretClient
	// Leases hold a target's lock and promotion record.
	Leases(namespace string) LeaseClient
}

// LeaseClient reads and writes coordination.k8s.io/v1 Leases.
type LeaseClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*coordinationv1.Lease, error)
	Create(ctx context.Context, lease *coordinationv1.Lease, opts metav1.CreateOptions) (*coordinationv1.Lease, error)
	Update(ctx context.Context, lease *coordinationv1.Lease, opts metav1.UpdateOptions) (*coordinationv1.Lease, error)
}

// DeploymentClient reads, watches and patches Deployments.
type DeploymentClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.Deployment, error)
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.DeploymentList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*appsv1.Deployment, error)
}

// ReplicaSetClient lists and watches ReplicaSets.
type ReplicaSetClient interface {
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.ReplicaSetList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// StatefulSetClient reads, watches and patches StatefulSets.
type StatefulSetClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.StatefulSet, error)
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.StatefulSetList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*appsv1.StatefulSet, error)
}

// DaemonSetClient reads, watches and patches DaemonSets.
type DaemonSetClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*appsv1.DaemonSet, error)
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.DaemonSetList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Patch(ctx context.Context, name string, pt types.PatchType, data []byte, opts metav1.PatchOptions, subresources ...string) (*appsv1.DaemonSet, error)
}

// ControllerRevisionClient lists and watches ControllerRevisions.
type ControllerRevisionClient interface {
	List(ctx context.Context, opts metav1.ListOptions) (*appsv1.ControllerRevisionList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// PodClient lists and watches Pods, and deletes the pods a StatefulSet
// restore must replace (see restoreStatefulSet).
type PodClient interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
	Delete(ctx context.Context, name string, opts metav1.DeleteOptions) error
}

// ServiceAccountClient reads ServiceAccounts.
type ServiceAccountClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.ServiceAccount, error)
}

// AccessReviewClient creates SelfSubjectAccessReviews.
type AccessReviewClient interface {
	Create(ctx context.Context, r *authorizationv1.SelfSubjectAccessReview, opts metav1.CreateOptions) (*authorizationv1.SelfSubjectAccessReview, error)
}

// SecretClient reads Secrets.
type SecretClient interface {
	Get(ctx context.Context, name string, opts metav1.GetOptions) (*corev1.Secret, error)
}

// scheme knows apps/v1 and core/v1 and nothing else.
var (
	scheme         = runtime.NewScheme()
	codecs         = serializer.NewCodecFactory(scheme)
	parameterCodec = runtime.NewParameterCodec(scheme)
)

func init() {
	utilruntime.Must(appsv1.AddToScheme(scheme))
	utilruntime.Must(corev1.AddToScheme(scheme))
	utilruntime.Must(authorizationv1.AddToScheme(scheme))
	utilruntime.Must(coordinationv1.AddToScheme(scheme))
	// Status and the option types of the unversioned meta group, as
	// client-go's own scheme registers them.
	metav1.AddToGroupVersion(scheme, schema.GroupVersion{Version: "v1"})
}

// NewAPI returns an API served over rc: one HTTP client (connections,
// credentials, rate limit) shared by REST clients for apps/v1, core/v1
// and coordination.k8s.io/v1, speaking protobuf as client-go's typed
// clients do.
func NewAPI(rc *rest.Config) (API, error) {
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		return nil, err
	}
	apps, err := restClient(rc, hc, appsv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	core, err := restClient(rc, hc, corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, err
	}
	authz, err := restClient(rc, hc, authorizationv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	coord, err := restClient(rc, hc, coordinationv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, err
	}
	// Argo Rollouts' Rollouts are custom resources, called through the
	// dynamic client (see rollout_kind.go).
	dyn, err := dynamic.NewForConfigAndClient(rc, hc)
	if err != nil {
		return nil, err
	}
	return restAPI{apps: apps, core: core, authz: authz, coord: coord, dyn: dyn}, nil
}

func restClient(rc *rest.Config, hc *http.Client, gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
	c := rest.CopyConfig(rc)
	c.GroupVersion = &gv
	c.APIPath = apiPath
	c.NegotiatedSerializer = codecs.WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientForConfigAndClient(c, hc)
}

type restAPI struct {
	apps, core, authz, coord rest.Interface
	dyn                      dynamic.Interface
}

// Dynamic calls custom resources (dynamicAPI).
func (a restAPI) Dynamic() dynamic.Interface { return a.dyn }

func (a restAPI) SelfSubjectAccessReviews() AccessReviewClient {
	return gentype.NewClient("selfsubjectaccessreviews", a.authz, parameterCodec, "",
		func() *authorizationv1.SelfSubjectAccessReview { return &authorizationv1.SelfSubjectAccessReview{} },
		gentype.PrefersProtobuf[*authorizationv1.SelfSubjectAccessReview]())
}

func (a restAPI) Deployments(ns string) DeploymentClient {
	return gentype.NewClientWithList("deployments", a.apps, parameterCodec, ns,
		func() *appsv1.Deployment { return &appsv1.Deployment{} },
		func() *appsv1.DeploymentList { return &appsv1.DeploymentList{} },
		gentype.PrefersProtobuf[*appsv1.Deployment]())
}

func (a restAPI) ReplicaSets(ns string) ReplicaSetClient {
	return gentype.NewClientWithList("replicasets", a.apps, parameterCodec, ns,
		func() *appsv1.ReplicaSet { return &appsv1.ReplicaSet{} },
		func() *appsv1.ReplicaSetList { return &appsv1.ReplicaSetList{} },
		gentype.PrefersProtobuf[*appsv1.ReplicaSet]())
}

func (a restAPI) StatefulSets(ns string) StatefulSetClient {
	return gentype.NewClientWithList("statefulsets", a.apps, parameterCodec, ns,
		func() *appsv1.StatefulSet { return &appsv1.StatefulSet{} },
		func() *appsv1.StatefulSetList { return &appsv1.StatefulSetList{} },
		gentype.PrefersProtobuf[*appsv1.StatefulSet]())
}

func (a restAPI) DaemonSets(ns string) DaemonSetClient {
	return gentype.NewClientWithList("daemonsets", a.apps, parameterCodec, ns,
		func() *appsv1.DaemonSet { return &appsv1.DaemonSet{} },
		func() *appsv1.DaemonSetList { return &appsv1.DaemonSetList{} },
		gentype.PrefersProtobuf[*appsv1.DaemonSet]())
}

func (a restAPI) ControllerRevisions(ns string) ControllerRevisionClient {
	return gentype.NewClientWithList("controllerrevisions", a.apps, parameterCodec, ns,
		func() *appsv1.ControllerRevision { return &appsv1.ControllerRevision{} },
		func() *appsv1.ControllerRevisionList { return &appsv1.ControllerRevisionList{} },
		gentype.PrefersProtobuf[*appsv1.ControllerRevision]())
}

func (a restAPI) Pods(ns string) PodClient {
	return gentype.NewClientWithList("pods", a.core, parameterCodec, ns,
		func() *corev1.Pod { return &corev1.Pod{} },
		func() *corev1.PodList { return &corev1.PodList{} },
		gentype.PrefersProtobuf[*corev1.Pod]())
}

func (a restAPI) ServiceAccounts(ns string) ServiceAccountClient {
	return gentype.NewClientWithList("serviceaccounts", a.core, parameterCodec, ns,
		func() *corev1.ServiceAccount { return &corev1.ServiceAccount{} },
		func() *corev1.ServiceAccountList { return &corev1.ServiceAccountList{} },
		gentype.PrefersProtobuf[*corev1.ServiceAccount]())
}

func (a restAPI) Secrets(ns string) SecretClient {
	return gentype.NewClientWithList("secrets", a.core, parameterCodec, ns,
		func() *corev1.Secret { return &corev1.Secret{} },
		func() *corev1.SecretList { return &corev1.SecretList{} },
		gentype.PrefersProtobuf[*corev1.Secret]())
}

func (a restAPI) Leases(ns string) LeaseClient {
	return gentype.NewClientWithList("leases", a.coord, parameterCodec, ns,
		func() *coordinationv1.Lease { return &coordinationv1.Lease{} },
		func() *coordinationv1.LeaseList { return &coordinationv1.LeaseList{} },
		gentype.PrefersProtobuf[*coordinationv1.Lease]())
}
