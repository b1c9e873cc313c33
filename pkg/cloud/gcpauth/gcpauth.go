package gcpauth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/google"
	"golang.org/x/oauth2/google/externalaccount"

	"github.com/ferry-dev/ferry/pkg/cloud/ciauth"
	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Scopes are what gke-gcloud-auth-plugin asks for: cloud-platform, and
// userinfo.email so GKE sees a service account's email, not its number.
var Scopes = []string{
	"https://www.googleapis.com/auth/cloud-platform",
	"https://www.googleapis.com/auth/userinfo.email",
}

const (
	stsTokenURL      = "https://sts.googleapis.com/v1/token"
	impersonationURL = "https://iamcredentials.googleapis.com/v1/projects/-/serviceAccounts/%s:generateAccessToken"
	jwtTokenType     = "urn:ietf:params:oauth:token-type:jwt"
	// earlyRenewal is how long before expiry TokenSource renews.
	earlyRenewal = 5 * time.Minute
)

// Settings configure a Provider. All are optional.
type Settings struct {
	// WorkloadIdentityProvider is a workload identity pool provider,
	// "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER"
	// (a "//iam.googleapis.com/" or "https://iam.googleapis.com/" prefix is
	// accepted). With OIDC, it makes federation in process.
	WorkloadIdentityProvider string
	// ServiceAccount is impersonated after federation (its email).
	ServiceAccount string
	// Audience is asked of the OIDC source; "" means the source's fixed
	// audience (CircleCI) or "https://iam.googleapis.com/" + the provider,
	// the default a provider accepts.
	Audience string
	// OIDC supplies the CI job's ID token.
	OIDC ciauth.Source
	// CredentialsFile is a credentials JSON file (GOOGLE_APPLICATION_CREDENTIALS).
	CredentialsFile string
	// ConfigDir is gcloud's configuration directory (CLOUDSDK_CONFIG); ""
	// means ~/.config/gcloud under Home.
	ConfigDir string
	// Home is the user's home directory, for ConfigDir's default.
	Home string
	// MetadataHost is GCE_METADATA_HOST. The metadata server is asked
	// only when it is set or the machine says it is a Google Compute
	// Engine VM (a GKE node is one): probing for it elsewhere costs
	// seconds, and on other clouds the address belongs to their own
	// metadata service.
	MetadataHost string
	// Scopes replace the default Scopes.
	Scopes []string
	// HTTPClient sends every request; nil means a client on Go's default
	// transport.
	HTTPClient *http.Client
	// Report is told every token before it is returned.
	Report secret.Reporter
}

// Provider mints Google access tokens. It is safe for concurrent use.
type Provider struct {
	s Settings

	once sync.Once
	mint func(context.Context) (*oauth2.Token, error)
	from string
	err  error

	tsOnce sync.Once
	ts     oauth2.TokenSource
}

// New returns a Provider. Nothing is read or asked until first use.
func New(s Settings) *Provider {
	if len(s.Scopes) == 0 {
		s.Scopes = Scopes
	}
	return &Provider{s: s}
}

var providerName = regexp.MustCompile(`^projects/[0-9]+/locations/global/workloadIdentityPools/[a-z0-9-]+/providers/[a-z0-9-]+$`)

// ProviderName normalizes a workload identity provider's resource name to
// "projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER",
// or returns an input error that shows the expected form.
func ProviderName(s string) (string, error) {
	n := strings.TrimSpace(s)
	for _, p := range []string{"//iam.googleapis.com/", "https://iam.googleapis.com/"} {
		n = strings.TrimPrefix(n, p)
	}
	if !providerName.MatchString(n) {
		return "", promote.Input(fmt.Errorf("workload identity provider %q is not a provider's resource name: write projects/PROJECT_NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER, as `gcloud iam workload-identity-pools providers describe --format='value(name)'` prints it", s))
	}
	return n, nil
}

// Source says where tokens come from, for logs ("workload identity
// federation ...", "credentials file ...", "metadata server"). It finds
// the credentials if that has not happened yet.
func (p *Provider) Source(ctx context.Context) (string, error) {
	p.resolve(ctx)
	return p.from, p.err
}

// Mint returns a new access token on every call (a metadata server may
// hand out the one it caches).
func (p *Provider) Mint(ctx context.Context) (*oauth2.Token, error) {
	p.resolve(ctx)
	if p.err != nil {
		return nil, p.err
	}
	tok, err := p.mint(ctx)
	if err != nil {
		return nil, classify(err, p.from)
	}
	p.s.Report.Report(tok.AccessToken, tok.RefreshToken)
	return tok, nil
}

// TokenSource returns a source that caches tokens from Mint and renews
// them five minutes before they expire.
func (p *Provider) TokenSource() oauth2.TokenSource {
	p.tsOnce.Do(func() {
		p.ts = oauth2.ReuseTokenSourceWithExpiry(nil, mintSource{p}, earlyRenewal)
	})
	return p.ts
}

type mintSource struct{ p *Provider }

func (m mintSource) Token() (*oauth2.Token, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return m.p.Mint(ctx)
}

// baseContext carries the HTTP client into x/oauth2, which keeps the
// context of a token source for every later request: it must not be a
// request's context that ends.
func (p *Provider) baseContext() context.Context {
	c := p.s.HTTPClient
	if c == nil {
		c = &http.Client{Timeout: time.Minute}
	}
	return context.WithValue(context.Background(), oauth2.HTTPClient, c)
}

func (p *Provider) resolve(ctx context.Context) {
	p.once.Do(func() { p.mint, p.from, p.err = p.find(ctx) })
}

// find picks the credentials, in the order the package documents.
func (p *Provider) find(ctx context.Context) (func(context.Context) (*oauth2.Token, error), string, error) {
	s := p.s
	if s.WorkloadIdentityProvider != "" || (s.ServiceAccount != "" && s.CredentialsFile == "") {
		return p.federation(ctx)
	}
	if s.CredentialsFile != "" {
		b, err := os.ReadFile(s.CredentialsFile)
		if err != nil {
			return nil, "", promote.Input(fmt.Errorf("GOOGLE_APPLICATION_CREDENTIALS: cannot read %s: %w; point it at a key or credential configuration file that exists where ferry runs", s.CredentialsFile, unwrapPath(err)))
		}
		return p.fromJSON(b, "credentials file "+s.CredentialsFile, "GOOGLE_APPLICATION_CREDENTIALS")
	}
	dir := s.ConfigDir
	if dir == "" && s.Home != "" {
		dir = filepath.Join(s.Home, ".config", "gcloud")
	}
	if dir != "" {
		adc := filepath.Join(dir, "application_default_credentials.json")
		if b, err := os.ReadFile(adc); err == nil {
			return p.fromJSON(b, "gcloud application default credentials "+adc, adc)
		}
	}
	if s.MetadataHost != "" || onGoogleHardware() {
		scopes := s.Scopes
		return func(context.Context) (*oauth2.Token, error) {
			return google.ComputeTokenSource("", scopes...).Token()
		}, "metadata server", nil
	}
	return nil, "", promote.Input(errors.New("no Google credentials found: set FERRY_GCP_WORKLOAD_IDENTITY_PROVIDER (and FERRY_GCP_SERVICE_ACCOUNT to impersonate one) for the CI's OIDC token, or FERRY_GOOGLE_APPLICATION_CREDENTIALS to a service account key or credential configuration file, or run `gcloud auth application-default login`"))
}

// onGoogleHardware reads the DMI product name Google's VMs report.
func onGoogleHardware() bool {
	b, _ := os.ReadFile("/sys/class/dmi/id/product_name")
	name := strings.TrimSpace(string(b))
	return name == "Google" || name == "Google Compute Engine"
}

// supportedTypes are the credential file types ferry accepts.
var supportedTypes = map[string]google.CredentialsType{
	"service_account":                  google.ServiceAccount,
	"authorized_user":                  google.AuthorizedUser,
	"external_account":                 google.ExternalAccount,
	"external_account_authorized_user": google.ExternalAccountAuthorizedUser,
	"impersonated_service_account":     google.ImpersonatedServiceAccount,
}

// FileType returns the "type" of a credentials JSON file, or an input
// error naming the setting when it is not one ferry accepts.
func FileType(b []byte, setting string) (google.CredentialsType, error) {
	var f struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return "", promote.Input(fmt.Errorf("%s: the file is not JSON; give a service account key or a credential configuration file", setting))
	}
	t, ok := supportedTypes[f.Type]
	if !ok {
		return "", promote.Input(fmt.Errorf("%s: credentials of type %q are not supported: use service_account, authorized_user, external_account, external_account_authorized_user or impersonated_service_account", setting, f.Type))
	}
	return t, nil
}

func (p *Provider) fromJSON(b []byte, from, setting string) (func(context.Context) (*oauth2.Token, error), string, error) {
	t, err := FileType(b, setting)
	if err != nil {
		return nil, "", err
	}
	params := google.CredentialsParams{Scopes: p.s.Scopes}
	// Parse once to report a malformed file now, not at the first call.
	if _, err := google.CredentialsFromJSONWithTypeAndParams(p.baseContext(), b, t, params); err != nil {
		return nil, "", promote.Input(fmt.Errorf("%s: %w", setting, err))
	}
	mint := func(context.Context) (*oauth2.Token, error) {
		// A new source each time: x/oauth2 would hand back its cached
		// token until ten seconds before expiry.
		c, err := google.CredentialsFromJSONWithTypeAndParams(p.baseContext(), b, t, params)
		if err != nil {
			return nil, err
		}
		return c.TokenSource.Token()
	}
	return mint, from, nil
}

func (p *Provider) federation(ctx context.Context) (func(context.Context) (*oauth2.Token, error), string, error) {
	s := p.s
	if s.WorkloadIdentityProvider == "" {
		return nil, "", promote.Input(errors.New("a Google service account to impersonate is set but no workload identity provider: set the provider (projects/NUMBER/locations/global/workloadIdentityPools/POOL/providers/PROVIDER) too"))
	}
	name, err := ProviderName(s.WorkloadIdentityProvider)
	if err != nil {
		return nil, "", err
	}
	if s.OIDC == nil {
		return nil, "", promote.Input(fmt.Errorf("workload identity provider %s needs the CI's OIDC token, and this run has none: run in GitHub Actions with `permissions: id-token: write` or in a CircleCI job with a context, or use GOOGLE_APPLICATION_CREDENTIALS instead", name))
	}
	aud := ciauth.Audience(ctx, s.OIDC, s.Audience, "https://iam.googleapis.com/"+name)
	conf := externalaccount.Config{
		Audience:             "//iam.googleapis.com/" + name,
		SubjectTokenType:     jwtTokenType,
		TokenURL:             stsTokenURL,
		Scopes:               s.Scopes,
		SubjectTokenSupplier: supplier{src: s.OIDC, audience: aud},
	}
	from := "workload identity federation (" + name + ", " + s.OIDC.String() + ")"
	if s.ServiceAccount != "" {
		if !strings.Contains(s.ServiceAccount, "@") {
			return nil, "", promote.Input(fmt.Errorf("google service account %q is not an email: write NAME@PROJECT.iam.gserviceaccount.com", s.ServiceAccount))
		}
		conf.ServiceAccountImpersonationURL = fmt.Sprintf(impersonationURL, s.ServiceAccount)
		from += " as " + s.ServiceAccount
	}
	mint := func(context.Context) (*oauth2.Token, error) {
		ts, err := externalaccount.NewTokenSource(p.baseContext(), conf)
		if err != nil {
			return nil, err
		}
		return ts.Token()
	}
	return mint, from, nil
}

// supplier hands the CI's token to the STS exchange.
type supplier struct {
	src      ciauth.Source
	audience string
}

func (s supplier) SubjectToken(ctx context.Context, _ externalaccount.SupplierOptions) (string, error) {
	return s.src.Token(ctx, s.audience)
}

// classify turns refusals the user must settle into input errors. Only
// the error code and description of an OAuth2 answer are kept.
func classify(err error, from string) error {
	if promote.IsInput(err) {
		return err
	}
	var re *oauth2.RetrieveError
	if errors.As(err, &re) && re.Response != nil && re.Response.StatusCode >= 400 && re.Response.StatusCode < 500 {
		return promote.Input(fmt.Errorf("google token from %s refused (%d %s: %s): check the credentials and the permissions they grant", from, re.Response.StatusCode, re.ErrorCode, re.ErrorDescription))
	}
	msg := err.Error()
	for _, code := range []string{"status code 400", "status code 401", "status code 403"} {
		if strings.Contains(msg, code) {
			return promote.Input(fmt.Errorf("google token from %s refused: %w; check FERRY_GCP_AUDIENCE against the provider's allowed audiences, the provider's attribute condition, and that the principal may impersonate FERRY_GCP_SERVICE_ACCOUNT (roles/iam.workloadIdentityUser)", from, err))
		}
	}
	return fmt.Errorf("google token from %s: %w", from, err)
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// IsRegistry tells whether host is served by Google's registries:
// gcr.io, its regional hosts (us.gcr.io, ...), and Artifact Registry's
// LOCATION-docker.pkg.dev.
func IsRegistry(host string) bool {
	h := strings.ToLower(host)
	if i := strings.LastIndexByte(h, ':'); i >= 0 {
		h = h[:i]
	}
	if h == "gcr.io" || (strings.HasSuffix(h, ".gcr.io") && !strings.Contains(strings.TrimSuffix(h, ".gcr.io"), ".")) {
		return true
	}
	loc, ok := strings.CutSuffix(h, "-docker.pkg.dev")
	return ok && loc != "" && !strings.Contains(loc, ".")
}

// Keychain answers for Google's registries with an access token and
// leaves others to the next keychain (authn.Anonymous).
func (p *Provider) Keychain() authn.Keychain { return keychain{p} }

type keychain struct{ p *Provider }

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k keychain) ResolveContext(_ context.Context, r authn.Resource) (authn.Authenticator, error) {
	if !IsRegistry(r.RegistryStr()) {
		return authn.Anonymous, nil
	}
	return tokenAuth{ts: k.p.TokenSource()}, nil
}

type tokenAuth struct{ ts oauth2.TokenSource }

func (a tokenAuth) Authorization() (*authn.AuthConfig, error) {
	tok, err := a.ts.Token()
	if err != nil {
		return nil, err
	}
	return &authn.AuthConfig{Username: "oauth2accesstoken", Password: tok.AccessToken}, nil
}
