package testenv

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	admissionv1 "k8s.io/api/admission/v1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ImageWebhook is a validating admission webhook, served on loopback over
// TLS and registered in a cluster with a ValidatingWebhookConfiguration
// (clientConfig.url and caBundle), that rejects Deployments, StatefulSets
// and DaemonSets of one namespace whose pod template names an image
// containing a chosen string: an image allow-list as policy engines
// enforce it. It declares sideEffects None, so the API server consults it
// on dry-run requests too.
type ImageWebhook struct {
	srv  *httptest.Server
	deny string

	mu   sync.Mutex
	seen []AdmissionSeen
	// stall, stallFor and stalled: see Stall.
	stall    string
	stallFor time.Duration
	stalled  chan struct{}
}

// Stall makes the webhook hold every write (not a dry run) whose pod
// template names an image containing match for d, then judge it as usual,
// and tell the returned channel when one arrives: the client has sent
// its request and waits for the answer. d must stay below the
// webhook's 5 s timeout.
func (w *ImageWebhook) Stall(match string, d time.Duration) <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stall, w.stallFor, w.stalled = match, d, make(chan struct{}, 1)
	return w.stalled
}

// holds says how long to hold a request naming images.
func (w *ImageWebhook) holds(images []string, dryRun bool) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stall == "" || dryRun {
		return 0
	}
	for _, img := range images {
		if strings.Contains(img, w.stall) {
			select {
			case w.stalled <- struct{}{}:
			default:
			}
			return w.stallFor
		}
	}
	return 0
}

// AdmissionSeen is one request the webhook judged.
type AdmissionSeen struct {
	Kind, Namespace, Name string
	DryRun, Allowed       bool
}

// StartImageWebhook serves the webhook and registers it in c for
// namespace, under the configuration name name; it returns once the API
// server enforces it. Close removes it.
func StartImageWebhook(ctx context.Context, c *Cluster, name, namespace, deny string) (*ImageWebhook, error) {
	w := &ImageWebhook{deny: deny}
	w.srv = httptest.NewTLSServer(http.HandlerFunc(w.review))
	ca := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: w.srv.Certificate().Raw})
	none := admissionregistrationv1.SideEffectClassNone
	fail := admissionregistrationv1.Fail
	timeout := int32(5)
	url := w.srv.URL + "/validate"
	cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name:                    "images.testenv.ferry.dev",
			ClientConfig:            admissionregistrationv1.WebhookClientConfig{URL: &url, CABundle: ca},
			Rules:                   []admissionregistrationv1.RuleWithOperations{{Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create, admissionregistrationv1.Update}, Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"}, Resources: []string{"deployments", "statefulsets", "daemonsets"}}}},
			NamespaceSelector:       &metav1.LabelSelector{MatchLabels: map[string]string{corev1.LabelMetadataName: namespace}},
			SideEffects:             &none,
			FailurePolicy:           &fail,
			TimeoutSeconds:          &timeout,
			AdmissionReviewVersions: []string{"v1"},
		}},
	}
	if _, err := c.Admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Create(ctx, cfg, metav1.CreateOptions{}); err != nil {
		w.srv.Close()
		return nil, fmt.Errorf("registering the image webhook: %w", err)
	}
	if err := w.waitEnforced(ctx, c, namespace); err != nil {
		w.close(c, name)
		return nil, err
	}
	return w, nil
}

// waitEnforced dry-runs a denied Deployment until the API server refuses
// it: the webhook configuration reaches the admission plugin through a
// watch.
func (w *ImageWebhook) waitEnforced(ctx context.Context, c *Cluster, namespace string) error {
	labels := map[string]string{"app": "webhook-probe"}
	probe := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "webhook-probe", Namespace: namespace},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "probe", Image: "probe/" + w.deny}}}},
		},
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for {
		_, err := c.Admin.AppsV1().Deployments(namespace).Create(ctx, probe, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}})
		if err != nil && strings.Contains(err.Error(), "images.testenv.ferry.dev") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the image webhook is not enforced after 30s (last answer: %v)", err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Seen returns the requests the webhook judged, in order (the readiness
// probes left out).
func (w *ImageWebhook) Seen() []AdmissionSeen {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []AdmissionSeen
	for _, s := range w.seen {
		if s.Name != "webhook-probe" {
			out = append(out, s)
		}
	}
	return out
}

// Close unregisters the webhook and stops serving it.
func (w *ImageWebhook) Close(c *Cluster, name string) { w.close(c, name) }

func (w *ImageWebhook) close(c *Cluster, name string) {
	_ = c.Admin.AdmissionregistrationV1().ValidatingWebhookConfigurations().Delete(context.Background(), name, metav1.DeleteOptions{})
	w.srv.Close()
}

// review answers one AdmissionReview.
func (w *ImageWebhook) review(rw http.ResponseWriter, r *http.Request) {
	var ar admissionv1.AdmissionReview
	if err := json.NewDecoder(http.MaxBytesReader(rw, r.Body, 4<<20)).Decode(&ar); err != nil || ar.Request == nil {
		http.Error(rw, "want an AdmissionReview", http.StatusBadRequest)
		return
	}
	req := ar.Request
	var obj struct {
		Spec struct {
			Template corev1.PodTemplateSpec `json:"template"`
		} `json:"spec"`
	}
	_ = json.Unmarshal(req.Object.Raw, &obj)
	resp := &admissionv1.AdmissionResponse{UID: req.UID, Allowed: true}
	spec := obj.Spec.Template.Spec
	containers := append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...)
	images := make([]string, len(containers))
	for i, c := range containers {
		images[i] = c.Image
	}
	if d := w.holds(images, req.DryRun != nil && *req.DryRun); d > 0 {
		time.Sleep(d)
	}
	for _, c := range containers {
		if strings.Contains(c.Image, w.deny) {
			resp.Allowed = false
			resp.Result = &metav1.Status{Code: http.StatusForbidden, Reason: metav1.StatusReasonForbidden,
				Message: fmt.Sprintf("image %s of container %s is not on the allow-list", c.Image, c.Name)}
			break
		}
	}
	w.mu.Lock()
	w.seen = append(w.seen, AdmissionSeen{Kind: req.Kind.Kind, Namespace: req.Namespace, Name: req.Name,
		DryRun: req.DryRun != nil && *req.DryRun, Allowed: resp.Allowed})
	w.mu.Unlock()
	ar.Response = resp
	ar.Request = nil
	rw.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(rw).Encode(ar)
}
