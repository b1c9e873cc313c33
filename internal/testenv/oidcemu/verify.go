package oidcemu

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reason says why Verify refused a token.
type Reason int

// Reasons, in the order Verify checks.
const (
	ReasonMalformed   Reason = iota + 1 // not a JWT, or not RS256
	ReasonIssuer                        // iss is not the trusted issuer
	ReasonKeys                          // discovery or JWKS could not be fetched
	ReasonUnknownKey                    // no key with the token's kid
	ReasonSignature                     // the signature does not verify
	ReasonExpired                       // exp has passed
	ReasonNotYetValid                   // nbf or iat lies in the future
)

// VerifyError is Verify's error.
type VerifyError struct {
	Reason Reason
	Err    error
}

func (e *VerifyError) Error() string { return "verifying token: " + e.Err.Error() }
func (e *VerifyError) Unwrap() error { return e.Err }

func fail(r Reason, format string, args ...any) error {
	return &VerifyError{Reason: r, Err: fmt.Errorf(format, args...)}
}

// ReasonOf returns the Reason of a Verify error, or 0.
func ReasonOf(err error) Reason {
	var ve *VerifyError
	if errors.As(err, &ve) {
		return ve.Reason
	}
	return 0
}

// Peek returns a token's claims without verifying anything, for choosing
// which issuer to verify it against.
func Peek(token string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return nil, fail(ReasonMalformed, "%w", err)
	}
	return claims, nil
}

// Verify checks token as a cloud checks a federated token from issuer: the
// discovery document of issuer (over client) names the JWKS, the key named
// by kid must verify the RS256 signature, iss must equal issuer, exp must
// lie ahead and nbf and iat behind (with leeway). It returns the claims.
func Verify(ctx context.Context, client *http.Client, token, issuer string, leeway time.Duration) (jwt.MapClaims, error) {
	claims, err := Peek(token)
	if err != nil {
		return nil, err
	}
	if iss, _ := claims["iss"].(string); iss != issuer {
		return nil, fail(ReasonIssuer, "issuer %q is not %q", iss, issuer)
	}
	keys, err := FetchKeys(ctx, client, issuer)
	if err != nil {
		return nil, err
	}
	parsed := jwt.MapClaims{}
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation()).
		ParseWithClaims(token, parsed, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			k, ok := keys[kid]
			if !ok {
				return nil, fail(ReasonUnknownKey, "no key %q in the issuer's JWKS", kid)
			}
			return k, nil
		})
	switch {
	case err == nil:
	case ReasonOf(err) != 0:
		return nil, err
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		return nil, fail(ReasonSignature, "%w", err)
	default:
		return nil, fail(ReasonMalformed, "%w", err)
	}
	now := time.Now()
	if exp, err := parsed.GetExpirationTime(); err != nil || exp == nil {
		return nil, fail(ReasonMalformed, "no exp claim")
	} else if !now.Before(exp.Add(leeway)) {
		return nil, fail(ReasonExpired, "token expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if nbf, _ := parsed.GetNotBefore(); nbf != nil && now.Add(leeway).Before(nbf.Time) {
		return nil, fail(ReasonNotYetValid, "token not valid before %s", nbf.UTC().Format(time.RFC3339))
	}
	if iat, _ := parsed.GetIssuedAt(); iat != nil && now.Add(leeway).Before(iat.Time) {
		return nil, fail(ReasonNotYetValid, "token issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	}
	return parsed, nil
}

// FetchKeys reads issuer's discovery document and its JWKS, and returns
// the RSA keys by kid.
func FetchKeys(ctx context.Context, client *http.Client, issuer string) (map[string]*rsa.PublicKey, error) {
	var disc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := getJSON(ctx, client, strings.TrimSuffix(issuer, "/")+"/.well-known/openid-configuration", &disc); err != nil {
		return nil, fail(ReasonKeys, "reading discovery document: %w", err)
	}
	if disc.Issuer != issuer || disc.JWKSURI == "" {
		return nil, fail(ReasonKeys, "discovery document names issuer %q and jwks_uri %q", disc.Issuer, disc.JWKSURI)
	}
	var set struct {
		Keys []JWK `json:"keys"`
	}
	if err := getJSON(ctx, client, disc.JWKSURI, &set); err != nil {
		return nil, fail(ReasonKeys, "reading JWKS: %w", err)
	}
	keys := map[string]*rsa.PublicKey{}
	for _, k := range set.Keys {
		if k.Kty != "RSA" {
			continue
		}
		n, err1 := base64.RawURLEncoding.DecodeString(k.N)
		e, err2 := base64.RawURLEncoding.DecodeString(k.E)
		if err1 != nil || err2 != nil {
			continue
		}
		keys[k.Kid] = &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}
	}
	return keys, nil
}

func getJSON(ctx context.Context, client *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.Unmarshal(body, v)
}
