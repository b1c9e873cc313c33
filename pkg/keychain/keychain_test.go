package keychain

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

func resolve(t *testing.T, kc authn.Keychain, host string) *authn.AuthConfig {
	t.Helper()
	reg, err := name.NewRegistry(host)
	if err != nil {
		t.Fatal(err)
	}
	a, err := authn.Resolve(context.Background(), kc, reg)
	if err != nil {
		t.Fatalf("resolving %s: %v", host, err)
	}
	c, err := a.Authorization()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// A pull secret's .dockerconfigjson, and the legacy .dockercfg, serve
// their registries, keyed by host or by URL, and nothing else.
func TestConfigJSON(t *testing.T) {
	cases := []struct {
		name, raw, host, user, pass string
	}{
		{"dockerconfigjson", `{"auths":{"registry.example.com:5000":{"auth":"` + b64("bot:pw1") + `"}}}`, "registry.example.com:5000", "bot", "pw1"},
		{"username and password", `{"auths":{"ghcr.io":{"username":"u","password":"pw2"}}}`, "ghcr.io", "u", "pw2"},
		{"URL key", `{"auths":{"https://quay.io/v1/":{"auth":"` + b64("q:pw3") + `"}}}`, "quay.io", "q", "pw3"},
		{"Docker Hub's legacy key", `{"auths":{"https://index.docker.io/v1/":{"auth":"` + b64("d:pw4") + `"}}}`, "index.docker.io", "d", "pw4"},
		{"dockercfg", `{"registry.example.com":{"auth":"` + b64("old:pw5") + `"}}`, "registry.example.com", "old", "pw5"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kc, err := ConfigJSON([]byte(c.raw))
			if err != nil {
				t.Fatal(err)
			}
			got := resolve(t, kc, c.host)
			if got.Username != c.user || got.Password != c.pass {
				t.Errorf("%s: got %q/%q, want %q/%q", c.host, got.Username, got.Password, c.user, c.pass)
			}
			if other := resolve(t, kc, "elsewhere.example.org"); *other != (authn.AuthConfig{}) {
				t.Errorf("another registry got credentials: %+v", other)
			}
		})
	}
	if _, err := ConfigJSON([]byte("not json s3cr3t")); err == nil || strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("garbage: %v", err)
	}
}

// The files the environment names, in order; a credential helper that is
// not installed leaves the registry to the next source.
func TestConfigFilesAndHelpers(t *testing.T) {
	home, xdg := t.TempDir(), t.TempDir()
	write := func(p, s string) {
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	docker := filepath.Join(home, ".docker", "config.json")
	write(docker, `{"auths":{"ghcr.io":{"auth":"`+b64("a:pw")+`"}},"credHelpers":{"gcr.io":"ferry-test-no-such-helper"}}`)
	podman := filepath.Join(xdg, "containers", "auth.json")
	write(podman, `{"auths":{"quay.io":{"auth":"`+b64("p:pw")+`"}}}`)
	env := map[string]string{"HOME": home, "XDG_RUNTIME_DIR": xdg, "REGISTRY_AUTH_FILE": filepath.Join(home, "missing.json")}
	files := ConfigFiles(func(k string) string { return env[k] }, func(p string) string { return p })
	if strings.Join(files, " ") != docker+" "+podman {
		t.Fatalf("ConfigFiles = %v, want %s then %s", files, docker, podman)
	}
	kc, err := ConfigFile(docker)
	if err != nil {
		t.Fatal(err)
	}
	var logs []string
	m := New(func(f string, a ...any) { logs = append(logs, strings.TrimSpace(strings.ReplaceAll(f, "%s", "_"))) },
		Source{Name: docker, Keychain: kc},
		Source{Name: "GITHUB_TOKEN", Keychain: Token("gcr.io", "oauth2accesstoken", "tok")})
	if got := resolve(t, m, "gcr.io"); got.Password != "tok" {
		t.Errorf("gcr.io, whose helper is missing, got %+v: want the next source's", got)
	}
	if got := resolve(t, m, "ghcr.io"); got.Password != "pw" {
		t.Errorf("ghcr.io got %+v", got)
	}
	resolve(t, m, "ghcr.io")
	if got := resolve(t, m, "docker.io"); *got != (authn.AuthConfig{}) {
		t.Errorf("docker.io got %+v: want anonymous", got)
	}
	if len(logs) != 3 {
		t.Errorf("logged %d lines for 3 registries (one each): %v", len(logs), logs)
	}
}

// Which source served a registry is logged, never the credential.
func TestNewLogsTheSourceOnce(t *testing.T) {
	var lines []string
	kc := New(func(f string, a ...any) { lines = append(lines, sprintf(f, a...)) },
		Source{Name: "first", Keychain: Token("a.example", "u", "s3cr3t")})
	resolve(t, kc, "a.example")
	resolve(t, kc, "a.example")
	if len(lines) != 1 || lines[0] != "registry a.example: credentials from first" {
		t.Errorf("log %q", lines)
	}
	failing := New(nil, Source{Name: "broken", Keychain: Lazy(func(context.Context) (authn.Keychain, error) { return nil, errors.New("api down") })})
	reg, _ := name.NewRegistry("a.example")
	if _, err := authn.Resolve(context.Background(), failing, reg); err == nil || !strings.Contains(err.Error(), "from broken: api down") {
		t.Errorf("a failing source: %v", err)
	}
}

func sprintf(f string, a ...any) string { return fmt.Sprintf(f, a...) }
