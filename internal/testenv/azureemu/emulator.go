package azureemu

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1" //nolint:gosec // x5t is a SHA-1 thumbprint by definition (RFC 7517)
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
	"github.com/ferry-dev/ferry/internal/testenv/oidcemu"
)

// Host is Entra ID's authority host (AzurePublicCloud).
const Host = "login.microsoftonline.com"

// FederatedAudience is the audience Entra ID expects on federated
// assertions.
const FederatedAudience = "api://AzureADTokenExchange"

// Options configure the emulator. Zero values take the defaults in
// brackets.
type Options struct {
	// Client reaches the issuers of federated assertions (GitHub,
	// CircleCI) for their keys; cloudnet.Net.Client() does.
	Client *http.Client
	// TokenLifetime is the life of access tokens [1h].
	TokenLifetime time.Duration
	// Leeway is the clock skew allowed on assertions [0].
	Leeway time.Duration
}

// App is an app registration with its service principal in a tenant.
type App struct {
	Tenant   string
	ClientID string // appId
	ObjectID string // the service principal's object id (oid) [random]
	// Secrets are client secret values.
	Secrets []string
	// Certificates are the app's uploaded certificates.
	Certificates []*x509.Certificate
	// Federated are the app's federated identity credentials.
	Federated []FederatedCredential
}

// FederatedCredential is one federated identity credential of an app.
type FederatedCredential struct {
	Issuer    string
	Subject   string
	Audiences []string // [api://AzureADTokenExchange]
}

// Call is one token request the emulator answered.
type Call struct {
	Tenant   string
	ClientID string
	Method   string // secret, certificate, federated
	Scope    string
	Error    string // AADSTS code, "" on success
}

// Emulator is Entra ID's v2 token endpoint and the metadata MSAL reads,
// plus ACR's token exchange (see ACR). It is safe for concurrent use.
type Emulator struct {
	opts Options
	key  *rsa.PrivateKey
	cert *x509.Certificate
	kid  string

	mu     sync.Mutex
	apps   map[string]*App // tenant + " " + client id
	calls  []Call
	acr    map[string]*acrGrant
	minted map[string]string // access token → app (client) id
}

// New makes an emulator with a fresh token signing key.
func New(opts Options) (*Emulator, error) {
	if opts.TokenLifetime == 0 {
		opts.TokenLifetime = time.Hour
	}
	if opts.Client == nil {
		opts.Client = &http.Client{Timeout: 10 * time.Second}
	}
	key, err := oidcemu.NewRSAKey()
	if err != nil {
		return nil, err
	}
	cert, err := selfSigned(key, "accounts.accesscontrol.windows.net")
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum(cert.Raw) //nolint:gosec // see import
	return &Emulator{opts: opts, key: key, cert: cert, kid: base64.RawURLEncoding.EncodeToString(sum[:]),
		apps: map[string]*App{}, acr: map[string]*acrGrant{}}, nil
}

// Install serves login.microsoftonline.com on n.
func (e *Emulator) Install(n *cloudnet.Net) { n.Handle(Host, http.HandlerFunc(e.serveLogin)) }

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

// AddApp registers an app and returns it (with ObjectID filled).
func (e *Emulator) AddApp(a App) *App {
	if a.ObjectID == "" {
		a.ObjectID = NewGUID()
	}
	for i, f := range a.Federated {
		if len(f.Audiences) == 0 {
			a.Federated[i].Audiences = []string{FederatedAudience}
		}
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	app := a
	e.apps[a.Tenant+" "+a.ClientID] = &app
	return &app
}

// Minted returns every token the emulator issued: Entra ID access tokens
// and ACR refresh and access tokens, so a test can assert that none
// appears in what a client printed.
func (e *Emulator) Minted() []string {
	out := e.MintedFor("")
	e.mu.Lock()
	defer e.mu.Unlock()
	for t := range e.acr {
		out = append(out, t)
	}
	return out
}

// MintedFor returns the Entra ID access tokens issued to one app (client
// id), or to every app when clientID is "".
func (e *Emulator) MintedFor(clientID string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []string
	for t, id := range e.minted {
		if clientID == "" || id == clientID {
			out = append(out, t)
		}
	}
	return out
}

// Calls returns the token requests answered so far.
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

func (e *Emulator) tenantKnown(tenant string) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for k := range e.apps {
		if strings.HasPrefix(k, tenant+" ") {
			return true
		}
	}
	return false
}

// SigningKeys returns the token signing keys by kid, for the AKS
// webhook.
func (e *Emulator) SigningKeys() map[string]*rsa.PublicKey {
	return map[string]*rsa.PublicKey{e.kid: &e.key.PublicKey}
}

// Issuers returns the iss values of tenant's tokens: v1
// (https://sts.windows.net/T/) and v2 (https://login.microsoftonline.com/T/v2.0).
func Issuers(tenant string) []string {
	return []string{"https://sts.windows.net/" + tenant + "/", "https://" + Host + "/" + tenant + "/v2.0"}
}

// NewGUID returns a random GUID.
func NewGUID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// NewCertificate returns a self-signed certificate for an app and a PEM
// file holding the private key and certificate (what azidentity's
// ParseCertificates and AZURE_CLIENT_CERTIFICATE_PATH take).
func NewCertificate(cn string) (*x509.Certificate, *rsa.PrivateKey, []byte, error) {
	key, err := oidcemu.NewRSAKey()
	if err != nil {
		return nil, nil, nil, err
	}
	cert, err := selfSigned(key, cn)
	if err != nil {
		return nil, nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, nil, err
	}
	pemData := append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})...)
	return cert, key, pemData, nil
}

func selfSigned(key *rsa.PrivateKey, cn string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("creating certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

func thumbprints(c *x509.Certificate) (sha1Sum, sha256Sum []byte) {
	s1 := sha1.Sum(c.Raw) //nolint:gosec // see import
	s2 := sha256.Sum256(c.Raw)
	return s1[:], s2[:]
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
