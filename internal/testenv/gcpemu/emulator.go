package gcpemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

// Endpoints, as Google's libraries name them.
const (
	TokenURL          = "https://oauth2.googleapis.com/token"
	STSTokenURL       = "https://sts.googleapis.com/v1/token"
	IAMCredentialsURL = "https://iamcredentials.googleapis.com"
)

// Options configure the emulator. Zero values take the defaults in
// brackets.
type Options struct {
	// TokenLifetime is the life of access tokens from the OAuth2 token
	// endpoint and of federated tokens from STS [1h].
	TokenLifetime time.Duration
	// Client reaches OIDC issuers' discovery documents and JWKS for STS
	// token exchange; cloudnet.Net.Client() does.
	Client *http.Client
	// Leeway is the clock skew allowed on JWTs [0].
	Leeway time.Duration
}

// Identity is who an access token stands for.
type Identity struct {
	// Name is a service account's or user's e-mail, or a federated
	// principal://iam.googleapis.com/projects/N/locations/global/workloadIdentityPools/P/subject/SUB.
	Name string
	// Attributes are a federated token's mapped attributes
	// (attribute.repository → value), used by principalSet bindings.
	Attributes map[string]string
	// Pool is the pool resource of a federated token
	// (projects/N/locations/global/workloadIdentityPools/P).
	Pool    string
	Scopes  []string
	Expires time.Time
	// Kind is "service_account", "user", "federated" or
	// "impersonated".
	Kind string
}

// Call is one request the emulator answered.
type Call struct {
	Endpoint string // token, sts, generateAccessToken, tokeninfo
	Grant    string // grant_type, for token and sts
	Identity string // who was issued a token, or who asked
	Error    string // error code, "" on success
}

// Emulator is Google's OAuth2 token endpoint, STS and IAM Credentials.
// It is safe for concurrent use.
type Emulator struct {
	opts Options

	mu        sync.Mutex
	accounts  map[string]*ServiceAccount // by e-mail
	users     map[string]*User           // by refresh token
	providers map[string]*Provider       // by audience //iam.googleapis.com/...
	tokens    map[string]*Identity       // access token → identity
	calls     []Call
}

// New makes an empty emulator.
func New(opts Options) *Emulator {
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	return &Emulator{opts: opts, accounts: map[string]*ServiceAccount{}, users: map[string]*User{},
		providers: map[string]*Provider{}, tokens: map[string]*Identity{}}
}

// Install serves oauth2.googleapis.com, sts.googleapis.com and
// iamcredentials.googleapis.com on n.
func (e *Emulator) Install(n *cloudnet.Net) {
	n.Handle("oauth2.googleapis.com", http.HandlerFunc(e.serveOAuth))
	n.Handle("sts.googleapis.com", http.HandlerFunc(e.serveSTS))
	n.Handle("iamcredentials.googleapis.com", http.HandlerFunc(e.serveIAM))
}

// SetTokenLifetime changes Options.TokenLifetime for tokens issued from
// now on.
func (e *Emulator) SetTokenLifetime(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.opts.TokenLifetime = d
}

func (e *Emulator) lifetime() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.opts.TokenLifetime
}

// ServiceAccount is a service account with one user-managed key.
type ServiceAccount struct {
	Email     string
	ProjectID string
	ClientID  string
	KeyID     string
	key       *rsa.PrivateKey

	mu            sync.Mutex
	impersonators []string
}

// AddServiceAccount creates NAME@PROJECT.iam.gserviceaccount.com with a
// fresh RSA key.
func (e *Emulator) AddServiceAccount(project, name string) (*ServiceAccount, error) {
	key, err := oidcemu.NewRSAKey()
	if err != nil {
		return nil, err
	}
	sa := &ServiceAccount{
		Email:     name + "@" + project + ".iam.gserviceaccount.com",
		ProjectID: project,
		ClientID:  numeric(21),
		KeyID:     hexID(20),
		key:       key,
	}
	e.mu.Lock()
	e.accounts[sa.Email] = sa
	e.mu.Unlock()
	return sa, nil
}

// AllowImpersonation grants members roles/iam.workloadIdentityUser (and
// serviceAccountTokenCreator) on the service account: an e-mail
// ("user:" or "serviceAccount:" prefixes optional), a principal://...
// or a principalSet://.../attribute.NAME/VALUE or .../* member.
func (sa *ServiceAccount) AllowImpersonation(members ...string) {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	sa.impersonators = append(sa.impersonators, members...)
}

func (sa *ServiceAccount) mayImpersonate(id *Identity) bool {
	sa.mu.Lock()
	defer sa.mu.Unlock()
	for _, m := range sa.impersonators {
		m = strings.TrimPrefix(strings.TrimPrefix(m, "serviceAccount:"), "user:")
		if m == id.Name {
			return true
		}
		rest, ok := strings.CutPrefix(m, "principalSet://iam.googleapis.com/")
		if !ok || id.Pool == "" || !strings.HasPrefix(rest, id.Pool+"/") {
			continue
		}
		sel := strings.TrimPrefix(rest, id.Pool+"/")
		if sel == "*" {
			return true
		}
		if attr, val, ok := strings.Cut(strings.TrimPrefix(sel, "attribute."), "/"); ok && strings.HasPrefix(sel, "attribute.") && id.Attributes["attribute."+attr] == val {
			return true
		}
		if g, ok := strings.CutPrefix(sel, "group/"); ok && id.Attributes["google.groups"] == g {
			return true
		}
	}
	return false
}

// KeyFile returns the service account's JSON key file, as the console and
// `gcloud iam service-accounts keys create` download it; token_uri is
// the real https://oauth2.googleapis.com/token.
func (sa *ServiceAccount) KeyFile() []byte {
	der, err := x509.MarshalPKCS8PrivateKey(sa.key)
	if err != nil {
		panic(err)
	}
	f := map[string]string{
		"type":                        "service_account",
		"project_id":                  sa.ProjectID,
		"private_key_id":              sa.KeyID,
		"private_key":                 string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})),
		"client_email":                sa.Email,
		"client_id":                   sa.ClientID,
		"auth_uri":                    "https://accounts.google.com/o/oauth2/auth",
		"token_uri":                   TokenURL,
		"auth_provider_x509_cert_url": "https://www.googleapis.com/oauth2/v1/certs",
		"client_x509_cert_url":        "https://www.googleapis.com/robot/v1/metadata/x509/" + url.PathEscape(sa.Email),
		"universe_domain":             "googleapis.com",
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return b
}

// User is a Google user with gcloud's application default credentials.
type User struct {
	Email                  string
	ClientID, ClientSecret string
	RefreshToken           string
}

// AddUser creates a user whose `gcloud auth application-default login`
// left an authorized_user file.
func (e *Emulator) AddUser(email string) *User {
	u := &User{Email: email, ClientID: numeric(12) + "-" + hexID(16) + ".apps.googleusercontent.com",
		ClientSecret: "d-" + randText(18), RefreshToken: "1//0" + randText(60)}
	e.mu.Lock()
	e.users[u.RefreshToken] = u
	e.mu.Unlock()
	return u
}

// KeyFile returns application_default_credentials.json for the user.
func (u *User) KeyFile() []byte {
	b, _ := json.MarshalIndent(map[string]string{
		"account": "", "client_id": u.ClientID, "client_secret": u.ClientSecret,
		"quota_project_id": "", "refresh_token": u.RefreshToken, "type": "authorized_user", "universe_domain": "googleapis.com",
	}, "", "  ")
	return b
}

// WriteFile writes data (a key file) into dir with mode 0600 and returns
// its path.
func WriteFile(dir, name string, data []byte) (string, error) {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", name, err)
	}
	return p, nil
}

// Lookup returns who an access token stands for; expired and unknown
// tokens are errors. The GKE webhook and the registries use it.
func (e *Emulator) Lookup(token string) (Identity, error) {
	e.mu.Lock()
	var id *Identity
	for t, i := range e.tokens {
		if subtle.ConstantTimeCompare([]byte(t), []byte(token)) == 1 {
			id = i
		}
	}
	e.mu.Unlock()
	if id == nil {
		return Identity{}, ErrUnknownToken
	}
	if !time.Now().Before(id.Expires) {
		return Identity{}, ErrExpiredToken
	}
	return *id, nil
}

// Errors of Lookup.
var (
	ErrUnknownToken = errors.New("unknown access token")
	ErrExpiredToken = errors.New("access token expired")
)

// mint records a new access token with prefix for id.
func (e *Emulator) mint(prefix string, id Identity) (string, Identity) {
	tok := prefix + randText(120)
	e.mu.Lock()
	e.tokens[tok] = &id
	e.mu.Unlock()
	return tok, id
}

// Minted returns every access token the emulator issued, so a test can
// assert that none appears in what a client printed.
func (e *Emulator) Minted() []string { return e.MintedFor("") }

// MintedFor is Minted for the tokens of one identity (Identity.Name), or
// of everyone when name is "".
func (e *Emulator) MintedFor(name string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]string, 0, len(e.tokens))
	for t, id := range e.tokens {
		if name == "" || id.Name == name {
			out = append(out, t)
		}
	}
	return out
}

// Calls returns the requests answered so far.
func (e *Emulator) Calls() []Call {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.calls)
}

func (e *Emulator) record(c Call) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.calls = append(e.calls, c)
}

func randText(n int) string {
	b := make([]byte, n*3/4+1)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)[:n]
}

func numeric(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	for i := range b {
		b[i] = '0' + b[i]%10
	}
	if b[0] == '0' {
		b[0] = '1'
	}
	return string(b)
}

func hexID(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return fmt.Sprintf("%x", b)[:n*2]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
