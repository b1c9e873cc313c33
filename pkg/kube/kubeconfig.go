package kube

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Kubeconfig says where cluster credentials come from. Data wins over
// Paths; with neither, the default loading rules apply (KUBECONFIG as read
// by the caller, then ~/.kube/config), and inside a pod with no kubeconfig
// the in-cluster service account is used.
type Kubeconfig struct {
	// Paths is a KUBECONFIG-style path list.
	Paths string
	// Data is a kubeconfig, base64-encoded or raw YAML. It stays in
	// memory: it is never written to disk.
	Data string
	// UserAgent is set on every client.
	UserAgent string
	// Home is the home directory: without Paths, ~/.kube/config is read.
	Home string
	// InCluster is true inside a Kubernetes pod (KUBERNETES_SERVICE_HOST
	// and _PORT set): without a kubeconfig, the pod's service account is
	// used.
	InCluster bool
}

// Clients builds and caches one client per kubeconfig context.
type Clients struct {
	cfg  Kubeconfig
	once sync.Once
	raw  *clientcmdapi.Config // nil when in-cluster
	err  error

	mu      sync.Mutex
	clients map[string]API
}

// NewClients returns a client cache for cfg. Nothing is loaded until first
// use.
func NewClients(cfg Kubeconfig) *Clients {
	return &Clients{cfg: cfg, clients: map[string]API{}}
}

// load reads the kubeconfig once.
func (c *Clients) load() (*clientcmdapi.Config, error) {
	c.once.Do(func() { c.raw, c.err = c.cfg.load() })
	return c.raw, c.err
}

func (k Kubeconfig) load() (*clientcmdapi.Config, error) {
	if strings.TrimSpace(k.Data) != "" {
		b, err := decodeData(k.Data)
		if err != nil {
			return nil, err
		}
		cfg, err := clientcmd.Load(b)
		if err != nil {
			// clientcmd's errors quote the YAML, which holds credentials.
			return nil, promote.Input(errors.New("FERRY_KUBECONFIG_DATA: not a valid kubeconfig (base64 or YAML); check that the whole file was copied into the secret"))
		}
		return cfg, nil
	}
	// The paths come from the caller, never from the process
	// environment clientcmd would read KUBECONFIG and HOME from.
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: filepath.SplitList(k.Paths)}
	if k.Paths == "" && k.Home != "" {
		rules.Precedence = []string{filepath.Join(k.Home, clientcmd.RecommendedHomeDir, clientcmd.RecommendedFileName)}
	}
	cfg, err := rules.Load()
	if err != nil {
		return nil, promote.Input(fmt.Errorf("loading kubeconfig: %w", err))
	}
	if len(cfg.Contexts) == 0 && k.Paths == "" && k.InCluster {
		return nil, nil // in-cluster
	}
	if len(cfg.Contexts) == 0 {
		where := strings.Join(rules.Precedence, string(filepath.ListSeparator))
		if where == "" {
			where = "no kubeconfig file (FERRY_KUBECONFIG and HOME are unset)"
		}
		return nil, promote.Input(fmt.Errorf("no kubeconfig contexts found in %s: set KUBECONFIG to a kubeconfig file or FERRY_KUBECONFIG_DATA to its contents (base64)", where))
	}
	return cfg, nil
}

// decodeData accepts raw YAML/JSON or base64 (standard or URL alphabet,
// with or without padding and line breaks).
func decodeData(s string) ([]byte, error) {
	t := strings.TrimSpace(s)
	if strings.Contains(t, "apiVersion") || strings.Contains(t, "clusters:") || strings.HasPrefix(t, "{") {
		return []byte(t), nil
	}
	compact := strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == ' ' || r == '\t' {
			return -1
		}
		return r
	}, t)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(compact); err == nil && len(bytes.TrimSpace(b)) > 0 {
			return b, nil
		}
	}
	return nil, promote.Input(errors.New("FERRY_KUBECONFIG_DATA: neither base64 nor YAML; set it to the output of `base64 -w0 ~/.kube/config`"))
}

// Contexts lists the contexts the kubeconfig defines, sorted.
func (c *Clients) Contexts() ([]string, error) {
	raw, err := c.load()
	if err != nil || raw == nil {
		return nil, err
	}
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// CheckContext returns an input error when context is not defined (""
// means the current context, which must then be set).
func (c *Clients) CheckContext(context string) error {
	raw, err := c.load()
	if err != nil {
		return err
	}
	if raw == nil {
		if context != "" {
			return promote.Input(fmt.Errorf("context %q: running in-cluster without a kubeconfig, so no contexts exist; drop ?context= or provide a kubeconfig", context))
		}
		return nil
	}
	if context == "" {
		if raw.CurrentContext == "" {
			return promote.Input(errors.New("the kubeconfig has no current context: add ?context=NAME to the address"))
		}
		context = raw.CurrentContext
	}
	kc, ok := raw.Contexts[context]
	if !ok {
		names, _ := c.Contexts()
		return promote.Input(fmt.Errorf("context %q is not in the kubeconfig (it has: %s)", context, strings.Join(names, ", ")))
	}
	return promote.Input(checkContext(raw, context, kc))
}

// checkContext finds what would only fail at the first API call: a
// cluster that is not defined or has no http(s) server, and a credential
// plugin that is not installed.
func checkContext(raw *clientcmdapi.Config, name string, kc *clientcmdapi.Context) error {
	cl, ok := raw.Clusters[kc.Cluster]
	if !ok {
		return fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", name, kc.Cluster)
	}
	if u, err := url.Parse(cl.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("context %q: cluster %q has server %q, which is not an https:// URL", name, kc.Cluster, cl.Server)
	}
	if ai, ok := raw.AuthInfos[kc.AuthInfo]; ok && ai.Exec != nil && ai.Exec.Command != "" {
		if _, err := exec.LookPath(ai.Exec.Command); err != nil {
			return fmt.Errorf("context %q: user %q gets its credentials from the plugin %q, which is not installed where ferry runs (not found in PATH): install it, or use a kubeconfig whose user has a token",
				name, kc.AuthInfo, ai.Exec.Command)
		}
	}
	return nil
}

// RESTConfig returns the client configuration for context ("" = current).
func (c *Clients) RESTConfig(context string) (*rest.Config, error) {
	if err := c.CheckContext(context); err != nil {
		return nil, err
	}
	raw, _ := c.load()
	var rc *rest.Config
	var err error
	if raw == nil {
		rc, err = rest.InClusterConfig()
	} else {
		overrides := &clientcmd.ConfigOverrides{CurrentContext: context}
		rc, err = clientcmd.NewNonInteractiveClientConfig(*raw, context, overrides, nil).ClientConfig()
	}
	if err != nil {
		return nil, promote.Input(fmt.Errorf("kubeconfig context %q: %w", context, err))
	}
	if c.cfg.UserAgent != "" {
		rc.UserAgent = c.cfg.UserAgent
	}
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}

// Client returns the (cached) API client for context.
func (c *Clients) Client(context string) (API, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cs, ok := c.clients[context]; ok {
		return cs, nil
	}
	rc, err := c.RESTConfig(context)
	if err != nil {
		return nil, err
	}
	cs, err := NewAPI(rc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", context, err)
	}
	c.clients[context] = cs
	return cs, nil
}

// Secrets returns the credential values found in the kubeconfig (tokens,
// passwords, client keys), so callers can mask them.
func (c *Clients) Secrets() []string {
	raw, err := c.load()
	if err != nil || raw == nil {
		return nil
	}
	var out []string
	for _, a := range raw.AuthInfos {
		for _, s := range []string{a.Token, a.Password, string(a.ClientKeyData)} {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// Set replaces the client for context (tests use fake clientsets).
func (c *Clients) Set(context string, cs API) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clients[context] = cs
}
