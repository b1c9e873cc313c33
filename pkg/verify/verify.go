package verify

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

// Checker checks a source image against Policy. It is a
// promote.VerifyingCheck.
type Checker struct {
	// Policy is what the image must carry; it must be Enabled.
	Policy sigpolicy.Policy
	// Root is the Sigstore trusted root (see [TrustedRoot]).
	Root *root.TrustedRoot
	// Keychain and Options are those of the image pulls.
	Keychain authn.Keychain
	Options  []remote.Option
}

var _ promote.VerifyingCheck = (*Checker)(nil)

// Check implements promote.SourceCheck.
func (c *Checker) Check(ctx context.Context, img image.Image) error {
	_, err := c.Verify(ctx, img)
	return err
}

// Verify finds and checks what img carries and decides. A refusal is a
// promote input error naming what was expected and found; a registry
// that cannot be read is a plain error.
func (c *Checker) Verify(ctx context.Context, img image.Image) (*promote.Verification, error) {
	found, err := c.Find(ctx, img)
	if err != nil {
		return nil, err
	}
	v := sigpolicy.Decide(c.Policy, img.Digest.String(), found)
	out := &promote.Verification{
		Check: "signature", Passed: v.Passed, Expected: v.Expected, Found: v.Found,
		Signature: reported(v.Signature), Provenance: reported(v.Provenance),
	}
	if out.Found == nil {
		out.Found = []string{}
	}
	return out, promote.Input(v.Error())
}

func reported(e *sigpolicy.Evidence) *promote.Evidence {
	if e == nil {
		return nil
	}
	r := &promote.Evidence{Where: e.Where, Format: e.Format, Identity: e.Identity, Issuer: e.Issuer}
	if e.Identity == "" {
		r.Key = e.KeyID
	}
	if e.HasLog {
		i := e.LogIndex
		r.LogIndex = &i
	}
	if e.Provenance != nil {
		r.Builder, r.Repository, r.Ref = e.Provenance.Builder, e.Provenance.Repository, e.Provenance.Ref
	}
	return r
}

// Find returns every signature and attestation img carries, each checked
// cryptographically.
func (c *Checker) Find(ctx context.Context, img image.Image) ([]sigpolicy.Evidence, error) {
	repo, err := name.NewRepository(img.Repository, name.WeakValidation)
	if err != nil {
		return nil, fmt.Errorf("parsing repository %q: %w", img.Repository, err)
	}
	opts := c.remote(ctx)
	var found []sigpolicy.Evidence
	bundles, err := c.referrers(repo.Digest(img.Digest.String()), opts)
	if err != nil {
		return nil, err
	}
	for _, b := range bundles {
		if b.bundle == nil {
			found = append(found, sigpolicy.Evidence{Where: b.where, Format: b.format, Problem: "it is not a Sigstore bundle: " + b.err.Error()})
			continue
		}
		found = append(found, c.checkBundle(b.where, b.format, b.bundle, nil, img.Digest))
	}
	legacy, err := c.legacy(repo, img.Digest, opts)
	if err != nil {
		return nil, err
	}
	return append(found, legacy...), nil
}

func (c *Checker) remote(ctx context.Context) []remote.Option {
	kc := c.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	return append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, c.Options...)
}

// found is one bundle read from the registry.
type found struct {
	where, format string
	bundle        *bundle.Bundle
	err           error // why bundle is nil
}

// checkBundle verifies b's cryptography and reads what it says. payload
// is the simple-signing payload a legacy signature signs, nil otherwise.
func (c *Checker) checkBundle(where, format string, b *bundle.Bundle, payload []byte, digest v1.Hash) sigpolicy.Evidence {
	e := sigpolicy.Evidence{Where: where, Format: format}
	artifact, problem := read(&e, b, payload, digest)
	if problem != "" {
		e.Problem = problem
		return e
	}
	if !containsDigest(e.Subjects, digest.String()) {
		return e // sigpolicy says it covers another digest
	}
	c.check(&e, b, artifact)
	return e
}

// read fills in what b says it signs (subjects, predicate) and returns
// the artifact policy to verify it with, or why it cannot be.
func read(e *sigpolicy.Evidence, b *bundle.Bundle, payload []byte, digest v1.Hash) (sgverify.ArtifactPolicyOption, string) {
	content, err := b.SignatureContent()
	if err != nil {
		return nil, "it holds no signature: " + err.Error()
	}
	if env := content.EnvelopeContent(); env != nil {
		st, err := env.Statement()
		if err != nil {
			return nil, "its DSSE envelope holds no in-toto statement: " + err.Error()
		}
		e.PredicateType = st.GetPredicateType()
		for _, s := range st.GetSubject() {
			if h := s.GetDigest()["sha256"]; h != "" {
				e.Subjects = append(e.Subjects, "sha256:"+h)
			}
		}
		e.Provenance = provenanceOf(st)
		raw, _ := hex.DecodeString(digest.Hex)
		return sgverify.WithArtifactDigest("sha256", raw), ""
	}
	// A message signature over a cosign simple-signing payload.
	if payload == nil {
		return nil, "it signs no image: a message signature without a payload"
	}
	subject, err := simpleSigningDigest(payload)
	if err != nil {
		return nil, err.Error()
	}
	e.Subjects = []string{subject}
	return sgverify.WithArtifact(bytes.NewReader(payload)), ""
}

// check verifies b against the policy's key or the trusted root and
// fills in who signed it, or why it does not verify.
func (c *Checker) check(e *sigpolicy.Evidence, b *bundle.Bundle, artifact sgverify.ArtifactPolicyOption) {
	entries, _ := b.TlogEntries()
	vc, err := b.VerificationContent()
	if err != nil {
		e.Problem = "its verification material cannot be read: " + err.Error()
		return
	}
	keyed := vc.PublicKey() != nil
	var tm root.TrustedMaterial = c.Root
	var opts []sgverify.VerifierOption
	var policy []sgverify.PolicyOption
	if len(entries) > 0 {
		opts = append(opts, sgverify.WithTransparencyLog(1))
	}
	if keyed {
		hint := vc.PublicKey().Hint()
		e.KeyID = hintID(hint)
		switch {
		case c.Policy.Key == nil:
			e.Problem = "it is signed with a key, and no FERRY_VERIFY_KEY is set to check it"
			return
		case hint != "" && hint != c.Policy.Key.Hint:
			return // another key, by its hint
		}
		material, err := keyMaterial(c.Policy.Key)
		if err != nil {
			e.Problem = err.Error()
			return
		}
		tm = root.TrustedMaterialCollection{c.Root, material}
		policy = append(policy, sgverify.WithKey())
		if len(entries) == 0 {
			opts = append(opts, sgverify.WithCurrentTime())
		}
	} else {
		opts = append(opts, sgverify.WithObserverTimestamps(1))
		if len(c.Root.CTLogs()) > 0 {
			opts = append(opts, sgverify.WithSignedCertificateTimestamps(1))
		}
		policy = append(policy, sgverify.WithoutIdentitiesUnsafe())
	}
	v, err := sgverify.NewVerifier(tm, opts...)
	if err != nil {
		e.Problem = "it cannot be checked: " + err.Error()
		return
	}
	res, err := v.Verify(b, sgverify.NewPolicy(artifact, policy...))
	switch {
	case err != nil && keyed:
		e.Problem = "it does not verify with " + c.Policy.Key.Name + " (signed by another key, or altered): " + err.Error()
		return
	case err != nil:
		e.Problem = "it does not verify: " + err.Error()
		return
	}
	if keyed {
		e.KeyMatches, e.KeyID = true, c.Policy.Key.ID
	}
	if cert := res.Signature.Certificate; cert != nil {
		e.Identity, e.Issuer = cert.SubjectAlternativeName, cert.Issuer
	}
	if len(entries) > 0 {
		e.LogIndex, e.HasLog = entries[0].LogIndex(), true
	}
}

func containsDigest(list []string, d string) bool {
	for _, s := range list {
		if s == d {
			return true
		}
	}
	return false
}

// hintID shows a cosign key hint (base64 SHA-256 of the key) like a
// sigpolicy.Key ID.
func hintID(hint string) string {
	if b, err := base64.StdEncoding.DecodeString(hint); err == nil && len(b) == sha256.Size {
		return "sha256:" + hex.EncodeToString(b)
	}
	return hint
}

func keyMaterial(k *sigpolicy.Key) (root.TrustedMaterial, error) {
	pub, err := x509.ParsePKIXPublicKey(k.DER)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name, err)
	}
	ver, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", k.Name, err)
	}
	expiring := root.NewExpiringKey(ver, timeZero, timeZero)
	return root.NewTrustedPublicKeyMaterial(func(string) (root.TimeConstrainedVerifier, error) { return expiring, nil }), nil
}

func shortDigest(d string) string {
	if i := strings.Index(d, ":"); i >= 0 && len(d) > i+13 {
		return d[:i+13]
	}
	return d
}
