package kube

import (
	"bytes"
	"context"
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

	"github.com/ferry-dev/ferry/pkg/cloud/kubeauth"
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
	// Credentials stands in for the exec plugins ferry knows (aws,
	// aws-iam-authenticator, gke-gcloud-auth-plugin, kubelogin) as its
	// policy says; nil leaves every plugin to client-go.
	Credentials *kubeauth.Resolver
	// RequireContext refuses an address without ?context= when the
	// kubeconfig has several contexts (in CI, where the current context is
	// whatever the last step left).
	RequireContext bool
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
	// creds are the tokens ferry mints for a context's user, by context
	// ("" = current).
	creds map[string]*kubeauth.Credentials
}

// NewClients returns a client cache for cfg. Nothing is loaded until first
// use.
func NewClients(cfg Kubeconfig) *Clients {
	return &Clients{cfg: cfg, clients: map[string]API{}, creds: map[string]*kubeauth.Credentials{}}
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

// CheckContext returns an input error when context is not defined (""
// means the current context, which must then be set, and in CI the only
// one), when its cluster cannot be used, or when its user's credentials
// cannot be had: an exec plugin ferry neither has nor stands in for, or
// (when ferry mints the token) cloud credentials that do not work. It
// mints a token then, so that such problems end the run before anything
// changed.
func (c *Clients) CheckContext(ctx context.Context, contextName string) error {
	raw, err := c.load()
	if err != nil {
		return err
	}
	if raw == nil {
		if contextName != "" {
			return promote.Input(fmt.Errorf("context %q: running in-cluster without a kubeconfig, so no contexts exist; drop ?context= or provide a kubeconfig", contextName))
		}
		return nil
	}
	name, kc, err := c.context(raw, contextName)
	if err != nil {
		return err
	}
	if err := checkCluster(raw, name, kc); err != nil {
		return promote.Input(err)
	}
	creds, err := c.credentials(ctx, raw, contextName, name, kc)
	if err != nil || creds == nil {
		return err
	}
	if err := creds.Check(ctx); err != nil {
		return fmt.Errorf("context %q: %w", name, err)
	}
	return nil
}

// context finds the context an address names.
func (c *Clients) context(raw *clientcmdapi.Config, contextName string) (string, *clientcmdapi.Context, error) {
	names := make([]string, 0, len(raw.Contexts))
	for n := range raw.Contexts {
		names = append(names, n)
	}
	sort.Strings(names)
	if contextName == "" {
		switch {
		case raw.CurrentContext == "":
			return "", nil, promote.Input(errors.New("the kubeconfig has no current context: add ?context=NAME to the address"))
		case c.cfg.RequireContext && len(names) > 1:
			return "", nil, promote.Input(fmt.Errorf("the address names no context, and in CI the kubeconfig's current context (%q) is whatever an earlier step left: add ?context=NAME to the address (the kubeconfig has: %s)", raw.CurrentContext, strings.Join(names, ", ")))
		}
		contextName = raw.CurrentContext
	}
	kc, ok := raw.Contexts[contextName]
	if !ok {
		return "", nil, promote.Input(fmt.Errorf("context %q is not in the kubeconfig (it has: %s)", contextName, strings.Join(names, ", ")))
	}
	return contextName, kc, nil
}

// checkCluster finds what would only fail at the first API call: a
// cluster that is not defined or has no http(s) server.
func checkCluster(raw *clientcmdapi.Config, name string, kc *clientcmdapi.Context) error {
	cl, ok := raw.Clusters[kc.Cluster]
	if !ok {
		return fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", name, kc.Cluster)
	}
	if u, err := url.Parse(cl.Server); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return fmt.Errorf("context %q: cluster %q has server %q, which is not an https:// URL", name, kc.Cluster, cl.Server)
	}
	return nil
}

// credentials returns the tokens ferry mints for the context's user, nil
// when its user needs none from ferry (a token, a certificate, or an exec
// plugin client-go runs). A plugin that can be run by neither is an input
// error.
func (c *Clients) credentials(ctx context.Context, raw *clientcmdapi.Config, key, name string, kc *clientcmdapi.Context) (*kubeauth.Credentials, error) {
	ai, ok := raw.AuthInfos[kc.AuthInfo]
	if !ok || ai.Exec == nil || ai.Exec.Command == "" {
		return nil, nil
	}
	c.mu.Lock()
	creds, ok := c.creds[key]
	c.mu.Unlock()
	if ok {
		return creds, nil
	}
	r := c.cfg.Credentials
	if r == nil {
		r = &kubeauth.Resolver{Policy: kubeauth.PluginOnly}
		if _, err := exec.LookPath(ai.Exec.Command); err != nil {
			r.Policy = kubeauth.Auto
		}
	}
	src, err := r.Source(ctx, ai.Exec, raw.Clusters[kc.Cluster].Server)
	if err != nil {
		return nil, fmt.Errorf("context %q: user %q: %w", name, kc.AuthInfo, err)
	}
	if src != nil {
		creds = kubeauth.NewCredentials(src)
	}
	c.mu.Lock()
	c.creds[key] = creds
	c.mu.Unlock()
	return creds, nil
}

// RESTConfig returns the client configuration for context ("" = current).
func (c *Clients) RESTConfig(ctx context.Context, contextName string) (*rest.Config, error) {
	if err := c.CheckContext(ctx, contextName); err != nil {
		return nil, err
	}
	raw, _ := c.load()
	var rc *rest.Config
	var err error
	if raw == nil {
		rc, err = rest.InClusterConfig()
	} else {
		overrides := &clientcmd.ConfigOverrides{CurrentContext: contextName}
		rc, err = clientcmd.NewNonInteractiveClientConfig(*raw, contextName, overrides, nil).ClientConfig()
	}
	if err != nil {
		return nil, promote.Input(fmt.Errorf("kubeconfig context %q: %w", contextName, err))
	}
	if c.cfg.UserAgent != "" {
		rc.UserAgent = c.cfg.UserAgent
	}
	c.mu.Lock()
	creds := c.creds[contextName]
	c.mu.Unlock()
	if creds != nil {
		kubeauth.Configure(rc, creds)
	}
	rc.QPS, rc.Burst = 50, 100
	return rc, nil
}

// Client returns the (cached) API client for the context ("" = current).
func (c *Clients) Client(ctx context.Context, contextName string) (API, error) {
	c.mu.Lock()
	cs, ok := c.clients[contextName]
	c.mu.Unlock()
	if ok {
		return cs, nil
	}
	rc, err := c.RESTConfig(ctx, contextName)
	if err != nil {
		return nil, err
	}
	cs, err = NewAPI(rc)
	if err != nil {
		return nil, fmt.Errorf("kubeconfig context %q: %w", contextName, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if have, ok := c.clients[contextName]; ok {
		return have, nil // another goroutine made one meanwhile
	}
	c.clients[contextName] = cs
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
		for _, s := range append([]string{a.Token, a.Password, string(a.ClientKeyData)}, execSecrets(a.Exec)...) {
			if s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// secretArgs are exec plugin flags whose value is a secret (kubelogin's).
var secretArgs = []string{"--client-secret", "--password", "--client-certificate-password"}

// execSecrets are the secrets an exec plugin's configuration holds: the
// values of its environment variables named like credentials, and of
// its secret flags.
func execSecrets(ec *clientcmdapi.ExecConfig) []string {
	if ec == nil {
		return nil
	}
	var out []string
	for _, e := range ec.Env {
		n := strings.ToUpper(e.Name)
		if strings.Contains(n, "SECRET") || strings.Contains(n, "PASSWORD") || strings.Contains(n, "TOKEN") || strings.HasSuffix(n, "_KEY") {
			out = append(out, e.Value)
		}
	}
	for i, a := range ec.Args {
		for _, f := range secretArgs {
			switch {
			case a == f && i+1 < len(ec.Args):
				out = append(out, ec.Args[i+1])
			case strings.HasPrefix(a, f+"="):
				out = append(out, strings.TrimPrefix(a, f+"="))
			}
		}
	}
	return out
}

// Set replaces the client for a context (tests use fake clientsets).
func (c *Clients) Set(contextName string, cs API) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.clients[contextName] = cs
}
