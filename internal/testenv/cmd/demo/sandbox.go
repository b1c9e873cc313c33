package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
)

// The kubeconfig contexts ferry is given. prod-eu and prod-us both reach
// the one production control plane, standing in for two clusters; the
// Deployments live in different namespaces there.
const (
	ctxStaging = "staging"
	ctxProdEU  = "prod-eu"
	ctxProdUS  = "prod-us"

	container = "web"
	// imageIDKey tells kwok which digest a pod's tag "pulled" (see
	// internal/testenv's package doc).
	imageIDKey = "imageid.testenv.ferry.dev/" + container
)

// deployment is a Deployment in one of the sandbox's clusters.
type deployment struct {
	cluster   *testenv.Cluster
	context   string
	namespace string
	name      string
}

// addr is the deployment's ferry address.
func (d deployment) addr() string {
	return fmt.Sprintf("k8s:%s/%s?context=%s", d.namespace, d.name, d.context)
}

func (d deployment) String() string { return d.namespace + "/" + d.name + " in " + d.context }

// fixture is an image pushed to the sandbox registry.
type fixture struct {
	name   string  // "shop/web:1.4.2"
	ref    string  // as pushed, with its tag: "127.0.0.1:PORT/shop/web:1.4.2"
	repo   string  // "127.0.0.1:PORT/shop/web"
	digest v1.Hash // manifest digest
	config v1.Hash // config digest: Heroku's image id
	img    v1.Image
}

// pinned is the reference ferry writes into a Deployment.
func (f fixture) pinned() string { return f.repo + "@" + f.digest.String() }

// sandbox is everything the demo starts, and what it needs to stop it.
type sandbox struct {
	dir        string // temporary folder: kubeconfig, ferry's HOME
	kubeconfig string
	staging    *testenv.Cluster
	production *testenv.Cluster
	registry   string
	stopReg    func()
	emu        *herokuemu.Emulator // started by the Heroku half

	// Images: what production runs at first, the good build staging runs,
	// a later good build, a build that crashes on Kubernetes, and one
	// whose dynos crash on Heroku.
	old, good, next, crash, herokuBad fixture

	stagingWeb     deployment
	prodEU, prodUS deployment
}

// start brings up the sandbox. On error, what did start is left in s for
// stop to take down.
func (s *sandbox) start(ctx context.Context, n *narrator) error {
	var err error
	if s.dir, err = os.MkdirTemp("", "ferry-demo-"); err != nil {
		return fmt.Errorf("creating a temporary folder: %w", err)
	}

	t0 := time.Now()
	bins, err := testenv.BinDir(ctx)
	if err != nil {
		return fmt.Errorf("finding the control-plane binaries: %w", err)
	}
	n.info("control-plane binaries: %s", bins)
	// The clusters make their folders (etcd data, certificates, logs) with
	// os.MkdirTemp: inside ours, one RemoveAll takes everything, also the
	// folder a cluster that failed to start leaves behind. BinDir ran
	// first, so its build lock stays in the shared temporary folder.
	if err := os.Setenv("TMPDIR", s.dir); err != nil {
		return fmt.Errorf("setting TMPDIR: %w", err)
	}

	// The registry and its images while the control planes start.
	var wg sync.WaitGroup
	var regErr error
	wg.Go(func() { regErr = s.startRegistry(ctx) })
	s.staging, s.production, err = testenv.StartPair(ctx)
	wg.Wait()
	if err = errors.Join(err, regErr); err != nil {
		return err
	}
	n.info("staging and production control planes ready (%s): etcd, kube-apiserver, controller-manager, scheduler; kwok plays the kubelets", since(t0))
	n.info("registry at %s holds shop/web:1.4.1, :1.4.2, :1.4.3, :1.5.1 and shop/web-crash:1.5.0", s.registry)

	s.kubeconfig = filepath.Join(s.dir, "kubeconfig")
	kc := testenv.Kubeconfig(map[string]*testenv.Cluster{
		ctxStaging: s.staging,
		ctxProdEU:  s.production,
		ctxProdUS:  s.production,
	}, testenv.CurrentContext(ctxStaging))
	if err := os.WriteFile(s.kubeconfig, kc, 0o600); err != nil {
		return fmt.Errorf("writing the kubeconfig: %w", err)
	}

	s.stagingWeb = deployment{s.staging, ctxStaging, "shop", "web"}
	s.prodEU = deployment{s.production, ctxProdEU, "shop-eu", "web"}
	s.prodUS = deployment{s.production, ctxProdUS, "shop-us", "web"}
	// Staging runs the tag; its pods report the digest that tag was
	// pushed as, as a kubelet does after pulling it.
	if err := createDeployment(ctx, s.stagingWeb, s.good.ref, s.good.digest); err != nil {
		return err
	}
	for _, d := range []deployment{s.prodEU, s.prodUS} {
		if err := createDeployment(ctx, d, s.old.ref, s.old.digest); err != nil {
			return err
		}
	}
	n.info("staging:    Deployment shop/web runs %s (its pods report %s)", s.good.name, short(s.good.digest))
	n.info("production: Deployments shop-eu/web and shop-us/web run %s", s.old.name)
	n.info("kubeconfig %s: contexts staging, prod-eu and prod-us (prod-eu and prod-us both reach the production control plane)", s.kubeconfig)
	return nil
}

// startRegistry serves the sandbox registry and pushes the fixtures.
func (s *sandbox) startRegistry(ctx context.Context) error {
	var err error
	if s.registry, s.stopReg, err = images.StartRegistry(); err != nil {
		return err
	}
	for _, f := range []struct {
		dst       *fixture
		repo, tag string
		seed      int64
		labels    map[string]string
	}{
		{&s.old, "shop/web", "1.4.1", 141, nil},
		{&s.good, "shop/web", "1.4.2", 142, nil},
		{&s.next, "shop/web", "1.4.3", 143, nil},
		// "crash" in the name crash-loops it under kwok.
		{&s.crash, "shop/web-crash", "1.5.0", 150, nil},
		// This label crashes its dynos in the Heroku emulator; kwok runs it.
		{&s.herokuBad, "shop/web", "1.5.1", 151, map[string]string{herokuemu.LabelDyno: "crash"}},
	} {
		img, err := images.Build(images.Spec{Seed: f.seed, Layers: 2, LayerSize: 4 << 10, Labels: f.labels})
		if err != nil {
			return err
		}
		repo := s.registry + "/" + f.repo
		ref := repo + ":" + f.tag
		dig, err := images.Push(ctx, ref, img)
		if err != nil {
			return err
		}
		cfg, err := img.ConfigName()
		if err != nil {
			return fmt.Errorf("reading the config digest of %s: %w", ref, err)
		}
		*f.dst = fixture{name: f.repo + ":" + f.tag, ref: ref, repo: repo, digest: dig, config: cfg, img: img}
	}
	return nil
}

// stop takes down everything start brought up and removes the temporary
// folder; with keep, the folder and the control planes' logs in it stay.
func (s *sandbox) stop(keep bool) error {
	var errs []error
	var wg sync.WaitGroup
	var mu sync.Mutex
	for _, c := range []*testenv.Cluster{s.staging, s.production} {
		if c == nil {
			continue
		}
		if keep {
			c.KeepLogs()
		}
		wg.Go(func() {
			if err := c.Stop(); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if s.emu != nil {
		if err := s.emu.Close(); err != nil {
			errs = append(errs, fmt.Errorf("stopping the Heroku emulator: %w", err))
		}
	}
	if s.stopReg != nil {
		s.stopReg()
	}
	if s.dir != "" && !keep {
		if err := os.RemoveAll(s.dir); err != nil {
			errs = append(errs, fmt.Errorf("removing %s: %w", s.dir, err))
		}
	}
	return errors.Join(errs...)
}

// started names what start (and the Heroku half) brought up.
func (s *sandbox) started() string {
	var parts []string
	if s.staging != nil {
		parts = append(parts, "both control planes")
	}
	if s.stopReg != nil {
		parts = append(parts, "the registry")
	}
	if s.emu != nil {
		parts = append(parts, "the Heroku emulator")
	}
	switch len(parts) {
	case 0:
		return "nothing (nothing had started)"
	case 1:
		return parts[0]
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}

// createDeployment creates the namespace and a Deployment of two replicas
// running image, whose pods report digest, and waits until it rolled out.
func createDeployment(ctx context.Context, d deployment, image string, digest v1.Hash) error {
	cs := d.cluster.Admin
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: d.namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s in %s: %w", d.namespace, d.cluster.Name, err)
	}
	// Pods are refused until the namespace's default service account
	// exists.
	if err := poll(ctx, 30*time.Second, func() (bool, error) {
		_, err := cs.CoreV1().ServiceAccounts(d.namespace).Get(ctx, "default", metav1.GetOptions{})
		return err == nil, nil
	}); err != nil {
		return fmt.Errorf("waiting for serviceaccount %s/default in %s: %w", d.namespace, d.cluster.Name, err)
	}
	replicas, deadline := int32(2), int32(60)
	labels := map[string]string{"app": d.name}
	obj := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: d.name, Namespace: d.namespace},
		Spec: appsv1.DeploymentSpec{
			Replicas:                &replicas,
			ProgressDeadlineSeconds: &deadline,
			Selector:                &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels, Annotations: map[string]string{imageIDKey: digest.String()}},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: container, Image: image}}},
			},
		},
	}
	if _, err := cs.AppsV1().Deployments(d.namespace).Create(ctx, obj, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating deployment %s: %w", d, err)
	}
	return waitRolledOut(ctx, d)
}

// setImage makes a Deployment run image (staging's next build).
func setImage(ctx context.Context, d deployment, image string) error {
	cs := d.cluster.Admin
	obj, err := cs.AppsV1().Deployments(d.namespace).Get(ctx, d.name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading deployment %s: %w", d, err)
	}
	obj.Spec.Template.Spec.Containers[0].Image = image
	if _, err := cs.AppsV1().Deployments(d.namespace).Update(ctx, obj, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating deployment %s: %w", d, err)
	}
	return nil
}

// imageOf returns the image a Deployment's container is set to.
func imageOf(ctx context.Context, d deployment) (string, error) {
	obj, err := d.cluster.Admin.AppsV1().Deployments(d.namespace).Get(ctx, d.name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("reading deployment %s: %w", d, err)
	}
	return obj.Spec.Template.Spec.Containers[0].Image, nil
}

// waitRolledOut waits until every replica of the Deployment's current
// template is updated and available.
func waitRolledOut(ctx context.Context, d deployment) error {
	var last string
	err := poll(ctx, 60*time.Second, func() (bool, error) {
		done, status, err := rolledOut(ctx, d.cluster.Admin, d.namespace, d.name)
		last = status
		return done, err
	})
	if err != nil {
		return fmt.Errorf("waiting for deployment %s to roll out (%s): %w", d, last, err)
	}
	return nil
}

func rolledOut(ctx context.Context, cs kubernetes.Interface, ns, name string) (bool, string, error) {
	obj, err := cs.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return false, "", err
	}
	want := int32(1)
	if obj.Spec.Replicas != nil {
		want = *obj.Spec.Replicas
	}
	st := obj.Status
	status := fmt.Sprintf("generation %d observed %d, %d/%d updated, %d available, %d total",
		obj.Generation, st.ObservedGeneration, st.UpdatedReplicas, want, st.AvailableReplicas, st.Replicas)
	done := st.ObservedGeneration >= obj.Generation && st.UpdatedReplicas == want &&
		st.AvailableReplicas == want && st.Replicas == want
	return done, status, nil
}

// poll calls check every 100ms until it reports done, fails, or timeout
// passes.
func poll(ctx context.Context, timeout time.Duration, check func() (bool, error)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		done, err := check()
		if err != nil || done {
			return err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("gave up after %s: %w", timeout, context.Cause(ctx))
		case <-time.After(100 * time.Millisecond):
		}
	}
}
