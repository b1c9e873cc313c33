package main

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"github.com/ferry-dev/ferry/pkg/config"
)

// registrySecrets returns the registry credentials ferry may send, in every
// form a registry might quote back in an error: the passwords and tokens of
// the Docker config that go-containerregistry reads (DOCKER_CONFIG, else
// ~/.docker/config.json), and the base64 "user:password" that Basic
// authentication puts in the Authorization header — for the Heroku
// registry too, which is logged into as "_" with the API key. Credential
// helpers are not asked: their secrets stay unknown until used.
func registrySecrets(s config.Settings) []string {
	var out []string
	basic := func(user, pass string) {
		out = append(out, pass, base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	if s.HerokuAPIKey != "" {
		basic("_", s.HerokuAPIKey)
	}
	dir := s.Env.Get("DOCKER_CONFIG")
	if dir == "" {
		home := s.Env.Get("HOME")
		if home == "" {
			return out
		}
		dir = filepath.Join(home, ".docker")
	}
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return out // no config, or one the keychain cannot read either
	}
	var f struct {
		Auths map[string]struct {
			Auth          string `json:"auth"`
			Username      string `json:"username"`
			Password      string `json:"password"`
			IdentityToken string `json:"identitytoken"`
			RegistryToken string `json:"registrytoken"`
		} `json:"auths"`
	}
	if json.Unmarshal(b, &f) != nil {
		return out
	}
	for _, a := range f.Auths {
		out = append(out, a.Auth, a.IdentityToken, a.RegistryToken)
		if a.Password != "" {
			basic(a.Username, a.Password)
		}
		if d, err := base64.StdEncoding.DecodeString(a.Auth); err == nil {
			if user, pass, ok := strings.Cut(string(d), ":"); ok && pass != "" {
				basic(user, pass)
			}
		}
	}
	return out
}
