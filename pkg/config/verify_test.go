package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// exampleFiles makes the files the examples of FERRY_VERIFY_KEY and
// FERRY_VERIFY_TRUSTED_ROOT name, in a new working directory.
func exampleFiles(t *testing.T) {
	t.Helper()
	pub, err := os.ReadFile("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	t.Chdir(dir)
	for name, data := range map[string][]byte{"cosign.pub": pub, "trusted_root.json": []byte("{}")} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifySettings(t *testing.T) {
	pub, err := os.ReadFile("testdata/cosign.pub")
	if err != nil {
		t.Fatal(err)
	}
	pubPath, _ := filepath.Abs("testdata/cosign.pub")
	base := []string{"FERRY_SOURCE=registry.test/shop@sha256:" + strings.Repeat("a", 64), "FERRY_TARGETS=k8s:shop/web?context=prod", "FERRY_KUBECONFIG_DATA=apiVersion: v1"}
	for _, tc := range []struct {
		name string
		env  []string
		want string // a problem, or "" for none
		ok   func(Verify) bool
	}{
		{"none", nil, "", func(v Verify) bool { return !v.Policy.Enabled() }},
		{"key file", []string{"FERRY_VERIFY_KEY=" + pubPath}, "", func(v Verify) bool {
			return v.Policy.Key != nil && strings.HasPrefix(v.Policy.Key.Name, "FERRY_VERIFY_KEY (") && v.Policy.TLog
		}},
		{"key PEM, no log", []string{"FERRY_VERIFY_KEY=" + string(pub), "FERRY_VERIFY_TLOG=false"}, "", func(v Verify) bool {
			return v.Policy.Key != nil && v.Policy.Key.Name == "FERRY_VERIFY_KEY" && !v.Policy.TLog
		}},
		{"keyless and provenance", []string{"FERRY_VERIFY_IDENTITY=https://github.com/acme/.*", "FERRY_VERIFY_ISSUER=https://token.actions.githubusercontent.com", "FERRY_VERIFY_PROVENANCE=repo=github.com/acme/shop"}, "", func(v Verify) bool {
			return v.Policy.Identity.MatchString("https://github.com/acme/x") && !v.Policy.Identity.MatchString("xhttps://github.com/acme/x") && v.Policy.Provenance.Repository == "github.com/acme/shop"
		}},
		{"missing key file", []string{"FERRY_VERIFY_KEY=/nonexistent/cosign.pub"}, "FERRY_VERIFY_KEY: cannot read the public key file: no such file; give the path of cosign.pub or the PEM itself; for example FERRY_VERIFY_KEY=cosign.pub", nil},
		{"not a key", []string{"FERRY_VERIFY_KEY=-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----"}, `FERRY_VERIFY_KEY: the PEM block is a "CERTIFICATE", not a PUBLIC KEY`, nil},
		{"key is a device", []string{"FERRY_VERIFY_KEY=/dev/zero"}, "FERRY_VERIFY_KEY: cannot read the public key file: not a regular file", nil},
		{"trusted root is a folder", []string{"FERRY_VERIFY_KEY=" + pubPath, "FERRY_VERIFY_TRUSTED_ROOT=/"}, "FERRY_VERIFY_TRUSTED_ROOT: not a regular file", nil},
		{"identity without issuer", []string{"FERRY_VERIFY_IDENTITY=x"}, "FERRY_VERIFY_ISSUER: required with FERRY_VERIFY_IDENTITY", nil},
		{"issuer without identity", []string{"FERRY_VERIFY_ISSUER=x"}, "FERRY_VERIFY_IDENTITY: required with FERRY_VERIFY_ISSUER", nil},
		{"bad identity", []string{"FERRY_VERIFY_IDENTITY=(", "FERRY_VERIFY_ISSUER=x"}, "FERRY_VERIFY_IDENTITY: not a regular expression (RE2)", nil},
		{"provenance without signer", []string{"FERRY_VERIFY_PROVENANCE=ref=refs/heads/main"}, "FERRY_VERIFY_PROVENANCE: needs a signer to trust", nil},
		{"bad provenance", []string{"FERRY_VERIFY_KEY=" + pubPath, "FERRY_VERIFY_PROVENANCE=branch=main"}, `FERRY_VERIFY_PROVENANCE: "branch" is not a provenance field`, nil},
		{"missing trusted root", []string{"FERRY_VERIFY_KEY=" + pubPath, "FERRY_VERIFY_TRUSTED_ROOT=/nonexistent.json"}, "FERRY_VERIFY_TRUSTED_ROOT: cannot read the trusted root: no such file", nil},
		{"bad tlog", []string{"FERRY_VERIFY_TLOG=maybe"}, `FERRY_VERIFY_TLOG: "maybe" is not true or false`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := Load(append(append([]string{}, base...), tc.env...))
			if err != nil {
				t.Fatal(err)
			}
			c, err := s.Check(CommandPromote)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected problems:\n%v", err)
				}
				if !tc.ok(c.Verify) {
					t.Errorf("policy %+v", c.Verify.Policy)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("problems:\n%v\nwant\n%s", err, tc.want)
			}
		})
	}
	// status and rollback do not read the source's policy.
	s, _ := Load(append([]string{"FERRY_VERIFY_KEY=/nonexistent"}, base...))
	if _, err := s.Check(CommandRollback); err != nil {
		t.Errorf("rollback checks FERRY_VERIFY_KEY: %v", err)
	}
}
