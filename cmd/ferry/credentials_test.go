package main

import (
	"encoding/base64"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ferry-dev/ferry/pkg/config"
)

func TestRegistrySecrets(t *testing.T) {
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	dir := t.TempDir()
	cfg := `{"auths":{
		"ghcr.io":{"auth":"` + b64("bot:ghp_s3cret") + `"},
		"quay.io":{"username":"robot","password":"quay-pass"},
		"ecr":{"identitytoken":"id-token-1","registrytoken":"reg-token-2"}
	},"credsStore":"desktop"}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	got := registrySecrets(config.Settings{HerokuAPIKey: "hk-key", Env: config.Env{"DOCKER_CONFIG": dir}})
	for _, want := range []string{
		"hk-key", b64("_:hk-key"),
		b64("bot:ghp_s3cret"), "ghp_s3cret",
		"quay-pass", b64("robot:quay-pass"),
		"id-token-1", "reg-token-2",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("%q is not among the secrets %q", want, got)
		}
	}
	for _, not := range []string{"bot", "robot", "desktop", "ghcr.io"} {
		if slices.Contains(got, not) {
			t.Errorf("%q is no secret", not)
		}
	}
	// ~/.docker/config.json when DOCKER_CONFIG is unset; nothing when
	// there is no config.
	home := t.TempDir()
	if err := os.MkdirAll(filepath.Join(home, ".docker"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, ".docker", "config.json"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := registrySecrets(config.Settings{Env: config.Env{"HOME": home}}); !slices.Contains(got, "quay-pass") {
		t.Errorf("~/.docker/config.json not read: %q", got)
	}
	if got := registrySecrets(config.Settings{Env: config.Env{"HOME": t.TempDir()}}); len(got) != 0 {
		t.Errorf("secrets without a config: %q", got)
	}
}
