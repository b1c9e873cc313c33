package e2e

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/pkg/kube"
)

// fakeDigest is a stable digest for a name, standing in for an image that
// was pushed somewhere.
func fakeDigest(name string) string {
	return fmt.Sprintf("sha256:%x", sha256.Sum256([]byte(name)))
}

// namespace creates a fresh namespace named after the test in c.
func namespace(t *testing.T, c *testenv.Cluster) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = strings.Trim(name, "-") + fmt.Sprintf("-%d", time.Now().UnixNano()%100000)
	ctx := context.Background()
	_, err := c.Admin.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating namespace %s in %s: %v", name, c.Name, err)
	}
	// ServiceAccount admission rejects pods until "default" exists.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := c.Admin.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{}); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace %s: no default service account after 30s", name)
		}
		time.Sleep(100 * time.Millisecond)
	}
	return name
}

// deploy describes a Deployment to create.
type deploy struct {
	name           string
	containers     []corev1.Container
	initContainers []corev1.Container
	replicas       *int32 // nil: 2
	history        *int32
	deadline       int32
	paused         bool
	// podAnnotations go on the pod template (imageid.testenv.ferry.dev/NAME
	// tells kwok which digest a tag "pulled").
	podAnnotations map[string]string
	// pullSecrets are the pod template's imagePullSecrets.
	pullSecrets []string
	// recreate replaces every pod at once (strategy Recreate): a restore
	// then waits for the snapshot's pods to start again.
	recreate bool
}

func container(name, image string) corev1.Container {
	return corev1.Container{Name: name, Image: image}
}

// create makes the Deployment and waits until it has rolled out (unless
// paused).
func create(t *testing.T, c *testenv.Cluster, ns string, d deploy) *appsv1.Deployment {
	t.Helper()
	replicas := int32(2)
	if d.replicas != nil {
		replicas = *d.replicas
	}
	if d.deadline == 0 {
		d.deadline = 30
	}
	labels := map[string]string{"app": d.name}
	obj := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			RevisionHistoryLimit:    d.history,
			ProgressDeadlineSeconds: &d.deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: d.podAnnotations},
				Spec:       corev1.PodSpec{Containers: d.containers, InitContainers: d.initContainers, ImagePullSecrets: pullSecretRefs(d.pullSecrets)},
			},
		},
	}
	if d.recreate {
		obj.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
	}
	ctx := context.Background()
	if _, err := c.Admin.AppsV1().Deployments(ns).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating deployment %s/%s in %s: %v", ns, d.name, c.Name, err)
	}
	waitRolledOut(t, c, ns, d.name)
	if d.paused {
		got := get(t, c, ns, d.name)
		got.Spec.Paused = true
		if _, err := c.Admin.AppsV1().Deployments(ns).Update(ctx, got, metav1.UpdateOptions{}); err != nil {
			t.Fatalf("pausing: %v", err)
		}
	}
	return get(t, c, ns, d.name)
}

func pullSecretRefs(names []string) []corev1.LocalObjectReference {
	var out []corev1.LocalObjectReference
	for _, n := range names {
		out = append(out, corev1.LocalObjectReference{Name: n})
	}
	return out
}

func get(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.Deployment {
	t.Helper()
	d, err := c.Admin.AppsV1().Deployments(ns).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading deployment %s/%s: %v", ns, name, err)
	}
	return d
}

// waitRolledOut polls (tests may poll; ferry watches) until the rollout is
// complete by the same rules ferry uses, and returns the deployment.
func waitRolledOut(t *testing.T, c *testenv.Cluster, ns, name string) *appsv1.Deployment {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last kube.Verdict
	for time.Now().Before(deadline) {
		v := verdict(t, c.Admin, ns, name)
		if v.Done {
			return get(t, c, ns, name)
		}
		if v.Failure != "" {
			t.Fatalf("deployment %s/%s failed to roll out: %s", ns, name, v.Failure)
		}
		last = v
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("deployment %s/%s did not roll out in 60s: %s", ns, name, last.Progress)
	return nil
}

func verdict(t *testing.T, cs kubernetes.Interface, ns, name string) kube.Verdict {
	t.Helper()
	ctx := context.Background()
	d, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("reading deployment: %v", err)
	}
	rs := activeReplicaSet(t, cs, d)
	pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: "app=" + name})
	if err != nil {
		t.Fatalf("listing pods: %v", err)
	}
	return kube.Evaluate(d, rs, pods.Items)
}

// activeReplicaSet is the ReplicaSet of d's current revision.
func activeReplicaSet(t *testing.T, cs kubernetes.Interface, d *appsv1.Deployment) *appsv1.ReplicaSet {
	t.Helper()
	list, err := cs.AppsV1().ReplicaSets(d.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: "app=" + d.Name})
	if err != nil {
		t.Fatalf("listing replica sets: %v", err)
	}
	for i := range list.Items {
		if list.Items[i].Annotations["deployment.kubernetes.io/revision"] == d.Annotations["deployment.kubernetes.io/revision"] {
			return &list.Items[i]
		}
	}
	return nil
}

// mutations returns what ferry changed in c since the cluster started —
// as user "ferry" or as any identity a cloud test's token stands for —
// filtered to namespace ns ("" = all). ferry's own Lease, the lock and
// record a promotion takes before it snapshots its targets, is not a
// change to a workload and is left out (leaseWrites counts it).
func mutations(t *testing.T, c *testenv.Cluster, ns string) []testenv.AuditEvent {
	t.Helper()
	return auditedWrites(t, c, func(e testenv.AuditEvent) bool {
		return (ns == "" || e.Namespace == ns) && e.Resource != "leases"
	})
}

// deploymentPatches counts the PATCHes of Deployments among events.
func deploymentPatches(events []testenv.AuditEvent) int {
	n := 0
	for _, e := range events {
		if e.Verb == "patch" && e.Resource == "deployments" {
			n++
		}
	}
	return n
}

// leaseWrites returns ferry's writes to Leases in namespace ns.
func leaseWrites(t *testing.T, c *testenv.Cluster, ns string) []testenv.AuditEvent {
	t.Helper()
	return auditedWrites(t, c, func(e testenv.AuditEvent) bool {
		return e.Namespace == ns && e.Resource == "leases"
	})
}

// auditedWrites returns the writes in c's audit log that keep accepts.
func auditedWrites(t *testing.T, c *testenv.Cluster, keep func(testenv.AuditEvent) bool) []testenv.AuditEvent {
	t.Helper()
	all, err := c.AllMutations(context.Background())
	if err != nil {
		t.Fatalf("reading the audit log of %s: %v", c.Name, err)
	}
	var out []testenv.AuditEvent
	for _, e := range all {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func imageOf(d *appsv1.Deployment, container string) string {
	for _, c := range d.Spec.Template.Spec.Containers {
		if c.Name == container {
			return c.Image
		}
	}
	return ""
}
