package keychain

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/credentials"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
)

// Env looks up a variable of the environment ferry read.
type Env func(name string) string

// ConfigFiles are the Docker and podman config files the environment
// names, that exist, in the order they are asked: DOCKER_CONFIG's
// config.json (else ~/.docker/config.json), REGISTRY_AUTH_FILE, then
// podman's auth.json under XDG_RUNTIME_DIR and XDG_CONFIG_HOME. path maps
// a path the environment gives to where ferry reads it (in a GitHub docker
// action, the runner's paths live under /github).
func ConfigFiles(env Env, path func(string) string) []string {
	var candidates []string
	if d := env("DOCKER_CONFIG"); d != "" {
		candidates = append(candidates, filepath.Join(path(d), "config.json"))
	} else if h := env("HOME"); h != "" {
		candidates = append(candidates, filepath.Join(h, ".docker", "config.json"))
	}
	if f := env("REGISTRY_AUTH_FILE"); f != "" {
		candidates = append(candidates, path(f))
	}
	if d := env("XDG_RUNTIME_DIR"); d != "" {
		candidates = append(candidates, filepath.Join(d, "containers", "auth.json"))
	}
	if d := env("XDG_CONFIG_HOME"); d != "" {
		candidates = append(candidates, filepath.Join(d, "containers", "auth.json"))
	} else if h := env("HOME"); h != "" {
		candidates = append(candidates, filepath.Join(h, ".config", "containers", "auth.json"))
	}
	var out []string
	for _, c := range candidates {
		if fi, err := os.Stat(c); err == nil && fi.Mode().IsRegular() {
			out = append(out, c)
		}
	}
	return out
}

// ConfigFile is the keychain of one Docker (or podman) config file: its
// auths, and the credential helpers it names.
func ConfigFile(path string) (authn.Keychain, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	cf := configfile.New(path)
	if err := cf.LoadFromReader(bytes.NewReader(b)); err != nil {
		// The error may quote the file, which holds credentials.
		return nil, fmt.Errorf("%s is not a Docker config file (JSON with \"auths\")", path)
	}
	return dockerConfig{cf: cf}, nil
}

// ConfigJSON is the keychain of a Docker config held in memory: a
// Kubernetes pull secret's .dockerconfigjson, or a legacy .dockercfg
// (the auths map alone). It runs no credential helper.
func ConfigJSON(raw []byte) (authn.Keychain, error) {
	t := bytes.TrimSpace(raw)
	if !bytes.Contains(t, []byte(`"auths"`)) {
		t = append(append([]byte(`{"auths":`), t...), '}') // .dockercfg
	}
	cf := configfile.New("")
	if err := cf.LoadFromReader(bytes.NewReader(t)); err != nil {
		return nil, fmt.Errorf("not a Docker config (JSON with \"auths\")")
	}
	cf.CredentialsStore, cf.CredentialHelpers = "", nil
	return dockerConfig{cf: cf}, nil
}

type dockerConfig struct{ cf *configfile.ConfigFile }

// Resolve finds the registry's entry the way Docker does: Docker Hub
// under its legacy key, other registries by host, with or without a
// scheme and path.
func (k dockerConfig) Resolve(r authn.Resource) (authn.Authenticator, error) {
	key := r.RegistryStr()
	if key == name.DefaultRegistry {
		key = authn.DefaultAuthKey
	}
	cfg, err := k.cf.GetAuthConfig(key)
	if err != nil {
		if helperMissing(err) {
			// A config made elsewhere (gcloud auth configure-docker)
			// names a helper this machine lacks: the next source (ferry's
			// own cloud credentials) may serve the registry instead.
			return authn.Anonymous, nil
		}
		return nil, err
	}
	if cfg == (types.AuthConfig{}) {
		cfg = k.byHost(r.RegistryStr())
	}
	if cfg == (types.AuthConfig{}) || (cfg.Username == "" && cfg.Password == "" && cfg.Auth == "" && cfg.IdentityToken == "" && cfg.RegistryToken == "") {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{
		Username: cfg.Username, Password: cfg.Password, Auth: cfg.Auth,
		IdentityToken: cfg.IdentityToken, RegistryToken: cfg.RegistryToken,
	}), nil
}

// helperMissing reports whether err is a credential helper that is not
// installed.
func helperMissing(err error) bool {
	return errors.Is(err, exec.ErrNotFound) || strings.Contains(err.Error(), "executable file not found")
}

// byHost finds an auths entry written as a URL ("https://ghcr.io/v1/").
func (k dockerConfig) byHost(host string) types.AuthConfig {
	for key, c := range k.cf.GetAuthConfigs() {
		if credentials.ConvertToHostname(key) == host || strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(key, "https://"), "http://"), "/") == host {
			return c
		}
	}
	return types.AuthConfig{}
}
