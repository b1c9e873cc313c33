package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

func verifiedReport() *promote.Report {
	idx := int64(42)
	r := promote.NewReport("plan", []string{"k8s:shop/web?context=prod"})
	r.Source, r.Image, r.Digest = "ghcr.io/acme/shop:1", "ghcr.io/acme/shop@sha256:"+strings.Repeat("a", 64), "sha256:"+strings.Repeat("a", 64)
	r.Outcome = promote.OutcomePlanned
	r.Targets[0].Status = promote.StatusPlanned
	r.Verifications = []promote.Verification{{
		Check: "signature", Passed: true, Expected: "a signature by key sha256:abc",
		Found:      []string{"signature (sigstore bundle, OCI referrer sha256:1): accepted"},
		Signature:  &promote.Evidence{Where: "OCI referrer sha256:1", Format: "sigstore bundle", Identity: "https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main", Issuer: "https://token.actions.githubusercontent.com", LogIndex: &idx},
		Provenance: &promote.Evidence{Where: "OCI referrer sha256:2", Format: "sigstore bundle", Key: "sha256:abc", Builder: "https://github.com/actions/runner/github-hosted", Repository: "https://github.com/acme/shop", Ref: "refs/heads/main"},
	}, {Check: "signature", Expected: "x", Found: []string{}}}
	return r
}

func TestVerificationsFollowSchema(t *testing.T) {
	schema := reportSchema(t)
	var b bytes.Buffer
	if err := JSON(&b, verifiedReport(), redact.Secrets{}); err != nil {
		t.Fatal(err)
	}
	js := b.String()
	v, err := jsonschema.UnmarshalJSON(&b)
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(v); err != nil {
		t.Errorf("report %s does not follow docs/report.schema.json: %v", js, err)
	}
}

func TestVerificationsInTextAndSummary(t *testing.T) {
	r := verifiedReport()
	var b bytes.Buffer
	if err := Text(&b, r, redact.Secrets{}); err != nil {
		t.Fatal(err)
	}
	md := Summary(r)
	for _, want := range []string{
		"signature check passed: expected a signature by key sha256:abc",
		"signature (sigstore bundle, OCI referrer sha256:1) by https://github.com/acme/shop/.github/workflows/release.yml@refs/heads/main issued by https://token.actions.githubusercontent.com, log index 42",
		"provenance (sigstore bundle, OCI referrer sha256:2) by key sha256:abc: builder https://github.com/actions/runner/github-hosted, source https://github.com/acme/shop refs/heads/main",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("text does not say %q:\n%s", want, b.String())
		}
		if !strings.Contains(md, want) {
			t.Errorf("summary does not say %q:\n%s", want, md)
		}
	}
	if !strings.Contains(b.String(), "signature check FAILED: expected x") || !strings.Contains(md, "signature check **failed**: expected x.") {
		t.Errorf("a failed check is not shown:\n%s\n%s", b.String(), md)
	}
}
