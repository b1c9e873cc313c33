package sigpolicy

import (
	"fmt"
	"slices"
	"strings"
)

// SLSA provenance predicate types ferry reads.
const (
	PredicateSLSAv1  = "https://slsa.dev/provenance/v1"
	PredicateSLSAv02 = "https://slsa.dev/provenance/v0.2"
)

// Evidence is one signature or attestation found for an image, after its
// cryptography was checked.
type Evidence struct {
	// Where says where it was found: "referrer sha256:…", "tag
	// sha256-….sig".
	Where string `json:"where"`
	// Format is "sigstore bundle" or "cosign signature" (the legacy
	// simple-signing payload).
	Format string `json:"format"`
	// PredicateType is the in-toto predicate type of an attestation;
	// empty for a plain signature. Cosign 3's image signatures are
	// attestations of type https://sigstore.dev/cosign/sign/v1 and count
	// as signatures.
	PredicateType string `json:"predicate_type,omitempty"`
	// Subjects are the image digests it covers.
	Subjects []string `json:"subjects,omitempty"`
	// Problem is why its cryptography did not check out (signature,
	// certificate chain, transparency log), or why it could not be
	// checked; empty when it did.
	Problem string `json:"problem,omitempty"`
	// KeyID is the ID of the policy key that verified it, or a key hint
	// when that key did not; empty for keyless.
	KeyID string `json:"key_id,omitempty"`
	// KeyMatches is true when the policy's key verified it.
	KeyMatches bool `json:"-"`
	// Identity and Issuer are the certificate's subject and OIDC issuer,
	// for keyless signatures whose certificate chains to the trusted root.
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// LogIndex is the transparency log index, when it has a verified
	// entry; HasLog tells.
	LogIndex int64 `json:"log_index,omitempty"`
	HasLog   bool  `json:"-"`
	// Provenance is what a SLSA provenance predicate says.
	Provenance *Provenance `json:"provenance,omitempty"`
}

// IsSignature reports whether e signs the image (not some other
// attestation).
func (e Evidence) IsSignature() bool {
	return e.PredicateType == "" || e.PredicateType == "https://sigstore.dev/cosign/sign/v1"
}

// IsProvenance reports whether e is a SLSA provenance attestation.
func (e Evidence) IsProvenance() bool {
	return e.PredicateType == PredicateSLSAv1 || e.PredicateType == PredicateSLSAv02
}

// Verdict is the policy's decision about one image.
type Verdict struct {
	// Passed is true when the image may be promoted.
	Passed bool
	// Digest is the image digest decided on.
	Digest string
	// Signature and Provenance are the evidence accepted (Provenance only
	// when the policy asks for it).
	Signature, Provenance *Evidence
	// Expected says what the policy asks for; Found what was found, one
	// line per item, each saying why it was not accepted, when it was
	// not.
	Expected string
	Found    []string
}

// Error is the refusal, naming what was expected and what was found; nil
// when the verdict passed.
func (v Verdict) Error() error {
	if v.Passed {
		return nil
	}
	found := "found nothing: no signature as OCI referrer, sha256-… tag or .sig tag"
	if len(v.Found) > 0 {
		found = fmt.Sprintf("found %d: %s", len(v.Found), strings.Join(v.Found, "; "))
	}
	return fmt.Errorf("%s is not signed as required: expected %s; %s", v.Digest, v.Expected, found)
}

// Decide applies p to the evidence found for the image digest.
func Decide(p Policy, digest string, found []Evidence) Verdict {
	v := Verdict{Digest: digest, Expected: "a signature by " + p.Signer()}
	if p.TLog {
		v.Expected += " in a transparency log"
	}
	if p.Provenance != nil {
		v.Expected += ", and a SLSA provenance attestation by that signer with " + p.Provenance.String()
	}
	for i := range found {
		e := &found[i]
		why := p.reject(digest, *e)
		switch {
		case why == "" && e.IsSignature() && v.Signature == nil:
			v.Signature = e
		case why == "" && e.IsProvenance() && p.Provenance != nil && v.Provenance == nil:
			if pw := p.Provenance.mismatch(e.Provenance); pw != "" {
				why = pw
			} else {
				v.Provenance = e
			}
		}
		v.Found = append(v.Found, e.describe(why))
	}
	v.Passed = v.Signature != nil && (p.Provenance == nil || v.Provenance != nil)
	return v
}

// reject says why e is not by an accepted signer over digest, or "".
func (p Policy) reject(digest string, e Evidence) string {
	switch {
	case e.Problem != "":
		return e.Problem
	case !slices.Contains(e.Subjects, digest):
		return "it covers " + strings.Join(e.Subjects, ", ") + ", not " + digest
	case p.TLog && !e.HasLog:
		return "it has no transparency log entry (FERRY_VERIFY_TLOG=false accepts signers that use none)"
	case e.KeyMatches && p.Key != nil:
		return ""
	case e.Identity != "" && p.Identity != nil && p.Identity.MatchString(e.Identity) && e.Issuer == p.Issuer:
		return ""
	case e.Identity != "":
		return "not an accepted identity"
	case e.KeyID != "":
		return "signed by another key"
	}
	return "no signer could be checked"
}

// mismatch says how a provenance differs from p, or "".
func (p Provenance) mismatch(got *Provenance) string {
	if got == nil {
		return "its predicate could not be read"
	}
	var diffs []string
	if p.Builder != "" && got.Builder != p.Builder {
		diffs = append(diffs, fmt.Sprintf("builder %q", got.Builder))
	}
	if p.Repository != "" && NormalizeRepository(got.Repository) != p.Repository {
		diffs = append(diffs, fmt.Sprintf("repository %q", got.Repository))
	}
	if p.Ref != "" && got.Ref != p.Ref {
		diffs = append(diffs, fmt.Sprintf("ref %q", got.Ref))
	}
	if len(diffs) == 0 {
		return ""
	}
	return "it names " + strings.Join(diffs, ", ")
}

// describe is e on one line, and why it was not accepted.
func (e Evidence) describe(why string) string {
	what := "signature"
	switch {
	case e.IsProvenance():
		what = "SLSA provenance"
	case !e.IsSignature():
		what = "attestation " + e.PredicateType
	}
	s := fmt.Sprintf("%s (%s, %s)", what, e.Format, e.Where)
	switch {
	case e.Identity != "":
		s += fmt.Sprintf(" by %s issued by %s", e.Identity, e.Issuer)
	case e.KeyID != "":
		s += " by key " + e.KeyID
	}
	if e.HasLog {
		s += fmt.Sprintf(", log index %d", e.LogIndex)
	}
	if why != "" {
		s += ": " + why
	} else {
		s += ": accepted"
	}
	return s
}
