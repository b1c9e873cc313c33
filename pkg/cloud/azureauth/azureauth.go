package azureauth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/cloud/credcache"
	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/promote"
)

const (
	// AKSServerID is the application id of the AKS Entra ID server
	// application every AKS cluster with Entra integration trusts.
	AKSServerID = "6dae42f8-4368-4678-94ff-3960e28e3630"
	// AKSScope is the scope of AKS tokens.
	AKSScope = AKSServerID + "/.default"
	// FederationAudience is the audience Entra ID expects of a federated
	// token.
	FederationAudience = "api://AzureADTokenExchange"
)

// ScopeFor returns the scope of a kubeconfig's --server-id: the id or
// URI with "/.default".
func ScopeFor(serverID string) string {
	if serverID == "" {
		return AKSScope
	}
	return strings.TrimSuffix(serverID, "/") + "/.default"
}

// Mode is one way of signing in.
type Mode string

// The modes, named as kubelogin names its --login methods.
const (
	Auto             Mode = ""
	ServicePrincipal Mode = "spn"
	WorkloadIdentity Mode = "workloadidentity"
	ManagedIdentity  Mode = "msi"
	AzureCLI         Mode = "azurecli"
)

// Settings configure a Provider. All are optional.
type Settings struct {
	// Mode forces one way of signing in; Auto picks the first the values
	// allow.
	Mode Mode
	// TenantID and ClientID name the tenant and the application (or the
	// user-assigned managed identity's client id).
	TenantID, ClientID string
	// ClientSecret is a service principal's secret.
	ClientSecret string
	// ClientCertificate is the path of a PEM or PKCS#12 file with the
	// certificate and its private key; ClientCertificatePassword opens it.
	ClientCertificate, ClientCertificatePassword string
	// FederatedTokenFile is a workload identity token file.
	FederatedTokenFile string
	// OIDC supplies the CI job's ID token as a federated assertion.
	OIDC ciauth.Source
	// Audience is asked of OIDC; "" means the source's fixed audience
	// (CircleCI) or FederationAudience.
	Audience string
	// ManagedIdentity allows signing in as the machine's managed identity;
	// ManagedIdentityResourceID selects a user-assigned one by resource id.
	ManagedIdentity           bool
	ManagedIdentityResourceID string
	// Cloud is kubelogin's --environment: AzurePublicCloud (default),
	// AzureChinaCloud or AzureUSGovernmentCloud.
	Cloud string
	// AuthorityHost replaces the cloud's Entra ID host (AZURE_AUTHORITY_HOST).
	AuthorityHost string
	// DisableInstanceDiscovery skips MSAL's instance discovery request.
	DisableInstanceDiscovery bool
	// HTTPClient sends every request; nil means azcore's default.
	HTTPClient *http.Client
	// Report is told every token before it is returned.
	Report secret.Reporter
}

// Provider gets Entra ID tokens. It is safe for concurrent use.
type Provider struct {
	s Settings

	once sync.Once
	cred azcore.TokenCredential
	from string
	err  error

	acr credcache.Cache[string] // refresh tokens by registry
}

// New returns a Provider; nothing is read or asked until first use.
func New(s Settings) *Provider {
	return &Provider{s: s}
}

// Explicit reports whether the settings name a credential, rather than
// leaving the choice to what the machine has (managed identity, az).
func (s Settings) Explicit() bool {
	return s.ClientID != "" && (s.ClientSecret != "" || s.ClientCertificate != "" || s.FederatedTokenFile != "" || s.OIDC != nil)
}

// Cloud returns the azcore cloud for a kubelogin --environment name.
func Cloud(name string) (cloud.Configuration, error) {
	switch strings.ToLower(name) {
	case "", "azurepubliccloud", "azurecloud", "public":
		return cloud.AzurePublic, nil
	case "azurechinacloud", "china":
		return cloud.AzureChina, nil
	case "azureusgovernmentcloud", "azureusgovernment", "usgovernment":
		return cloud.AzureGovernment, nil
	}
	return cloud.Configuration{}, promote.Input(fmt.Errorf("azure environment %q is not known: use AzurePublicCloud, AzureChinaCloud or AzureUSGovernmentCloud", name))
}

// Source says which credential serves tokens, for logs.
func (p *Provider) Source() (string, error) {
	p.resolve()
	return p.from, p.err
}

// Token returns a token for scope. azidentity caches tokens and renews
// them shortly before they expire, so the same token may come back.
func (p *Provider) Token(ctx context.Context, scope string) (azcore.AccessToken, error) {
	p.resolve()
	if p.err != nil {
		return azcore.AccessToken{}, p.err
	}
	tok, err := p.cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}, TenantID: p.s.TenantID})
	if err != nil {
		return azcore.AccessToken{}, classify(err, p.from, scope)
	}
	p.s.Report.Report(tok.Token)
	return tok, nil
}

func (p *Provider) resolve() {
	p.once.Do(func() { p.cred, p.from, p.err = p.credential() })
}

func (p *Provider) clientOptions() (azcore.ClientOptions, error) {
	c, err := Cloud(p.s.Cloud)
	if err != nil {
		return azcore.ClientOptions{}, err
	}
	if p.s.AuthorityHost != "" {
		c.ActiveDirectoryAuthorityHost = p.s.AuthorityHost
	}
	o := azcore.ClientOptions{Cloud: c}
	if p.s.HTTPClient != nil {
		o.Transport = p.s.HTTPClient
	}
	return o, nil
}

// credential builds the credential the settings choose.
func (p *Provider) credential() (azcore.TokenCredential, string, error) {
	s := p.s
	co, err := p.clientOptions()
	if err != nil {
		return nil, "", err
	}
	mode := s.Mode
	if mode == Auto {
		mode = p.pick()
	}
	need := func(what ...string) error {
		var missing []string
		for i := 0; i+1 < len(what); i += 2 {
			if what[i+1] == "" {
				missing = append(missing, what[i])
			}
		}
		if len(missing) > 0 {
			return promote.Input(fmt.Errorf("azure sign-in as %s needs %s: set %s", mode, strings.Join(missing, " and "), strings.Join(missing, ", ")))
		}
		return nil
	}
	switch mode {
	case ServicePrincipal:
		if err := need("AZURE_TENANT_ID", s.TenantID, "AZURE_CLIENT_ID", s.ClientID); err != nil {
			return nil, "", err
		}
		switch {
		case s.ClientSecret != "":
			c, err := azidentity.NewClientSecretCredential(s.TenantID, s.ClientID, s.ClientSecret, &azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: s.DisableInstanceDiscovery})
			return c, "service principal " + s.ClientID + " (client secret)", wrapNew(err)
		case s.ClientCertificate != "":
			b, err := os.ReadFile(s.ClientCertificate)
			if err != nil {
				return nil, "", promote.Input(fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: cannot read %s: %w", s.ClientCertificate, unwrapPath(err)))
			}
			certs, key, err := azidentity.ParseCertificates(b, []byte(s.ClientCertificatePassword))
			if err != nil {
				return nil, "", promote.Input(fmt.Errorf("AZURE_CLIENT_CERTIFICATE_PATH: %s holds no certificate with its private key (PEM, or PKCS#12 opened by AZURE_CLIENT_CERTIFICATE_PASSWORD): %w", s.ClientCertificate, err))
			}
			c, err := azidentity.NewClientCertificateCredential(s.TenantID, s.ClientID, certs, key, &azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: s.DisableInstanceDiscovery})
			return c, "service principal " + s.ClientID + " (certificate)", wrapNew(err)
		}
		return nil, "", promote.Input(errors.New("azure sign-in as a service principal needs a secret or a certificate: set FERRY_AZURE_CLIENT_SECRET, or AZURE_CLIENT_CERTIFICATE_PATH"))
	case WorkloadIdentity:
		if err := need("AZURE_TENANT_ID", s.TenantID, "AZURE_CLIENT_ID", s.ClientID); err != nil {
			return nil, "", err
		}
		if s.FederatedTokenFile != "" {
			f := &ciauth.File{Path: s.FederatedTokenFile, Setting: "AZURE_FEDERATED_TOKEN_FILE", Report: s.Report}
			c, err := p.assertion(f, co)
			return c, "workload identity " + s.ClientID + " (token file " + s.FederatedTokenFile + ")", err
		}
		if s.OIDC != nil {
			c, err := p.assertion(s.OIDC, co)
			return c, "federated credential " + s.ClientID + " (" + s.OIDC.String() + ")", err
		}
		return nil, "", promote.Input(errors.New("azure workload identity needs a federated token: set AZURE_FEDERATED_TOKEN_FILE, or run in GitHub Actions with `permissions: id-token: write` or in a CircleCI job with a context"))
	case ManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		what := "system-assigned"
		switch {
		case s.ManagedIdentityResourceID != "":
			o.ID, what = azidentity.ResourceID(s.ManagedIdentityResourceID), s.ManagedIdentityResourceID
		case s.ClientID != "":
			o.ID, what = azidentity.ClientID(s.ClientID), s.ClientID
		}
		c, err := azidentity.NewManagedIdentityCredential(o)
		return c, "managed identity " + what, wrapNew(err)
	case AzureCLI:
		if _, err := exec.LookPath("az"); err != nil {
			return nil, "", promote.Input(errors.New("azure sign-in through the Azure CLI needs `az`, which is not installed where ferry runs: sign in with a service principal (AZURE_CLIENT_ID, AZURE_TENANT_ID, AZURE_CLIENT_SECRET) or federation (AZURE_CLIENT_ID, AZURE_TENANT_ID and the CI's OIDC token) instead"))
		}
		c, err := azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: s.TenantID})
		return c, "Azure CLI login", wrapNew(err)
	}
	return nil, "", promote.Input(errors.New("no Azure credentials found: set AZURE_CLIENT_ID and AZURE_TENANT_ID with AZURE_CLIENT_SECRET, AZURE_CLIENT_CERTIFICATE_PATH or AZURE_FEDERATED_TOKEN_FILE, or federate the CI's OIDC token (GitHub Actions with `permissions: id-token: write`, CircleCI with a context)"))
}

// pick chooses a mode from the values set, in the documented order; ""
// when none fits.
func (p *Provider) pick() Mode {
	s := p.s
	switch {
	case s.ClientID != "" && (s.ClientSecret != "" || s.ClientCertificate != ""):
		return ServicePrincipal
	case s.ClientID != "" && (s.FederatedTokenFile != "" || s.OIDC != nil):
		return WorkloadIdentity
	case s.ManagedIdentity:
		return ManagedIdentity
	}
	if _, err := exec.LookPath("az"); err == nil {
		return AzureCLI
	}
	return ""
}

// PickMode is the choice New makes for s when s.Mode is Auto, for logs
// and tests; "" means no credential.
func PickMode(s Settings) Mode { return (&Provider{s: s}).pick() }

// assertion signs in with a federated token from src.
func (p *Provider) assertion(src ciauth.Source, co azcore.ClientOptions) (azcore.TokenCredential, error) {
	get := func(ctx context.Context) (string, error) {
		return src.Token(ctx, ciauth.Audience(ctx, src, p.s.Audience, FederationAudience))
	}
	c, err := azidentity.NewClientAssertionCredential(p.s.TenantID, p.s.ClientID, get, &azidentity.ClientAssertionCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: p.s.DisableInstanceDiscovery})
	return c, wrapNew(err)
}

func wrapNew(err error) error {
	if err != nil {
		return promote.Input(fmt.Errorf("azure credential: %w", err))
	}
	return nil
}

// classify turns Entra ID's refusals into input errors; only the AADSTS
// code and the first line of its description are kept.
func classify(err error, from, scope string) error {
	if promote.IsInput(err) {
		return err
	}
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) && ae.RawResponse != nil && ae.RawResponse.StatusCode >= 400 && ae.RawResponse.StatusCode < 500 {
		return promote.Input(fmt.Errorf("azure token for %s from %s refused: %s; check FERRY_AZURE_TENANT_ID, FERRY_AZURE_CLIENT_ID and its credential (FERRY_AZURE_CLIENT_SECRET, a certificate), and for federation the federated credential's issuer, subject and FERRY_AZURE_AUDIENCE", scope, from, firstLine(ae.Error(), "AADSTS")))
	}
	return fmt.Errorf("azure token for %s from %s: %w", scope, from, err)
}

// firstLine returns the line of s that holds marker, else its first line.
func firstLine(s, marker string) string {
	lines := strings.Split(s, "\n")
	for _, l := range lines {
		if strings.Contains(l, marker) {
			return strings.TrimSpace(l)
		}
	}
	return strings.TrimSpace(lines[0])
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
