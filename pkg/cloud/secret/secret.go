package secret

import (
	"context"
	"encoding/base64"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Reporter is told a credential value before it is used. It must be safe
// for concurrent use and must not keep the value anywhere but a mask list.
// A nil Reporter ignores every value.
type Reporter func(value string)

// Report passes every non-blank value to r; a nil r does nothing.
func (r Reporter) Report(values ...string) {
	if r == nil {
		return
	}
	for _, v := range values {
		if strings.TrimSpace(v) != "" {
			r(v)
		}
	}
}

// Once returns a Reporter that passes each distinct value to r the first
// time it is seen only. Once(nil) is nil.
func Once(r Reporter) Reporter {
	if r == nil {
		return nil
	}
	var mu sync.Mutex
	seen := map[string]bool{}
	return func(v string) {
		mu.Lock()
		dup := seen[v]
		seen[v] = true
		mu.Unlock()
		if !dup {
			r(v)
		}
	}
}

// AuthConfig reports every secret part of c: the password, the identity
// and registry tokens, the "auth" field, and the base64 of
// "username:password" that a Basic Authorization header carries.
func (r Reporter) AuthConfig(c *authn.AuthConfig) {
	if r == nil || c == nil {
		return
	}
	r.Report(c.Password, c.IdentityToken, c.RegistryToken, c.Auth)
	if c.Password != "" {
		r.Report(base64.StdEncoding.EncodeToString([]byte(c.Username + ":" + c.Password)))
	}
}

// Keychain returns a keychain that resolves through kc and reports every
// credential the resolved authenticators yield, each time one is asked,
// before it is handed to the registry client.
func Keychain(kc authn.Keychain, r Reporter) authn.Keychain {
	return keychain{kc: kc, r: r}
}

type keychain struct {
	kc authn.Keychain
	r  Reporter
}

func (k keychain) Resolve(res authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), res)
}

func (k keychain) ResolveContext(ctx context.Context, res authn.Resource) (authn.Authenticator, error) {
	a, err := authn.Resolve(ctx, k.kc, res)
	if err != nil {
		return nil, err
	}
	return Authenticator(a, k.r), nil
}

// Authenticator returns an authenticator that asks a and reports what it
// yields before returning it. authn.Anonymous is returned unchanged.
func Authenticator(a authn.Authenticator, r Reporter) authn.Authenticator {
	if a == nil || a == authn.Anonymous || r == nil {
		return a
	}
	return authenticator{a: a, r: r}
}

type authenticator struct {
	a authn.Authenticator
	r Reporter
}

func (a authenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

func (a authenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	c, err := authn.Authorization(ctx, a.a)
	if err != nil {
		return nil, err
	}
	a.r.AuthConfig(c)
	return c, nil
}
