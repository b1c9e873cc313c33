package sigpolicy

import (
	"strings"
	"testing"
)

// FuzzParseProvenance: the parser never panics, and what it accepts
// prints back to a form it reads as the same.
func FuzzParseProvenance(f *testing.F) {
	for _, s := range []string{
		"builder=https://github.com/actions/runner/github-hosted,repo=github.com/acme/shop,ref=refs/heads/main",
		"repository=git+https://github.com/acme/shop.git",
		"ref=refs/tags/v1.2.3", "", ",", "=", "builder==x", "repo=a,repo=b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParseProvenance(s)
		if err != nil {
			return
		}
		if p == (Provenance{}) {
			t.Fatalf("ParseProvenance(%q) accepted an empty provenance", s)
		}
		var parts []string
		if p.Builder != "" {
			parts = append(parts, "builder="+p.Builder)
		}
		if p.Repository != "" {
			parts = append(parts, "repository="+p.Repository)
		}
		if p.Ref != "" {
			parts = append(parts, "ref="+p.Ref)
		}
		again, err := ParseProvenance(strings.Join(parts, ","))
		if err != nil || again != p {
			t.Fatalf("ParseProvenance(%q) = %+v, which reads back as %+v, %v", s, p, again, err)
		}
	})
}

// FuzzParseKey: the key parser never panics and names every key it
// accepts by a SHA-256.
func FuzzParseKey(f *testing.F) {
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE8aa+eg2IzNVHu1GTuotf8LIhBj/d\n3kQTDir6qIIQqT2uiiHW60XSn2ihrwZf0WRHyUqIwsMsYgqduHCYmAd6Ug==\n-----END PUBLIC KEY-----\n"))
	f.Add([]byte("-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey("k", b)
		if err == nil && (len(k.ID) != 71 || len(k.DER) == 0) {
			t.Fatalf("ParseKey accepted %q as %+v", b, k)
		}
	})
}
