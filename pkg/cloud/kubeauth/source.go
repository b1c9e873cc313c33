package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"sync"
	"time"

	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/ferry-dev/ferry/pkg/cloud/awsauth"
	"github.com/ferry-dev/ferry/pkg/cloud/azureauth"
	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/cloud/gcpauth"
	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Policy says when ferry mints a plugin's token itself.
type Policy string

// The policies.
const (
	// Auto mints when the plugin's command is not on PATH (the default).
	Auto Policy = "auto"
	// Ferry always mints, even when the plugin is installed.
	Ferry Policy = "ferry"
	// PluginOnly always runs the plugin, as client-go does.
	PluginOnly Policy = "plugin"
)

// ParsePolicy reads a policy setting; "" is Auto.
func ParsePolicy(s string) (Policy, error) {
	switch Policy(s) {
	case "", Auto:
		return Auto, nil
	case Ferry, PluginOnly:
		return Policy(s), nil
	}
	return "", fmt.Errorf("%q is not one of auto, ferry, plugin", s)
}

// Decide is the choice for one kubeconfig user: mint (true) or leave the
// exec plugin to client-go (false). recognized says ferry knows the plugin
// (Parse's ok), installed that its command is on PATH. A plugin that
// neither ferry nor the machine can run is an input error naming it.
func Decide(policy Policy, command string, recognized, installed bool) (bool, error) {
	switch {
	case policy == PluginOnly:
		return false, nil
	case policy == Auto && installed:
		return false, nil
	case recognized:
		return true, nil
	case policy == Ferry:
		return false, promote.Input(fmt.Errorf("credential plugin %q: %w: ferry mints tokens for %s; use a kubeconfig whose user runs one of those or has a token, or install the plugin and let ferry run it (policy auto or plugin)", command, ErrUnsupported, supportedPluginList))
	}
	return false, promote.Input(fmt.Errorf("credential plugin %q is not installed where ferry runs (not found in PATH), and ferry cannot stand in for it (%w): ferry mints tokens for %s; install the plugin, or use a kubeconfig whose user has a token", command, ErrUnsupported, supportedPluginList))
}

// Token is a bearer token and when it expires (zero: unknown).
type Token struct {
	Value  string
	Expiry time.Time
}

// Source mints bearer tokens for one cluster.
type Source interface {
	Token(ctx context.Context) (Token, error)
	// String says where tokens come from, for logs.
	String() string
}

// Resolver builds token sources for kubeconfig users. Its providers are
// shared by every cluster; nil ones are made with default settings on
// first use.
type Resolver struct {
	// Policy chooses between the plugin and ferry; "" is Auto.
	Policy Policy
	// Env is the process environment, laid under the exec config's env
	// when reading a plugin's variables (kubelogin's).
	Env ciauth.Lookup
	// AWS, Google: ferry's cloud providers.
	AWS    *awsauth.Provider
	Google *gcpauth.Provider
	// Azure is ferry's Azure settings; kubelogin's arguments are laid
	// over them.
	Azure azureauth.Settings
	// Report is told every token before it is used.
	Report secret.Reporter

	once sync.Once
	mu   sync.Mutex
	aks  map[azureKey]*azureauth.Provider
}

type azureKey struct {
	s      string
	cloud  string
	client string
}

func (r *Resolver) init() {
	r.once.Do(func() {
		if r.AWS == nil {
			r.AWS = awsauth.New(awsauth.Settings{Report: r.Report})
		}
		if r.Google == nil {
			r.Google = gcpauth.New(gcpauth.Settings{Report: r.Report})
		}
		r.aks = map[azureKey]*azureauth.Provider{}
	})
}

// Source returns the token source for a kubeconfig user's exec plugin,
// or nil when client-go should run the plugin. server is the cluster's
// API server URL (an EKS URL names the region when the plugin does not).
func (r *Resolver) Source(ctx context.Context, ec *clientcmdapi.ExecConfig, server string) (Source, error) {
	if ec == nil || ec.Command == "" {
		return nil, nil
	}
	p, recognized, perr := Parse(ec, r.Env)
	_, lookErr := exec.LookPath(ec.Command)
	policy := r.Policy
	if policy == "" {
		policy = Auto
	}
	mint, err := Decide(policy, ec.Command, recognized, lookErr == nil)
	if err != nil || !mint {
		return nil, err
	}
	if perr != nil {
		return nil, perr
	}
	r.init()
	switch p.Kind {
	case AWSCLI, IAMAuthenticator:
		region := p.Region
		if region == "" {
			region = RegionFromServer(server)
		}
		e, err := r.AWS.EKS(ctx, awsauth.EKSRequest{Cluster: p.Cluster, Region: region, Profile: p.Profile, Role: p.Role})
		if err != nil {
			return nil, err
		}
		return eksSource{e: e, desc: fmt.Sprintf("%s for cluster %s, minted by ferry", p.Kind, p.Cluster)}, nil
	case GKEPlugin:
		return gkeSource{p: r.Google}, nil
	case Kubelogin:
		s, err := AzureSettings(p, r.Azure, r.Report)
		if err != nil {
			return nil, err
		}
		return aksSource{p: r.azure(s), scope: azureauth.ScopeFor(p.ServerID)}, nil
	}
	return nil, errors.New("kubeauth: unhandled plugin kind " + string(p.Kind))
}

// azure returns one provider per distinct settings, so clusters that
// sign in the same way share azidentity's token cache.
func (r *Resolver) azure(s azureauth.Settings) *azureauth.Provider {
	k := azureKey{s: fmt.Sprintf("%s|%s|%s|%s|%s|%s|%v|%s|%s", s.Mode, s.TenantID, s.ClientID, s.ClientCertificate, s.FederatedTokenFile, s.AuthorityHost, s.ManagedIdentity, s.ManagedIdentityResourceID, s.ClientSecret), cloud: s.Cloud, client: s.ClientID}
	r.mu.Lock()
	defer r.mu.Unlock()
	if p, ok := r.aks[k]; ok {
		return p
	}
	p := azureauth.New(s)
	r.aks[k] = p
	return p
}

// interactive lists kubelogin's login methods that need a person or a
// tool ferry does not have.
var interactive = map[string]bool{"devicecode": true, "interactive": true, "ropc": true, "azd": true, "azurepipelines": true}

// AzureSettings lays a kubelogin plugin's arguments over ferry's own Azure
// settings. The non-interactive methods keep their own credential,
// borrowing from ferry's settings only what they leave out (the tenant,
// the CI's OIDC token); the interactive ones, and azurecli without az,
// use ferry's settings whole when those name a credential.
func AzureSettings(p Plugin, base azureauth.Settings, report secret.Reporter) (azureauth.Settings, error) {
	base.Report = report
	if p.Environment != "" {
		base.Cloud = p.Environment
	}
	if p.DisableInstanceDiscovery {
		base.DisableInstanceDiscovery = true
	}
	fallback := func(why string) (azureauth.Settings, error) {
		if base.Explicit() {
			base.Mode = azureauth.Auto
			return base, nil
		}
		return azureauth.Settings{}, promote.Input(fmt.Errorf("credential plugin %q: kubelogin --login %s %s: convert the kubeconfig with `kubelogin convert-kubeconfig -l spn|workloadidentity|msi`, or give ferry an Azure credential (AZURE_CLIENT_ID and AZURE_TENANT_ID with a secret, a certificate, a federated token file, or the CI's OIDC token)",
			p.Command, p.Login, why))
	}
	s := base
	s.ClientID = pick(p.ClientID, base.ClientID)
	s.TenantID = pick(p.TenantID, base.TenantID)
	s.AuthorityHost = pick(p.AuthorityHost, base.AuthorityHost)
	switch p.Login {
	case "spn":
		s.Mode = azureauth.ServicePrincipal
		if p.ClientSecret != "" || p.ClientCertificate != "" {
			s.ClientSecret, s.ClientCertificate, s.ClientCertificatePassword = p.ClientSecret, p.ClientCertificate, p.ClientCertificatePassword
		}
	case "workloadidentity":
		s.Mode = azureauth.WorkloadIdentity
		s.FederatedTokenFile = pick(p.FederatedTokenFile, base.FederatedTokenFile)
	case "msi":
		s = azureauth.Settings{Mode: azureauth.ManagedIdentity, ClientID: p.ClientID, ManagedIdentity: true, ManagedIdentityResourceID: p.IdentityResourceID,
			Cloud: base.Cloud, AuthorityHost: base.AuthorityHost, HTTPClient: base.HTTPClient, Report: report}
	case "azurecli":
		if _, err := exec.LookPath("az"); err != nil {
			return fallback("needs the Azure CLI, which is not installed where ferry runs")
		}
		s.Mode = azureauth.AzureCLI
	default:
		if interactive[p.Login] {
			return fallback("signs in interactively, which ferry cannot do")
		}
		return azureauth.Settings{}, promote.Input(fmt.Errorf("credential plugin %q: kubelogin --login %q is not a login method ferry knows: use spn, workloadidentity, msi or azurecli", p.Command, p.Login))
	}
	return s, nil
}

type eksSource struct {
	e    *awsauth.EKS
	desc string
}

func (s eksSource) String() string { return s.desc }
func (s eksSource) Token(ctx context.Context) (Token, error) {
	t, err := s.e.Token(ctx)
	return Token{Value: t.Value, Expiry: t.Expiry}, err
}

type gkeSource struct{ p *gcpauth.Provider }

func (s gkeSource) String() string {
	from, err := s.p.Source(context.Background())
	if err != nil {
		return "gke-gcloud-auth-plugin, minted by ferry"
	}
	return "gke-gcloud-auth-plugin, minted by ferry from " + from
}

func (s gkeSource) Token(ctx context.Context) (Token, error) {
	t, err := s.p.Mint(ctx)
	if err != nil {
		return Token{}, err
	}
	return Token{Value: t.AccessToken, Expiry: t.Expiry}, nil
}

type aksSource struct {
	p     *azureauth.Provider
	scope string
}

func (s aksSource) String() string {
	from, err := s.p.Source()
	if err != nil {
		return "kubelogin, minted by ferry"
	}
	return "kubelogin, minted by ferry as " + from
}

func (s aksSource) Token(ctx context.Context) (Token, error) {
	t, err := s.p.Token(ctx, s.scope)
	if err != nil {
		return Token{}, err
	}
	return Token{Value: t.Token, Expiry: t.ExpiresOn}, nil
}
