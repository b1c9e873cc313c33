package main

import (
	"encoding/base64"
	"strings"

	"github.com/ferry-dev/ferry/pkg/config"
)

// herokuRegistrySecrets are the forms in which a Heroku API key reaches
// registry.heroku.com, which is logged into as user "_" with the key: the
// key, and the base64 of "_:KEY" in the Basic Authorization header, which a
// registry might quote back in an error. Registry credentials from
// keychains are reported as they are resolved instead (see credentials).
func herokuRegistrySecrets(s config.Settings) []string {
	var out []string
	for _, k := range append([]string{s.HerokuAPIKey}, appKeys(s)...) {
		if k = strings.TrimSpace(k); k != "" {
			out = append(out, k, base64.StdEncoding.EncodeToString([]byte("_:"+k)))
		}
	}
	return out
}

// appKeys are the values of the per-app Heroku keys in the environment.
func appKeys(s config.Settings) []string {
	var out []string
	for k, v := range s.Env {
		if strings.HasPrefix(k, config.AppKeyPrefix) {
			out = append(out, v)
		}
	}
	return out
}
