package kubeauth

import (
	"context"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// AKSServerAppID is the application id of the AKS AAD server, the
// audience of every AKS user token (AKS-managed Entra ID integration).
const AKSServerAppID = "6dae42f8-4368-4678-94ff-3960e28e3630"

// AKS authenticates Entra ID access tokens for the AKS server
// application, as an AKS cluster with Entra ID integration does.
type AKS struct {
	// Keys returns the tenant's token signing keys by kid (the Azure
	// emulator's).
	Keys func(ctx context.Context) (map[string]*rsa.PublicKey, error)
	// Issuers are the accepted iss values
	// (https://sts.windows.net/TENANT/, https://login.microsoftonline.com/TENANT/v2.0).
	Issuers []string
	// Audience is the accepted aud [AKSServerAppID]; "spn:"+Audience is
	// accepted too (kubelogin --legacy).
	Audience string
}

// Name implements Authenticator.
func (*AKS) Name() string { return "aks" }

// Authenticate implements Authenticator: RS256 with a tenant key, an
// accepted issuer, aud, exp and nbf. The user is upn (users) or oid
// (service principals and managed identities); groups come from groups.
func (a *AKS) Authenticate(ctx context.Context, token string) (Identity, error) {
	claims := jwt.MapClaims{}
	if _, _, err := jwt.NewParser().ParseUnverified(token, claims); err != nil {
		return Identity{}, ErrNotMine
	}
	if iss, _ := claims.GetIssuer(); !slices.Contains(a.Issuers, iss) {
		return Identity{}, ErrNotMine
	}
	keys, err := a.Keys(ctx)
	if err != nil {
		return Identity{}, fmt.Errorf("fetching signing keys: %w", err)
	}
	aud := a.Audience
	if aud == "" {
		aud = AKSServerAppID
	}
	claims = jwt.MapClaims{}
	_, err = jwt.NewParser(jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(0)).
		ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
			kid, _ := t.Header["kid"].(string)
			if k, ok := keys[kid]; ok {
				return k, nil
			}
			return nil, fmt.Errorf("no signing key %q", kid)
		})
	if err != nil {
		return Identity{}, fmt.Errorf("invalid token: %w", err)
	}
	auds, _ := claims.GetAudience()
	if !slices.Contains(auds, aud) && !slices.Contains(auds, "spn:"+aud) {
		return Identity{}, fmt.Errorf("invalid token: audience %v is not %s", auds, aud)
	}
	name, _ := claims["upn"].(string)
	if name == "" {
		name, _ = claims["oid"].(string)
	}
	if name == "" {
		return Identity{}, errors.New("invalid token: no upn or oid claim")
	}
	var groups []string
	if gs, ok := claims["groups"].([]any); ok {
		for _, g := range gs {
			if s, ok := g.(string); ok {
				groups = append(groups, s)
			}
		}
	}
	oid, _ := claims["oid"].(string)
	return Identity{Username: name, UID: oid, Groups: groups}, nil
}

// GKE authenticates Google OAuth2 access tokens ("ya29." ...), as GKE
// does, by asking Google who a token belongs to.
type GKE struct {
	// Lookup returns the token's identity (a service account's e-mail,
	// or a workload identity federation principal) and when the token
	// expires, or an error for an unknown or expired token.
	Lookup func(ctx context.Context, token string) (identity string, expires time.Time, err error)
}

// Name implements Authenticator.
func (*GKE) Name() string { return "gke" }

// Authenticate implements Authenticator.
func (a *GKE) Authenticate(ctx context.Context, token string) (Identity, error) {
	if !strings.HasPrefix(token, "ya29.") {
		return Identity{}, ErrNotMine
	}
	who, exp, err := a.Lookup(ctx, token)
	if err != nil {
		return Identity{}, fmt.Errorf("invalid Google access token: %w", err)
	}
	if !time.Now().Before(exp) {
		return Identity{}, errors.New("invalid Google access token: expired")
	}
	return Identity{Username: who}, nil
}
