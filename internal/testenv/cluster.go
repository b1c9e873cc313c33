package testenv

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

const (
	// AdminUser is the user the harness and the test itself act as
	// (Cluster.Admin, and the cluster's own components).
	AdminUser = "admin"
	// FerryUser is the user of the kubeconfig made by Kubeconfig, for the
	// code under test. Both users are in group system:masters.
	FerryUser = "ferry"

	// NodeName is the one simulated node of every cluster.
	NodeName = "kwok-node-0"

	// startTimeout bounds StartCluster and RestartAPIServer on top of the
	// caller's context: a loaded two-core machine starts a plane in ~5 s.
	startTimeout = 2 * time.Minute
	// startAttempts is how often StartCluster tries fresh ports after a
	// component found its port taken.
	startAttempts = 3
)

// Cluster is a running control plane: etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok, all on 127.0.0.1.
type Cluster struct {
	// Name is the name given to StartCluster ("staging", "production").
	Name string
	// Server is the API server's URL, https://127.0.0.1:PORT.
	Server string
	// Dir holds the cluster's logs (<component>.log, audit.log),
	// certificates, credentials and etcd data. Stop removes it unless
	// KeepLogs was called.
	Dir string
	// Admin is a client for the test itself, authenticated as AdminUser.
	Admin kubernetes.Interface

	admin      *rest.Config
	caPEM      []byte
	adminToken string
	ferryToken string
	bins       string
	ports      clusterPorts
	opts       ClusterOptions

	mu      sync.Mutex
	procs   map[string]*process
	args    map[string][]string
	keep    bool
	stopped bool
}

type clusterPorts struct {
	etcd, etcdPeer, apiserver, controllerManager, scheduler int
}

func (p clusterPorts) list() []int {
	return []int{p.etcd, p.etcdPeer, p.apiserver, p.controllerManager, p.scheduler}
}

var validName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// StartCluster starts a control plane named name and returns once it is
// ready: the node is Ready, kube-controller-manager and kube-scheduler
// answer /healthz, and serviceaccount default/default exists (pods are
// rejected until it does). Binaries come from BinDir. Call Stop when done.
//
// On failure nothing keeps running; the error names the directory with the
// logs (kept for inspection) and quotes the tail of the log of a component
// that exited.
func StartCluster(ctx context.Context, name string) (*Cluster, error) {
	return StartClusterWith(ctx, name, ClusterOptions{})
}

// ClusterOptions change how StartClusterWith starts a cluster. The zero
// value is StartCluster's cluster.
type ClusterOptions struct {
	// TokenWebhook, when set, makes kube-apiserver ask a TokenReview
	// webhook about every bearer token that is not one of its static
	// tokens (AdminUser's and FerryUser's keep working).
	TokenWebhook *TokenWebhook
}

// TokenWebhook is a webhook token authenticator for kube-apiserver
// (--authentication-token-webhook-config-file).
type TokenWebhook struct {
	// URL receives POSTs of authentication.k8s.io/v1 TokenReview.
	URL string
	// CAPEM verifies the webhook's serving certificate.
	CAPEM []byte
	// CacheTTL is --authentication-token-webhook-cache-ttl: how long
	// kube-apiserver remembers the webhook's answer (2m by default in
	// kube-apiserver, 0 here). kube-apiserver also remembers every
	// successful token authentication for 10 s, whatever the
	// authenticator (not configurable), so an expired token is refused
	// at most 10 s after its last accepted request.
	CacheTTL time.Duration
}

// StartClusterWith is StartCluster with options.
func StartClusterWith(ctx context.Context, name string, opts ClusterOptions) (*Cluster, error) {
	if !validName.MatchString(name) {
		return nil, fmt.Errorf("starting cluster %q: name must be lower-case letters, digits and '-'", name)
	}
	bins, err := BinDir(ctx)
	if err != nil {
		return nil, fmt.Errorf("starting cluster %s: %w", name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		c, err := start(ctx, name, bins, opts)
		if err == nil {
			return c, nil
		}
		var exit *ExitError
		if attempt < startAttempts && errors.As(err, &exit) && exit.addrInUse() && ctx.Err() == nil {
			c.discard()
			continue
		}
		if c != nil {
			_ = c.halt() // the start error is the one to report
			return nil, fmt.Errorf("starting cluster %s (logs in %s): %w", name, c.Dir, err)
		}
		return nil, fmt.Errorf("starting cluster %s: %w", name, err)
	}
}

// start makes one attempt. On error the returned cluster, if not nil, may
// have components running and must be halted or discarded.
func start(ctx context.Context, name, bins string, opts ClusterOptions) (*Cluster, error) {
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ferry-testenv-"+name+"-")
	if err != nil {
		releasePorts(ports)
		return nil, fmt.Errorf("creating directory: %w", err)
	}
	c := &Cluster{
		Name:  name,
		Dir:   dir,
		bins:  bins,
		procs: map[string]*process{},
		args:  map[string][]string{},
		ports: clusterPorts{ports[0], ports[1], ports[2], ports[3], ports[4]},
		opts:  opts,
	}
	c.Server = "https://127.0.0.1:" + strconv.Itoa(c.ports.apiserver)
	if err := c.writeFiles(); err != nil {
		return c, err
	}
	c.admin = &rest.Config{
		Host:            c.Server,
		BearerToken:     c.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM},
		QPS:             100,
		Burst:           200,
	}
	if c.Admin, err = kubernetes.NewForConfig(c.admin); err != nil {
		return c, fmt.Errorf("creating admin client: %w", err)
	}
	c.setArgs()

	if err := c.startComponent("etcd"); err != nil {
		return c, err
	}
	if err := c.waitFor(ctx, "etcd /health", c.etcdHealthy); err != nil {
		return c, err
	}
	if err := c.startComponent("kube-apiserver"); err != nil {
		return c, err
	}
	if err := c.waitFor(ctx, "kube-apiserver /readyz", c.apiserverReady); err != nil {
		return c, err
	}
	for _, comp := range []string{"kube-controller-manager", "kube-scheduler", "kwok"} {
		if err := c.startComponent(comp); err != nil {
			return c, err
		}
	}
	checks := []struct {
		what  string
		check func(context.Context) error
	}{
		{"node " + NodeName, c.createNode},
		{"node " + NodeName + " Ready", c.nodeReady},
		{"kube-controller-manager /healthz", c.healthz(c.ports.controllerManager)},
		{"kube-scheduler /healthz", c.healthz(c.ports.scheduler)},
		{"serviceaccount default/default", c.defaultServiceAccount},
	}
	for _, ch := range checks {
		if err := c.waitFor(ctx, ch.what, ch.check); err != nil {
			return c, err
		}
	}
	return c, nil
}

// writeFiles writes credentials, certificates, the audit policy, the kwok
// stages and the components' kubeconfig into Dir.
func (c *Cluster) writeFiles() error {
	p, err := newPKI()
	if err != nil {
		return err
	}
	c.caPEM = p.caCert
	c.adminToken, c.ferryToken = randomToken(), randomToken()
	tokens := fmt.Sprintf("%s,%s,%s,system:masters\n%s,%s,%s,system:masters\n",
		c.adminToken, AdminUser, AdminUser, c.ferryToken, FerryUser, FerryUser)
	files := map[string][]byte{
		"ca.crt":            p.caCert,
		"serving.crt":       p.serverCert,
		"serving.key":       p.serverKey,
		"sa.key":            p.saKey,
		"tokens.csv":        []byte(tokens),
		"audit-policy.yaml": []byte(auditPolicy),
		"stages.yaml":       stagesYAML,
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(c.Dir, name), data, 0o600); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
	}
	kc := clientcmdapi.NewConfig()
	kc.Clusters[c.Name] = &clientcmdapi.Cluster{Server: c.Server, CertificateAuthority: filepath.Join(c.Dir, "ca.crt")}
	kc.AuthInfos[AdminUser] = &clientcmdapi.AuthInfo{TokenFile: filepath.Join(c.Dir, "admin.token")}
	kc.Contexts[c.Name] = &clientcmdapi.Context{Cluster: c.Name, AuthInfo: AdminUser}
	kc.CurrentContext = c.Name
	if err := os.WriteFile(filepath.Join(c.Dir, "admin.token"), []byte(c.adminToken), 0o600); err != nil {
		return fmt.Errorf("writing admin.token: %w", err)
	}
	if err := clientcmd.WriteToFile(*kc, filepath.Join(c.Dir, "admin.kubeconfig")); err != nil {
		return fmt.Errorf("writing admin.kubeconfig: %w", err)
	}
	if w := c.opts.TokenWebhook; w != nil {
		// The webhook configuration is a kubeconfig: the cluster is the
		// webhook, the user is kube-apiserver (no client credentials).
		wc := clientcmdapi.NewConfig()
		wc.Clusters["token-webhook"] = &clientcmdapi.Cluster{Server: w.URL, CertificateAuthorityData: w.CAPEM}
		wc.AuthInfos["kube-apiserver"] = &clientcmdapi.AuthInfo{}
		wc.Contexts["webhook"] = &clientcmdapi.Context{Cluster: "token-webhook", AuthInfo: "kube-apiserver"}
		wc.CurrentContext = "webhook"
		if err := clientcmd.WriteToFile(*wc, filepath.Join(c.Dir, "token-webhook.kubeconfig")); err != nil {
			return fmt.Errorf("writing token-webhook.kubeconfig: %w", err)
		}
	}
	return nil
}

// setArgs records every component's command line. See
// /work/shared/kube-testenv.md for why each non-obvious flag is there.
func (c *Cluster) setArgs() {
	f := func(name string) string { return filepath.Join(c.Dir, name) }
	loop := func(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
	kubeconfig := "--kubeconfig=" + f("admin.kubeconfig")
	c.args["etcd"] = []string{
		"--name=etcd0",
		"--data-dir=" + f("etcd"),
		"--listen-client-urls=http://" + loop(c.ports.etcd),
		"--advertise-client-urls=http://" + loop(c.ports.etcd),
		"--listen-peer-urls=http://" + loop(c.ports.etcdPeer),
		"--initial-advertise-peer-urls=http://" + loop(c.ports.etcdPeer),
		"--initial-cluster=etcd0=http://" + loop(c.ports.etcdPeer),
		// A lone member elects itself in ~0.1 s instead of ~1 s.
		"--heartbeat-interval=10",
		"--election-timeout=100",
		"--unsafe-no-fsync", // test data need not survive a machine crash
		"--log-level=warn",
	}
	c.args["kube-apiserver"] = []string{
		"--etcd-servers=http://" + loop(c.ports.etcd),
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.apiserver),
		// 127.0.0.1 is refused as advertise address unless the endpoint
		// reconciler of Service "kubernetes" is off.
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--cert-dir=" + f("certs"),
		"--tls-cert-file=" + f("serving.crt"),
		"--tls-private-key-file=" + f("serving.key"),
		"--token-auth-file=" + f("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + f("sa.key"),
		"--service-account-signing-key-file=" + f("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		// Else every new Node is tainted not-ready:NoSchedule for good
		// (the node lifecycle controller that would lift it is off).
		"--disable-admission-plugins=TaintNodesByCondition",
		"--audit-policy-file=" + f("audit-policy.yaml"),
		"--audit-log-path=" + f("audit.log"),
		"--audit-log-format=json",
		"--audit-log-mode=blocking",
		"--audit-log-maxsize=4096", // MiB; never rotate during a test
		// On SIGTERM, close open watches after 2 s instead of waiting up
		// to the 60 s request timeout for them (RestartAPIServer).
		"--shutdown-send-retry-after=true",
	}
	if w := c.opts.TokenWebhook; w != nil {
		c.args["kube-apiserver"] = append(c.args["kube-apiserver"],
			"--authentication-token-webhook-config-file="+f("token-webhook.kubeconfig"),
			"--authentication-token-webhook-version=v1",
			"--authentication-token-webhook-cache-ttl="+w.CacheTTL.String())
	}
	c.args["kube-controller-manager"] = []string{
		kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.controllerManager),
		"--tls-cert-file=" + f("serving.crt"),
		"--tls-private-key-file=" + f("serving.key"),
		"--root-ca-file=" + f("ca.crt"),
		"--leader-elect=false",
		// kwok sends no node heartbeats: with the node lifecycle
		// controller on, the node would flap every ~50 s.
		"--controllers=*,-node-lifecycle-controller",
		// The default client limit (20 requests/s) is what paces many
		// rollouts at once here (the deployment and replicaset
		// controllers were measured at ~17 writes/s each); managed control
		// planes run higher. Raised so that fan-out tests and benchmarks
		// measure ferry, not a throttled controller.
		"--kube-api-qps=200",
		"--kube-api-burst=400",
	}
	c.args["kube-scheduler"] = []string{
		kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(c.ports.scheduler),
		"--tls-cert-file=" + f("serving.crt"),
		"--tls-private-key-file=" + f("serving.key"),
		"--leader-elect=false",
		"--kube-api-qps=200",
		"--kube-api-burst=400",
	}
	c.args["kwok"] = []string{
		kubeconfig,
		"--config=" + f("stages.yaml"),
		"--manage-all-nodes=true",
		"--cidr=10.244.0.0/16",
	}
}

func (c *Cluster) startComponent(name string) error {
	p, err := startProcess(name, filepath.Join(c.Dir, name+".log"), filepath.Join(c.bins, name), c.args[name]...)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.procs[name] = p
	c.mu.Unlock()
	return nil
}

// waitFor polls check every 100 ms until it succeeds, a component exits, or
// ctx ends.
func (c *Cluster) waitFor(ctx context.Context, what string, check func(context.Context) error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := check(cctx)
		cancel()
		if err == nil {
			return nil
		}
		if p := c.exitedComponent(); p != nil {
			return fmt.Errorf("waiting for %s: %w", what, p.exitError())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w (last check: %v)", what, ctx.Err(), err)
		case <-tick.C:
		}
	}
}

func (c *Cluster) exitedComponent() *process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, name := range components {
		if p := c.procs[name]; p != nil && p.exited() {
			return p
		}
	}
	return nil
}

func (c *Cluster) httpClient() *http.Client {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(c.caPEM)
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: pool},
		DisableKeepAlives: true,
	}}
}

// get GETs url and fails unless the answer is 200; token may be "".
func (c *Cluster) get(ctx context.Context, url, token string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.httpClient().Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return body, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return body, nil
}

func (c *Cluster) etcdHealthy(ctx context.Context) error {
	body, err := c.get(ctx, "http://127.0.0.1:"+strconv.Itoa(c.ports.etcd)+"/health", "")
	if err != nil {
		return err
	}
	if !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("etcd not healthy: %s", body)
	}
	return nil
}

func (c *Cluster) apiserverReady(ctx context.Context) error {
	_, err := c.get(ctx, c.Server+"/readyz", c.admin.BearerToken)
	return err
}

func (c *Cluster) healthz(port int) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := c.get(ctx, "https://127.0.0.1:"+strconv.Itoa(port)+"/healthz", "")
		return err
	}
}

// createNode registers the fake node; kwok's node-initialize stage makes it
// Ready. It has no taints.
func (c *Cluster) createNode(ctx context.Context) error {
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{
		Name: NodeName,
		Labels: map[string]string{
			"kubernetes.io/hostname": NodeName,
			"kubernetes.io/os":       "linux",
			"kubernetes.io/arch":     "amd64",
			"type":                   "kwok",
		},
		Annotations: map[string]string{"kwok.x-k8s.io/node": "fake"},
	}}
	_, err := c.Admin.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func (c *Cluster) nodeReady(ctx context.Context) error {
	node, err := c.Admin.CoreV1().Nodes().Get(ctx, NodeName, metav1.GetOptions{})
	if err != nil {
		return err
	}
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady && cond.Status == corev1.ConditionTrue {
			return nil
		}
	}
	return errors.New("node not Ready")
}

func (c *Cluster) defaultServiceAccount(ctx context.Context) error {
	_, err := c.Admin.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
	return err
}

// CAPEM returns the cluster CA certificate (PEM) that clients verify the
// API server with: the certificate-authority-data of a kubeconfig.
func (c *Cluster) CAPEM() []byte { return slices.Clone(c.caPEM) }

// AdminConfig returns a copy of the REST config behind Admin, for clients
// other than the typed clientset (dynamic, discovery).
func (c *Cluster) AdminConfig() *rest.Config { return rest.CopyConfig(c.admin) }

// KeepLogs makes Stop leave Dir in place and returns it, so a failing test
// can point at the logs.
func (c *Cluster) KeepLogs() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.keep = true
	return c.Dir
}

// StopOnCleanup registers Stop with tb.Cleanup. When the test has failed by
// then, the logs are kept and their directory is logged.
func (c *Cluster) StopOnCleanup(tb testing.TB) {
	tb.Helper()
	tb.Cleanup(func() {
		if tb.Failed() {
			tb.Logf("cluster %s: logs kept in %s", c.Name, c.KeepLogs())
		}
		if err := c.Stop(); err != nil {
			tb.Errorf("stopping cluster %s: %v", c.Name, err)
		}
	})
}

// Stop stops kwok, kube-scheduler, kube-controller-manager, kube-apiserver
// and etcd, in that order (SIGTERM, then SIGKILL after 10 s), waits for
// each, frees the ports and removes Dir unless KeepLogs was called. A
// component that had exited before Stop is reported as an error, and then
// Dir is kept. Stop is safe to call more than once.
func (c *Cluster) Stop() error {
	c.mu.Lock()
	if c.stopped {
		c.mu.Unlock()
		return nil
	}
	c.stopped = true
	c.mu.Unlock()
	var err error
	if p := c.exitedComponent(); p != nil {
		err = fmt.Errorf("component died while the cluster was in use (logs kept in %s): %w", c.KeepLogs(), p.exitError())
	}
	err = errors.Join(err, c.halt())
	c.mu.Lock()
	keep := c.keep
	c.mu.Unlock()
	if !keep {
		if rmErr := os.RemoveAll(c.Dir); rmErr != nil {
			err = errors.Join(err, fmt.Errorf("removing %s: %w", c.Dir, rmErr))
		}
	}
	if err != nil {
		return fmt.Errorf("stopping cluster %s: %w", c.Name, err)
	}
	return nil
}

// halt stops every component, clients first, and releases the ports.
func (c *Cluster) halt() error {
	var errs []error
	for i := len(components) - 1; i >= 0; i-- {
		c.mu.Lock()
		p := c.procs[components[i]]
		delete(c.procs, components[i])
		c.mu.Unlock()
		if p != nil {
			errs = append(errs, p.stop(stopGrace))
		}
	}
	releasePorts(c.ports.list())
	return errors.Join(errs...)
}

// discard halts a failed attempt and removes its directory.
func (c *Cluster) discard() {
	if c == nil {
		return
	}
	_ = c.halt() // best effort: the caller already failed
	os.RemoveAll(c.Dir)
}

// RestartAPIServer stops kube-apiserver and starts it again with the same
// flags on the same port, and returns once it is ready. The other
// components and clients reconnect on their own. Fault tests use it to
// make the API server vanish for a while.
func (c *Cluster) RestartAPIServer(ctx context.Context) error {
	if err := c.StopAPIServer(); err != nil {
		return err
	}
	return c.StartAPIServer(ctx)
}

// StopAPIServer stops kube-apiserver only; requests fail until
// StartAPIServer.
func (c *Cluster) StopAPIServer() error {
	c.mu.Lock()
	p := c.procs["kube-apiserver"]
	delete(c.procs, "kube-apiserver")
	c.mu.Unlock()
	if p == nil {
		return nil
	}
	if err := p.stop(stopGrace); err != nil {
		return fmt.Errorf("cluster %s: %w", c.Name, err)
	}
	return nil
}

// StartAPIServer starts kube-apiserver again after StopAPIServer, on the
// same port, and waits until it is ready.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	c.mu.Lock()
	running := c.procs["kube-apiserver"] != nil
	stopped := c.stopped
	c.mu.Unlock()
	if stopped || running {
		return fmt.Errorf("cluster %s: starting kube-apiserver: stopped=%v running=%v", c.Name, stopped, running)
	}
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	var err error
	// The old process released the port, but a fresh bind can still race
	// with the kernel; retry a few times.
	for attempt := 1; attempt <= startAttempts; attempt++ {
		if err = c.startComponent("kube-apiserver"); err != nil {
			break
		}
		err = c.waitFor(ctx, "kube-apiserver /readyz", c.apiserverReady)
		var exit *ExitError
		if err == nil || !errors.As(err, &exit) || exit.Component != "kube-apiserver" || !exit.addrInUse() {
			break
		}
		c.mu.Lock()
		delete(c.procs, "kube-apiserver")
		c.mu.Unlock()
		time.Sleep(500 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("cluster %s: restarting kube-apiserver: %w", c.Name, err)
	}
	return nil
}
