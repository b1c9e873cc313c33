package oidcemu

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/ferry-dev/ferry/internal/testenv/cloudnet"
)

// Issuer signs tokens for one issuer URL and serves its discovery
// document and keys.
type Issuer struct {
	url      *url.URL
	jwksPath string
	key      *rsa.PrivateKey
	kid      string
	claims   []string
}

// NewIssuer makes an issuer for issuerURL (https, no trailing slash) whose
// JWKS is served at jwksPath below the issuer's path
// ("/.well-known/jwks").
func NewIssuer(issuerURL, jwksPath string) (*Issuer, error) {
	u, err := url.Parse(issuerURL)
	if err != nil || u.Scheme != "https" || u.Host == "" || strings.HasSuffix(issuerURL, "/") {
		return nil, fmt.Errorf("oidcemu: issuer %q must be an https URL without a trailing slash", issuerURL)
	}
	key, err := NewRSAKey()
	if err != nil {
		return nil, err
	}
	return &Issuer{url: u, jwksPath: jwksPath, key: key, kid: Thumbprint(&key.PublicKey)}, nil
}

// NewRSAKey returns a fresh RSA-2048 key.
func NewRSAKey() (*rsa.PrivateKey, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidcemu: generating key: %w", err)
	}
	return key, nil
}

// Thumbprint is the RFC 7638 JWK thumbprint of an RSA public key,
// base64url without padding: a stable key id.
func Thumbprint(pub *rsa.PublicKey) string {
	j := fmt.Sprintf(`{"e":%q,"kty":"RSA","n":%q}`, b64(big.NewInt(int64(pub.E)).Bytes()), b64(pub.N.Bytes()))
	sum := sha256.Sum256([]byte(j))
	return b64(sum[:])
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// URL is the issuer URL, the value of iss.
func (i *Issuer) URL() string { return i.url.String() }

// Host is the issuer's host name.
func (i *Issuer) Host() string { return i.url.Hostname() }

// KeyID is the kid of the signing key.
func (i *Issuer) KeyID() string { return i.kid }

// PublicKey is the signing key's public half.
func (i *Issuer) PublicKey() *rsa.PublicKey { return &i.key.PublicKey }

// Signer returns the signing key, for tests that forge tokens on purpose.
func (i *Issuer) Signer() crypto.Signer { return i.key }

// Mint signs a token with claims plus, unless claims has them, iss (the
// issuer URL), iat and nbf (now) and exp (now+lifetime; a negative
// lifetime mints an expired token) and jti.
func (i *Issuer) Mint(claims map[string]any, lifetime time.Duration) (string, error) {
	return SignRS256(i.key, i.kid, i.fill(claims, lifetime))
}

func (i *Issuer) fill(claims map[string]any, lifetime time.Duration) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": i.URL(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(lifetime).Unix(),
		"jti": rand.Text(),
	}
	if lifetime < 0 {
		c["iat"] = now.Add(2 * lifetime).Unix()
		c["nbf"] = c["iat"]
	}
	for k, v := range claims {
		c[k] = v
	}
	return c
}

// SignRS256 signs claims as an RS256 JWT with header kid.
func SignRS256(key *rsa.PrivateKey, kid string, claims map[string]any) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims(claims))
	if kid != "" {
		t.Header["kid"] = kid
	}
	s, err := t.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("oidcemu: signing token: %w", err)
	}
	return s, nil
}

// JWK is one RSA key as a JSON Web Key.
type JWK struct {
	Kty string   `json:"kty"`
	Use string   `json:"use,omitempty"`
	Alg string   `json:"alg,omitempty"`
	Kid string   `json:"kid"`
	N   string   `json:"n"`
	E   string   `json:"e"`
	X5t string   `json:"x5t,omitempty"`
	X5c []string `json:"x5c,omitempty"`
}

// PublicJWK returns pub as a signing JWK.
func PublicJWK(pub *rsa.PublicKey, kid string) JWK {
	return JWK{Kty: "RSA", Use: "sig", Alg: "RS256", Kid: kid, N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

// JWKS is the issuer's key set, as served.
func (i *Issuer) JWKS() map[string][]JWK {
	return map[string][]JWK{"keys": {PublicJWK(&i.key.PublicKey, i.kid)}}
}

// JWKSURL is where the key set is served.
func (i *Issuer) JWKSURL() string { return i.URL() + i.jwksPath }

// Discovery is the issuer's openid-configuration document.
func (i *Issuer) Discovery() map[string]any {
	d := map[string]any{
		"issuer":                                i.URL(),
		"jwks_uri":                              i.JWKSURL(),
		"response_types_supported":              []string{"id_token"},
		"subject_types_supported":               []string{"public", "pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid"},
	}
	if len(i.claims) > 0 {
		d["claims_supported"] = i.claims
	}
	return d
}

// ServeHTTP serves the discovery document and the JWKS; anything else is
// 404.
func (i *Issuer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	base := strings.TrimSuffix(i.url.Path, "/")
	switch r.URL.Path {
	case base + "/.well-known/openid-configuration":
		writeJSON(w, http.StatusOK, i.Discovery())
	case base + i.jwksPath:
		writeJSON(w, http.StatusOK, i.JWKS())
	default:
		http.NotFound(w, r)
	}
}

// Serve routes each issuer's host on n to its discovery and keys; issuers
// that share a host (CircleCI organisations) share a handler that tries
// each in turn.
func Serve(n *cloudnet.Net, issuers ...*Issuer) {
	byHost := map[string][]*Issuer{}
	for _, i := range issuers {
		byHost[i.Host()] = append(byHost[i.Host()], i)
	}
	for host, list := range byHost {
		n.Handle(host, multi(list))
	}
}

type multi []*Issuer

func (m multi) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for _, i := range m {
		if strings.HasPrefix(r.URL.Path, strings.TrimSuffix(i.url.Path, "/")+"/.well-known/") {
			i.ServeHTTP(w, r)
			return
		}
	}
	http.NotFound(w, r)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
