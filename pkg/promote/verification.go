package promote

import (
	"context"

	"github.com/ferry-dev/ferry/pkg/image"
)

// A VerifyingCheck is a SourceCheck that says what it verified, whether
// the image passed or not; the report carries it ([Report.Verifications]).
// Verify returns the same error Check would.
type VerifyingCheck interface {
	SourceCheck
	Verify(ctx context.Context, img image.Image) (*Verification, error)
}

// Verification is what a signature check found about the source image.
type Verification struct {
	// Check names the check: "signature".
	Check string `json:"check"`
	// Image is the image checked ("repo@sha256:..."), set when a run
	// checks several (targets with container mappings).
	Image string `json:"image,omitempty"`
	// Passed is true when the image met the policy.
	Passed bool `json:"passed"`
	// Expected says what the policy asks for.
	Expected string `json:"expected"`
	// Found lists what was found, one line each, and whether it was
	// accepted or why not.
	Found []string `json:"found"`
	// Signature and Provenance are the evidence accepted.
	Signature  *Evidence `json:"signature,omitempty"`
	Provenance *Evidence `json:"provenance,omitempty"`
}

// Evidence is one accepted signature or attestation.
type Evidence struct {
	// Where it was found: "OCI referrer sha256:…", "referrers tag
	// sha256-…: sha256:…" (the tag fallback), "tag sha256-….sig".
	Where string `json:"where"`
	// Format is "sigstore bundle" or "cosign signature".
	Format string `json:"format"`
	// Key is the ID of the public key that verified it (keyed signing).
	Key string `json:"key,omitempty"`
	// Identity and Issuer are the signer's certificate subject and OIDC
	// issuer (keyless signing).
	Identity string `json:"identity,omitempty"`
	Issuer   string `json:"issuer,omitempty"`
	// LogIndex is its transparency log index, when it has an entry.
	LogIndex *int64 `json:"log_index,omitempty"`
	// Builder, Repository and Ref are what a SLSA provenance says.
	Builder    string `json:"builder,omitempty"`
	Repository string `json:"repository,omitempty"`
	Ref        string `json:"ref,omitempty"`
}

// verify runs c, recording what a VerifyingCheck verified in the report.
func (r *run) verify(ctx context.Context, c SourceCheck, img image.Image) error {
	vc, ok := c.(VerifyingCheck)
	if !ok {
		return c.Check(ctx, img)
	}
	v, err := vc.Verify(ctx, img)
	if v != nil {
		if r.mapped != nil {
			v.Image = img.Ref()
		}
		r.report.Verifications = append(r.report.Verifications, *v)
		verdict := "passed"
		if !v.Passed {
			verdict = "failed"
		}
		of := ""
		if v.Image != "" {
			of = " of " + v.Image
		}
		r.o.Logger.Logf("", "%s check%s %s: expected %s", v.Check, of, verdict, v.Expected)
		for _, f := range v.Found {
			r.o.Logger.Logf("", "  found %s", f)
		}
	}
	return err
}
