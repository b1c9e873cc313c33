package verify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/internal/testenv/sigstoretest"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

// registry starts a registry on loopback, with or without the referrers
// API.
func registry(t *testing.T, referrers bool) string {
	t.Helper()
	host, stop, err := images.StartRegistryWith(images.RegistryOptions{Referrers: referrers})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return host
}

var seed int64

// push pushes a fresh image to repo and returns it pinned.
func push(t *testing.T, repo string) image.Image {
	t.Helper()
	seed++
	img, err := images.Build(images.Spec{Seed: seed + 1000*int64(len(t.Name()))})
	if err != nil {
		t.Fatal(err)
	}
	h, err := images.Push(context.Background(), repo+":v1", img)
	if err != nil {
		t.Fatal(err)
	}
	return image.Image{Repository: repo, Digest: h}
}

func signer(t *testing.T) *sigstoretest.Signer {
	t.Helper()
	s, err := sigstoretest.NewSigner(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func keyPolicy(t *testing.T, s *sigstoretest.Signer) sigpolicy.Policy {
	t.Helper()
	b, err := os.ReadFile(s.Pub)
	if err != nil {
		t.Fatal(err)
	}
	k, err := sigpolicy.ParseKey("FERRY_VERIFY_KEY (cosign.pub)", b)
	if err != nil {
		t.Fatal(err)
	}
	return sigpolicy.Policy{Key: k}
}

func checker(t *testing.T, p sigpolicy.Policy, rootPath string) *Checker {
	t.Helper()
	tr, err := TrustedRoot(rootPath)
	if err != nil {
		t.Fatal(err)
	}
	return &Checker{Policy: p, Root: tr}
}

// verdict runs c on img; wantPass says whether it must pass, and want are
// substrings of the refusal.
func verdict(t *testing.T, c *Checker, img image.Image, wantPass bool, want ...string) *promote.Verification {
	t.Helper()
	v, err := c.Verify(context.Background(), img)
	if v == nil {
		t.Fatalf("Verify: no verification, error %v", err)
	}
	if v.Passed != wantPass || (err == nil) != wantPass {
		t.Fatalf("Verify: passed %v, error %v; want passed %v\nfound: %q", v.Passed, err, wantPass, v.Found)
	}
	if err != nil {
		if !promote.IsInput(err) {
			t.Errorf("refusal %v is not an input error (exit 2)", err)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("refusal\n%v\ndoes not say\n%s", err, w)
			}
		}
	}
	return v
}

func TestCosignKeyed(t *testing.T) {
	ctx := context.Background()
	host := registry(t, true)
	s := signer(t)
	c := checker(t, keyPolicy(t, s), "")

	t.Run("bundle referrer", func(t *testing.T) {
		img := push(t, host+"/acme/bundle")
		verdict(t, c, img, false, "expected a signature by key sha256:", "found nothing")
		if err := s.Sign(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
		v := verdict(t, c, img, true)
		if v.Signature == nil || !strings.HasPrefix(v.Signature.Where, "OCI referrer sha256:") || v.Signature.Format != "sigstore bundle" || v.Signature.Key != c.Policy.Key.ID {
			t.Errorf("accepted signature %+v", v.Signature)
		}
	})
	t.Run("legacy sig tag", func(t *testing.T) {
		img := push(t, host+"/acme/legacy")
		if err := s.SignLegacy(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
		v := verdict(t, c, img, true)
		if v.Signature.Format != "cosign signature" || v.Signature.Where != "tag sha256-"+img.Digest.Hex+".sig" {
			t.Errorf("accepted signature %+v", v.Signature)
		}
	})
	t.Run("another key", func(t *testing.T) {
		img := push(t, host+"/acme/other")
		other := signer(t)
		if err := other.Sign(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
		if err := other.SignLegacy(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
		verdict(t, c, img, false, "found 2:", "(sigstore bundle, OCI referrer sha256:", ": signed by another key",
			"(cosign signature, tag sha256-"+img.Digest.Hex+".sig): it does not verify with FERRY_VERIFY_KEY (cosign.pub) (signed by another key, or altered)")
	})
	t.Run("signature over another digest", func(t *testing.T) {
		signed := push(t, host+"/acme/copied")
		unsigned := push(t, host+"/acme/copied")
		if err := s.Sign(ctx, signed.Ref()); err != nil {
			t.Fatal(err)
		}
		bundles, err := sigstoretest.Referrers(ctx, signed.Ref())
		if err != nil || len(bundles) != 1 {
			t.Fatalf("referrers of the signed image: %d, %v", len(bundles), err)
		}
		if err := sigstoretest.PushReferrer(ctx, unsigned.Ref(), bundles[0]); err != nil {
			t.Fatal(err)
		}
		verdict(t, c, unsigned, false, "it covers "+signed.Digest.String()+", not "+unsigned.Digest.String())
	})
	t.Run("provenance", func(t *testing.T) {
		img := push(t, host+"/acme/prov")
		if err := s.Sign(ctx, img.Ref()); err != nil {
			t.Fatal(err)
		}
		pred := filepath.Join(t.TempDir(), "provenance.json")
		writeProvenance(t, pred, "https://github.com/acme/shop", "refs/heads/main")
		if err := s.Attest(ctx, img.Ref(), "slsaprovenance1", pred); err != nil {
			t.Fatal(err)
		}
		p := c.Policy
		p.Provenance = &sigpolicy.Provenance{Builder: "https://github.com/actions/runner/github-hosted", Repository: "github.com/acme/shop", Ref: "refs/heads/main"}
		v := verdict(t, &Checker{Policy: p, Root: c.Root}, img, true)
		if pv := v.Provenance; pv == nil || pv.Builder != p.Provenance.Builder || pv.Repository != "https://github.com/acme/shop" || pv.Ref != "refs/heads/main" {
			t.Errorf("accepted provenance %+v", v.Provenance)
		}
		p.Provenance = &sigpolicy.Provenance{Repository: "github.com/acme/other"}
		verdict(t, &Checker{Policy: p, Root: c.Root}, img, false,
			"and a SLSA provenance attestation by that signer with repository github.com/acme/other",
			`it names repository "https://github.com/acme/shop"`)
	})
}

func writeProvenance(t *testing.T, path, repo, ref string) {
	t.Helper()
	b, err := json.Marshal(provenancePredicate(repo, ref))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// provenancePredicate is a SLSA v1 predicate as GitHub's
// actions/attest-build-provenance writes it.
func provenancePredicate(repo, ref string) map[string]any {
	return map[string]any{
		"buildDefinition": map[string]any{
			"buildType":          "https://actions.github.io/buildtypes/workflow/v1",
			"externalParameters": map[string]any{"workflow": map[string]any{"ref": ref, "repository": repo, "path": ".github/workflows/release.yml"}},
		},
		"runDetails": map[string]any{"builder": map[string]any{"id": "https://github.com/actions/runner/github-hosted"}},
	}
}

func TestCosignTagFallback(t *testing.T) {
	ctx := context.Background()
	host := registry(t, false)
	s := signer(t)
	img := push(t, host+"/acme/fallback")
	if err := s.Sign(ctx, img.Ref()); err != nil {
		t.Fatal(err)
	}
	// Only the tag fallback holds it: this registry has no referrers API.
	tag, err := name.NewTag(host + "/acme/fallback:sha256-" + img.Digest.Hex)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := remote.Head(tag); err != nil {
		t.Fatalf("the tag fallback was not written: %v", err)
	}
	v := verdict(t, checker(t, keyPolicy(t, s), ""), img, true)
	if want := "referrers tag sha256-" + img.Digest.Hex + ": sha256:"; !strings.HasPrefix(v.Signature.Where, want) {
		t.Errorf("found at %q, want %q…", v.Signature.Where, want)
	}
}

const (
	workflow = "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main"
	issuer   = "https://token.actions.githubusercontent.com"
)

func keylessPolicy(t *testing.T) sigpolicy.Policy {
	t.Helper()
	re, err := sigpolicy.AnchoredIdentity(`https://github\.com/acme/shop/\.github/workflows/release\.yml@refs/heads/.*`)
	if err != nil {
		t.Fatal(err)
	}
	return sigpolicy.Policy{Identity: re, IdentityPattern: re.String(), Issuer: issuer, TLog: true}
}

func TestKeyless(t *testing.T) {
	ctx := context.Background()
	host := registry(t, true)
	k, err := sigstoretest.NewKeyless()
	if err != nil {
		t.Fatal(err)
	}
	rootJSON, err := k.TrustedRoot()
	if err != nil {
		t.Fatal(err)
	}
	rootPath := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(rootPath, rootJSON, 0o600); err != nil {
		t.Fatal(err)
	}
	c := checker(t, keylessPolicy(t), rootPath)

	attach := func(t *testing.T, img image.Image, identity, predicateType string, predicate any, edit func([]byte) []byte) {
		t.Helper()
		st, err := sigstoretest.Statement(img.Digest.String(), predicateType, predicate)
		if err != nil {
			t.Fatal(err)
		}
		b, err := k.Bundle(identity, issuer, st)
		if err != nil {
			t.Fatal(err)
		}
		if edit != nil {
			b = edit(b)
		}
		if err := sigstoretest.PushReferrer(ctx, img.Ref(), b); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("identity and provenance", func(t *testing.T) {
		img := push(t, host+"/acme/keyless")
		attach(t, img, workflow, sigstoretest.PredicateCosignSign, nil, nil)
		attach(t, img, workflow, sigstoretest.PredicateSLSAv1, provenancePredicate("https://github.com/acme/shop", "refs/heads/main"), nil)
		p := c.Policy
		p.Provenance = &sigpolicy.Provenance{Repository: "github.com/acme/shop", Ref: "refs/heads/main"}
		v := verdict(t, &Checker{Policy: p, Root: c.Root}, img, true)
		if v.Signature.Identity != workflow || v.Signature.Issuer != issuer || v.Signature.LogIndex == nil {
			t.Errorf("accepted signature %+v", v.Signature)
		}
		if v.Provenance == nil || v.Provenance.Identity != workflow || v.Provenance.Repository != "https://github.com/acme/shop" {
			t.Errorf("accepted provenance %+v", v.Provenance)
		}
		// The public-good root does not know this private instance.
		verdict(t, checker(t, c.Policy, ""), img, false, "it does not verify")
	})
	t.Run("cosign 2 keyless signature", func(t *testing.T) {
		img := push(t, host+"/acme/keyless-legacy")
		if err := k.PushLegacy(ctx, img.Ref(), workflow, issuer); err != nil {
			t.Fatal(err)
		}
		v := verdict(t, c, img, true)
		if s := v.Signature; s.Format != "cosign signature" || s.Identity != workflow || s.Issuer != issuer || s.LogIndex == nil {
			t.Errorf("accepted signature %+v", s)
		}
		other := push(t, host+"/acme/keyless-legacy")
		if err := k.PushLegacy(ctx, other.Ref(), "https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main", issuer); err != nil {
			t.Fatal(err)
		}
		verdict(t, c, other, false, "(cosign signature, tag sha256-"+other.Digest.Hex+".sig) by https://github.com/evil/shop/", "not an accepted identity")
	})
	t.Run("another identity", func(t *testing.T) {
		img := push(t, host+"/acme/keyless-other")
		evil := "https://github.com/evil/shop/.github/workflows/release.yml@refs/heads/main"
		attach(t, img, evil, sigstoretest.PredicateCosignSign, nil, nil)
		verdict(t, c, img, false, "by "+evil+" issued by "+issuer, "not an accepted identity")
	})
	t.Run("tampered", func(t *testing.T) {
		img := push(t, host+"/acme/keyless-tampered")
		attach(t, img, workflow, sigstoretest.PredicateCosignSign, nil, func(b []byte) []byte {
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			// Another statement about the same digest, under the old signature.
			st, _ := sigstoretest.Statement(img.Digest.String(), sigstoretest.PredicateCosignSign, map[string]any{"x": 1})
			env, ok := m["dsseEnvelope"].(map[string]any)
			if !ok {
				t.Fatalf("no DSSE envelope in the bundle")
			}
			env["payload"] = st
			out, _ := json.Marshal(m)
			return out
		})
		verdict(t, c, img, false, "it does not verify")
	})
}
