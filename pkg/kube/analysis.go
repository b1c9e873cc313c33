package kube

import (
	"context"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Argo Rollouts' analysis templates, read as unstructured objects so that
// ferry needs none of Argo Rollouts' code.
var (
	analysisTemplates        = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "analysistemplates"}
	clusterAnalysisTemplates = schema.GroupVersionResource{Group: "argoproj.io", Version: "v1alpha1", Resource: "clusteranalysistemplates"}
)

// AnalysisTemplateSpec reads the spec of the Argo Rollouts
// AnalysisTemplate namespace/name, or of the ClusterAnalysisTemplate name
// when cluster is true, from the cluster of contextName ("" = current).
// One that does not exist (or a cluster without Argo Rollouts' CRDs) is
// an input error: nothing has changed yet.
func (c *Clients) AnalysisTemplateSpec(ctx context.Context, contextName, namespace, name string, cluster bool) (map[string]any, error) {
	rc, err := c.RESTConfig(ctx, contextName)
	if err != nil {
		return nil, err
	}
	dc, err := dynamic.NewForConfig(rc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", contextName, err)
	}
	kind, what := "AnalysisTemplate", namespace+"/"+name
	ri := dc.Resource(analysisTemplates).Namespace(namespace)
	if cluster {
		kind, what = "ClusterAnalysisTemplate", name
		ri = dc.Resource(clusterAnalysisTemplates)
	}
	obj, err := ri.Get(ctx, name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		return nil, promote.Input(fmt.Errorf("%s %s not found in context %q (is it spelled right, and are Argo Rollouts' CRDs installed there?)", kind, what, contextName))
	case apierrors.IsForbidden(err):
		return nil, promote.Input(fmt.Errorf("reading %s %s: %w: grant get on %s.argoproj.io", kind, what, err, map[bool]string{false: "analysistemplates", true: "clusteranalysistemplates"}[cluster]))
	case err != nil:
		return nil, fmt.Errorf("reading %s %s: %w", kind, what, err)
	}
	spec, ok := obj.Object["spec"].(map[string]any)
	if !ok {
		return nil, promote.Input(fmt.Errorf("%s %s has no spec", kind, what))
	}
	return spec, nil
}
