package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// A trusted root file that is not one is bad input, found before any
// target is reached.
func TestVerifyTrustedRootNotOne(t *testing.T) {
	pub, err := os.ReadFile("../../pkg/config/testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(root, []byte(`{"mediaType": "nope"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	code := run(context.Background(), []string{"plan"}, []string{
		"FERRY_SOURCE=ghcr.io/acme/shop:1", "FERRY_TARGETS=heroku:shop", "HEROKU_API_KEY=k",
		"FERRY_HEROKU_API_URL=http://127.0.0.1:1", // never reached
		"FERRY_VERIFY_KEY=" + string(pub), "FERRY_VERIFY_TRUSTED_ROOT=" + root,
	}, &out, &errb)
	if code != 2 {
		t.Fatalf("exit %d, want 2\nstdout: %s\nstderr: %s", code, out.String(), errb.String())
	}
	if want := "FERRY_VERIFY_TRUSTED_ROOT: not a Sigstore trusted root"; !strings.Contains(out.String()+errb.String(), want) {
		t.Errorf("output does not say %q:\n%s\n%s", want, out.String(), errb.String())
	}
}
