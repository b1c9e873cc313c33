package main

import (
	"encoding/base64"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/pkg/config"
)

func TestHerokuRegistrySecrets(t *testing.T) {
	s := config.Settings{HerokuAPIKey: "hk-key", Env: config.Env{config.AppKeyVar("shop-prod"): "hk-prod-key", "OTHER": "x"}}
	got := herokuRegistrySecrets(s)
	for _, want := range []string{"hk-key", base64.StdEncoding.EncodeToString([]byte("_:hk-key")),
		"hk-prod-key", base64.StdEncoding.EncodeToString([]byte("_:hk-prod-key"))} {
		if !slices.Contains(got, want) {
			t.Errorf("%q is not among the secrets %q", want, got)
		}
	}
	if slices.Contains(got, "x") {
		t.Errorf("an unrelated variable is a secret: %q", got)
	}
}
