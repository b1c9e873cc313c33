package sigpolicy

import (
	"regexp"
	"strings"
	"testing"
)

const (
	digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	other  = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	keyID  = "sha256:abababababababababababababababababababababababababababababababab"
)

func TestDecide(t *testing.T) {
	key := &Key{Name: "FERRY_VERIFY_KEY (cosign.pub)", ID: keyID}
	keyed := Policy{Key: key}
	keyless := Policy{
		Identity:        regexp.MustCompile(`^(?:https://github\.com/acme/shop/\.github/workflows/release\.yml@.*)$`),
		IdentityPattern: `https://github\.com/acme/shop/\.github/workflows/release\.yml@.*`,
		Issuer:          "https://token.actions.githubusercontent.com",
		TLog:            true,
	}
	withProv := keyed
	withProv.Provenance = &Provenance{Builder: "https://github.com/actions/runner/github-hosted", Repository: "github.com/acme/shop", Ref: "refs/heads/main"}

	sig := Evidence{Where: "referrer sha256:aa", Format: "sigstore bundle", PredicateType: "https://sigstore.dev/cosign/sign/v1", Subjects: []string{digest}, KeyID: keyID, KeyMatches: true}
	legacy := Evidence{Where: "tag sha256-11.sig", Format: "cosign signature", Subjects: []string{digest}, KeyID: keyID, KeyMatches: true}
	byOther := sig
	byOther.KeyMatches, byOther.KeyID = false, "sha256:cdcd"
	overOther := sig
	overOther.Subjects = []string{other}
	tampered := sig
	tampered.KeyMatches, tampered.Problem = false, "the signature does not verify"
	ci := Evidence{Where: "referrer sha256:bb", Format: "sigstore bundle", Subjects: []string{digest},
		Identity: "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com", LogIndex: 42, HasLog: true}
	ciNoLog := ci
	ciNoLog.HasLog = false
	ciOtherRepo := ci
	ciOtherRepo.Identity = "https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main"
	ciOtherIssuer := ci
	ciOtherIssuer.Issuer = "https://accounts.google.com"
	prov := Evidence{Where: "referrer sha256:cc", Format: "sigstore bundle", PredicateType: PredicateSLSAv1, Subjects: []string{digest}, KeyID: keyID, KeyMatches: true,
		Provenance: &Provenance{Builder: "https://github.com/actions/runner/github-hosted", Repository: "git+https://github.com/acme/shop.git", Ref: "refs/heads/main"}}
	provOtherRepo := prov
	provOtherRepo.Provenance = &Provenance{Builder: prov.Provenance.Builder, Repository: "https://github.com/evil/shop", Ref: "refs/heads/main"}
	provOtherKey := prov
	provOtherKey.KeyMatches = false

	for _, tc := range []struct {
		name   string
		p      Policy
		found  []Evidence
		passed bool
		want   []string // substrings of the error
	}{
		{"bundle by the key", keyed, []Evidence{sig}, true, nil},
		{"legacy signature by the key", keyed, []Evidence{legacy}, true, nil},
		{"nothing found", keyed, nil, false, []string{"expected a signature by key sha256:abababababab FERRY_VERIFY_KEY (cosign.pub)", "found nothing"}},
		{"another key", keyed, []Evidence{byOther}, false, []string{"found 1: signature (sigstore bundle, referrer sha256:aa) by key sha256:cdcd: signed by another key"}},
		{"another digest", keyed, []Evidence{overOther}, false, []string{"it covers " + other + ", not " + digest}},
		{"tampered", keyed, []Evidence{tampered}, false, []string{"the signature does not verify"}},
		{"one good among bad", keyed, []Evidence{byOther, sig}, true, nil},
		{"keyless identity", keyless, []Evidence{ci}, true, nil},
		{"keyless without log entry", keyless, []Evidence{ciNoLog}, false, []string{"in a transparency log", "no transparency log entry"}},
		{"keyless other repository", keyless, []Evidence{ciOtherRepo}, false, []string{"by https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main issued by https://token.actions.githubusercontent.com, log index 42: not an accepted identity"}},
		{"keyless other issuer", keyless, []Evidence{ciOtherIssuer}, false, []string{"issued by https://accounts.google.com", "not an accepted identity"}},
		{"keyless policy, keyed signature", keyless, []Evidence{sig}, false, []string{"no transparency log entry"}},
		{"provenance matches", withProv, []Evidence{sig, prov}, true, nil},
		{"provenance missing", withProv, []Evidence{sig}, false, []string{"and a SLSA provenance attestation by that signer with builder https://github.com/actions/runner/github-hosted, repository github.com/acme/shop, ref refs/heads/main", "found 1: signature"}},
		{"provenance from another repository", withProv, []Evidence{sig, provOtherRepo}, false, []string{`SLSA provenance (sigstore bundle, referrer sha256:cc) by key ` + keyID + `: it names repository "https://github.com/evil/shop"`}},
		{"provenance by another key", withProv, []Evidence{sig, provOtherKey}, false, []string{"SLSA provenance", "signed by another key"}},
		{"provenance without signature", withProv, []Evidence{prov}, false, []string{"SLSA provenance (sigstore bundle, referrer sha256:cc) by key " + keyID + ": accepted"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Decide(tc.p, digest, tc.found)
			if v.Passed != tc.passed {
				t.Fatalf("Passed = %v, want %v; error: %v", v.Passed, tc.passed, v.Error())
			}
			if tc.passed {
				if v.Error() != nil || v.Signature == nil {
					t.Fatalf("passed verdict: error %v, signature %v", v.Error(), v.Signature)
				}
				if tc.p.Provenance != nil && v.Provenance == nil {
					t.Fatal("passed verdict without the provenance the policy asks for")
				}
				return
			}
			err := v.Error()
			if err == nil {
				t.Fatal("failed verdict without error")
			}
			if !strings.HasPrefix(err.Error(), digest+" is not signed as required: expected ") {
				t.Errorf("error %q does not start with the digest and the expectation", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\ndoes not say\n%s", err, w)
				}
			}
		})
	}
}

func TestParseProvenance(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Provenance
		err  string
	}{
		{"builder=https://b,repo=https://github.com/Acme/Shop.git,ref=refs/heads/main", Provenance{"https://b", "github.com/acme/shop", "refs/heads/main"}, ""},
		{" repository = git+https://github.com/acme/shop@refs/heads/main ", Provenance{Repository: "github.com/acme/shop"}, ""},
		{"ref=refs/tags/v1,", Provenance{Ref: "refs/tags/v1"}, ""},
		{"", Provenance{}, "names no field"},
		{"builder", Provenance{}, `"builder" is not key=value`},
		{"ref=a,ref=b", Provenance{}, "ref is given twice"},
		{"repo=a,repository=b", Provenance{}, "repository is given twice"},
		{"branch=main", Provenance{}, `"branch" is not a provenance field`},
	} {
		got, err := ParseProvenance(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseProvenance(%q) error = %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseProvenance(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseKey(t *testing.T) {
	pemKey := "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8aa+eg2IzNVHu1GTuotf8LIhBj/d\n3kQTDir6qIIQqT2uiiHW60XSn2ihrwZf0WRHyUqIwsMsYgqduHCYmAd6Ug==\n-----END PUBLIC KEY-----\n"
	k, err := ParseKey("FERRY_VERIFY_KEY", []byte(pemKey))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(k.ID, "sha256:") || len(k.ID) != 71 || k.Hint == "" {
		t.Errorf("key %+v", k)
	}
	for in, want := range map[string]string{
		"": "no PEM block",
		"-----BEGIN PRIVATE KEY-----\nAA==\n-----END PRIVATE KEY-----\n": `is a "PRIVATE KEY"`,
		"-----BEGIN PUBLIC KEY-----\nAA==\n-----END PUBLIC KEY-----\n":   "not a public key",
		pemKey + pemKey: "more than one PEM block",
	} {
		if _, err := ParseKey("k", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseKey(%q) error = %v, want %q", in, err, want)
		}
	}
}
