package testenv

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"sigs.k8s.io/yaml"
)

// ArgoRolloutsVersion is the Argo Rollouts release whose CRDs the tests
// install: the newest whose module the Go toolchain here can download. The
// controller hack/tools/argo-rollouts pins is the same release.
const ArgoRolloutsVersion = "v1.9.2"

// ArgoRolloutsCRDs are the AnalysisTemplate and ClusterAnalysisTemplate
// CRDs of Argo Rollouts at ArgoRolloutsVersion, from its module
// (manifests/crds), fetched through the Go module proxy.
func ArgoRolloutsCRDs(ctx context.Context) ([][]byte, error) {
	return argoRolloutsCRDs(ctx, "analysis-template-crd.yaml", "cluster-analysis-template-crd.yaml")
}

// ArgoRolloutsControllerCRDs are every CRD of Argo Rollouts at
// ArgoRolloutsVersion, which its controller watches: Rollouts,
// Experiments, AnalysisRuns, AnalysisTemplates and
// ClusterAnalysisTemplates.
func ArgoRolloutsControllerCRDs(ctx context.Context) ([][]byte, error) {
	return argoRolloutsCRDs(ctx, "rollout-crd.yaml", "experiment-crd.yaml", "analysis-run-crd.yaml",
		"analysis-template-crd.yaml", "cluster-analysis-template-crd.yaml")
}

func argoRolloutsCRDs(ctx context.Context, files ...string) ([][]byte, error) {
	out, err := exec.CommandContext(ctx, "go", "mod", "download", "-json", "github.com/argoproj/argo-rollouts@"+ArgoRolloutsVersion).Output()
	if err != nil {
		return nil, fmt.Errorf("downloading argo-rollouts %s: %w", ArgoRolloutsVersion, err)
	}
	var mod struct{ Dir, Error string }
	if err := json.Unmarshal(out, &mod); err != nil || mod.Dir == "" {
		return nil, fmt.Errorf("downloading argo-rollouts %s: %v %s", ArgoRolloutsVersion, err, mod.Error)
	}
	var crds [][]byte
	for _, f := range files {
		b, err := os.ReadFile(filepath.Join(mod.Dir, "manifests", "crds", f))
		if err != nil {
			return nil, fmt.Errorf("argo-rollouts CRD: %w", err)
		}
		crds = append(crds, b)
	}
	return crds, nil
}

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// InstallCRDs creates the CRDs (YAML) in c and waits until each is
// Established. A CRD that exists already (another test installed it) is
// waited for as it is.
func (c *Cluster) InstallCRDs(ctx context.Context, crds [][]byte) error {
	dc, err := dynamic.NewForConfig(c.AdminConfig())
	if err != nil {
		return err
	}
	for _, y := range crds {
		var obj map[string]any
		if err := yaml.Unmarshal(y, &obj); err != nil {
			return fmt.Errorf("reading a CRD: %w", err)
		}
		u := &unstructured.Unstructured{Object: obj}
		if _, err := dc.Resource(crdResource).Create(ctx, u, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("creating CRD %s: %w", u.GetName(), err)
		}
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := dc.Resource(crdResource).Get(ctx, u.GetName(), metav1.GetOptions{})
			if err == nil && established(got) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("CRD %s not established after 30s (%v)", u.GetName(), err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return nil
}

func established(u *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}
