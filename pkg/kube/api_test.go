package kube

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// clientsetAPI serves API from a client-go clientset: the fake one in unit
// tests (which exercise ferry's logic; the REST client is proven against
// real API servers by internal/testenv's and e2e's tests).
type clientsetAPI struct{ cs kubernetes.Interface }

func (a clientsetAPI) Deployments(ns string) DeploymentClient { return a.cs.AppsV1().Deployments(ns) }
func (a clientsetAPI) ReplicaSets(ns string) ReplicaSetClient { return a.cs.AppsV1().ReplicaSets(ns) }
func (a clientsetAPI) Pods(ns string) PodClient               { return a.cs.CoreV1().Pods(ns) }
func (a clientsetAPI) StatefulSets(ns string) StatefulSetClient {
	return a.cs.AppsV1().StatefulSets(ns)
}
func (a clientsetAPI) SelfSubjectAccessReviews() AccessReviewClient {
	return a.cs.AuthorizationV1().SelfSubjectAccessReviews()
}
func (a clientsetAPI) DaemonSets(ns string) DaemonSetClient { return a.cs.AppsV1().DaemonSets(ns) }
func (a clientsetAPI) ControllerRevisions(ns string) ControllerRevisionClient {
	return a.cs.AppsV1().ControllerRevisions(ns)
}
func (a clientsetAPI) ServiceAccounts(ns string) ServiceAccountClient {
	return a.cs.CoreV1().ServiceAccounts(ns)
}
func (a clientsetAPI) Secrets(ns string) SecretClient { return a.cs.CoreV1().Secrets(ns) }

// NewAPI speaks the paths, queries and content types of client-go's typed
// clients; a recording server checks them (real API servers serve it in
// internal/testenv's and e2e's tests).
func TestNewAPIRequests(t *testing.T) {
	type seen struct{ method, path, query, accept, contentType, ua string }
	var mu sync.Mutex
	var got []seen
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, seen{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Accept"), r.Header.Get("Content-Type"), r.Header.Get("User-Agent")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/pods"):
			fmt.Fprint(w, `{"apiVersion":"v1","kind":"PodList","items":[{"metadata":{"name":"web-1"}}]}`)
		case strings.HasSuffix(r.URL.Path, "/replicasets"):
			fmt.Fprint(w, `{"apiVersion":"apps/v1","kind":"ReplicaSetList","items":[]}`)
		default:
			fmt.Fprint(w, `{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"shop","generation":4}}`)
		}
	}))
	defer srv.Close()

	api, err := NewAPI(&rest.Config{Host: srv.URL, UserAgent: "ferry-test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	d, err := api.Deployments("shop").Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "web" || d.Generation != 4 {
		t.Errorf("decoded deployment %s generation %d, want web generation 4", d.Name, d.Generation)
	}
	if _, err := api.Deployments("shop").Patch(ctx, "web", types.JSONPatchType, []byte(`[]`), metav1.PatchOptions{FieldManager: "ferry"}); err != nil {
		t.Fatal(err)
	}
	pods, err := api.Pods("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 1 || pods.Items[0].Name != "web-1" {
		t.Errorf("decoded pods %+v, want web-1", pods.Items)
	}
	if _, err := api.ReplicaSets("shop").List(ctx, metav1.ListOptions{LabelSelector: "app=web"}); err != nil {
		t.Fatal(err)
	}

	const protobufFirst = "application/vnd.kubernetes.protobuf,application/json"
	want := []seen{
		{"GET", "/apis/apps/v1/namespaces/shop/deployments/web", "", protobufFirst, "", "ferry-test"},
		{"PATCH", "/apis/apps/v1/namespaces/shop/deployments/web", "fieldManager=ferry", protobufFirst, "application/json-patch+json", "ferry-test"},
		{"GET", "/api/v1/namespaces/shop/pods", "labelSelector=app%3Dweb", protobufFirst, "", "ferry-test"},
		{"GET", "/apis/apps/v1/namespaces/shop/replicasets", "labelSelector=app%3Dweb", protobufFirst, "", "ferry-test"},
	}
	if len(got) != len(want) {
		t.Fatalf("requests %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("request %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func (a clientsetAPI) Leases(ns string) LeaseClient {
	return a.cs.CoordinationV1().Leases(ns)
}
