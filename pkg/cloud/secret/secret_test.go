package secret

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

type recorder struct {
	mu  sync.Mutex
	got []string
}

func (r *recorder) report(v string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, v)
}

func (r *recorder) values() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got)
}

// countingAuth counts how often it is asked, so a test can tell that the
// report happens before the value is handed out, each time.
type countingAuth struct {
	cfg   authn.AuthConfig
	asked int
}

func (c *countingAuth) Authorization() (*authn.AuthConfig, error) {
	c.asked++
	cfg := c.cfg
	return &cfg, nil
}

type mapKeychain map[string]authn.Authenticator

func (m mapKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if a, ok := m[r.RegistryStr()]; ok {
		return a, nil
	}
	if r.RegistryStr() == "broken.example" {
		return nil, errors.New("helper failed")
	}
	return authn.Anonymous, nil
}

func TestKeychainReportsEveryCredential(t *testing.T) {
	basic := &countingAuth{cfg: authn.AuthConfig{Username: "AWS", Password: "ecr-password-1"}}
	tokens := &countingAuth{cfg: authn.AuthConfig{IdentityToken: "identity-tok", RegistryToken: "registry-tok"}}
	auth := &countingAuth{cfg: authn.AuthConfig{Auth: "dXNlcjpwYXNz"}}
	kc := mapKeychain{"ecr.example": basic, "acr.example": tokens, "hub.example": auth}

	var rec recorder
	wrapped := Keychain(kc, rec.report)
	cases := []struct {
		registry string
		want     []string
	}{
		{"ecr.example", []string{"ecr-password-1", base64.StdEncoding.EncodeToString([]byte("AWS:ecr-password-1"))}},
		{"acr.example", []string{"identity-tok", "registry-tok"}},
		{"hub.example", []string{"dXNlcjpwYXNz"}},
		{"anon.example", nil},
	}
	for _, tc := range cases {
		t.Run(tc.registry, func(t *testing.T) {
			rec.got = nil
			reg, err := name.NewRegistry(tc.registry)
			if err != nil {
				t.Fatal(err)
			}
			a, err := wrapped.Resolve(reg)
			if err != nil {
				t.Fatal(err)
			}
			if len(rec.values()) != 0 {
				t.Fatalf("reported %d values at resolve time, before anything was asked", len(rec.values()))
			}
			if _, err := authn.Authorization(context.Background(), a); err != nil {
				t.Fatal(err)
			}
			if got := rec.values(); !slices.Equal(got, tc.want) {
				t.Fatalf("reported %q, want %q", got, tc.want)
			}
		})
	}
	// Asked again, reported again: a rotated credential must be seen too.
	reg, _ := name.NewRegistry("ecr.example")
	a, _ := wrapped.Resolve(reg)
	rec.got = nil
	basic.cfg.Password = "ecr-password-2"
	if _, err := a.Authorization(); err != nil {
		t.Fatal(err)
	}
	if got := rec.values(); !slices.Contains(got, "ecr-password-2") {
		t.Fatalf("rotated password not reported: %q", got)
	}
}

func TestKeychainPassesErrors(t *testing.T) {
	reg, _ := name.NewRegistry("broken.example")
	if _, err := Keychain(mapKeychain{}, func(string) {}).Resolve(reg); err == nil {
		t.Fatal("want the inner keychain's error")
	}
}

func TestOnce(t *testing.T) {
	var rec recorder
	r := Once(rec.report)
	r.Report("a-token", "a-token", "", "  ", "b-token", "a-token")
	if got := rec.values(); !slices.Equal(got, []string{"a-token", "b-token"}) {
		t.Fatalf("got %q", got)
	}
	if Once(nil) != nil {
		t.Fatal("Once(nil) must stay nil")
	}
	var none Reporter
	none.Report("x") // must not panic
	none.AuthConfig(&authn.AuthConfig{Password: "x"})
}
