package keychain

import (
	"context"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Source is one place credentials come from.
type Source struct {
	// Name says where, for the log: a file's path, "GITHUB_TOKEN", "the
	// pull secrets of k8s:shop/web". Never a credential.
	Name     string
	Keychain authn.Keychain
}

// Logf is told, once per registry, which source served it.
type Logf func(format string, args ...any)

// New returns a keychain that asks sources in order: the first that has
// credentials for a registry (resolves to anything but anonymous) serves
// it. A source that fails (a credential helper, cloud credentials that do
// not work) does not stop a later one from serving the registry; when
// none does, its error is returned, not anonymous access: a credential
// problem is for the user to fix.
func New(logf Logf, sources ...Source) authn.Keychain {
	return &multi{sources: sources, logf: logf, told: map[string]bool{}}
}

type multi struct {
	sources []Source
	logf    Logf

	mu   sync.Mutex
	told map[string]bool
}

func (m *multi) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return m.ResolveContext(context.Background(), r)
}

func (m *multi) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	var first error
	for _, s := range m.sources {
		a, err := authn.Resolve(ctx, s.Keychain, r)
		switch {
		case err != nil:
			if first == nil {
				first = fmt.Errorf("credentials for %s from %s: %w", r.RegistryStr(), s.Name, err)
			}
		case a != authn.Anonymous && a != nil:
			m.tell(r.RegistryStr(), "credentials from "+s.Name)
			return a, nil
		}
	}
	if first != nil {
		return nil, first
	}
	m.tell(r.RegistryStr(), "no credentials: anonymous")
	return authn.Anonymous, nil
}

func (m *multi) tell(registry, what string) {
	if m.logf == nil {
		return
	}
	m.mu.Lock()
	first := !m.told[registry]
	m.told[registry] = true
	m.mu.Unlock()
	if first {
		m.logf("registry %s: %s", registry, what)
	}
}

// Lazy is a keychain made on first use by make (for example from pull
// secrets that need an API call); an error making it is returned by every
// Resolve.
func Lazy(make func(ctx context.Context) (authn.Keychain, error)) authn.Keychain {
	return &lazy{make: make}
}

type lazy struct {
	make func(context.Context) (authn.Keychain, error)
	once sync.Once
	kc   authn.Keychain
	err  error
}

func (l *lazy) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return l.ResolveContext(context.Background(), r)
}

func (l *lazy) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	l.once.Do(func() { l.kc, l.err = l.make(ctx) })
	if l.err != nil {
		return nil, l.err
	}
	return authn.Resolve(ctx, l.kc, r)
}

// Token serves one registry host with a username and a token (ghcr.io
// with a GitHub token).
func Token(host, username, token string) authn.Keychain {
	return tokenKeychain{host: host, auth: &authn.Basic{Username: username, Password: token}}
}

type tokenKeychain struct {
	host string
	auth authn.Authenticator
}

func (k tokenKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.host {
		return k.auth, nil
	}
	return authn.Anonymous, nil
}
