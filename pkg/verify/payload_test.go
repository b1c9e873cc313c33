package verify

import (
	"testing"

	intoto "github.com/in-toto/attestation/go/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

func TestProvenanceOf(t *testing.T) {
	for _, tc := range []struct {
		name, statement string
		want            *sigpolicy.Provenance
	}{
		{"v1 as GitHub writes it", `{"predicateType":"https://slsa.dev/provenance/v1","predicate":{
			"buildDefinition":{"externalParameters":{"workflow":{"ref":"refs/tags/v1","repository":"https://github.com/acme/shop"}}},
			"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"}}}}`,
			&sigpolicy.Provenance{Builder: "https://github.com/actions/runner/github-hosted", Repository: "https://github.com/acme/shop", Ref: "refs/tags/v1"}},
		{"v1 from its resolved dependencies", `{"predicateType":"https://slsa.dev/provenance/v1","predicate":{
			"buildDefinition":{"resolvedDependencies":[{"uri":"git+https://gitlab.com/acme/shop@refs/heads/main"}]},
			"runDetails":{"builder":{"id":"https://gitlab.com/acme/runner"}}}}`,
			&sigpolicy.Provenance{Builder: "https://gitlab.com/acme/runner", Repository: "git+https://gitlab.com/acme/shop", Ref: "refs/heads/main"}},
		{"v0.2", `{"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{
			"builder":{"id":"https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0"},
			"invocation":{"configSource":{"uri":"git+https://github.com/acme/shop@refs/heads/main","entryPoint":".github/workflows/release.yml"}}}}`,
			&sigpolicy.Provenance{Builder: "https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/v2.0.0", Repository: "git+https://github.com/acme/shop", Ref: "refs/heads/main"}},
		{"not provenance", `{"predicateType":"https://spdx.dev/Document","predicate":{}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var st intoto.Statement
			if err := protojson.Unmarshal([]byte(tc.statement), &st); err != nil {
				t.Fatal(err)
			}
			got := provenanceOf(&st)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Errorf("provenanceOf = %+v, want %+v", got, tc.want)
			}
			if got != nil && sigpolicy.NormalizeRepository(got.Repository) == "" {
				t.Errorf("repository %q normalizes to nothing", got.Repository)
			}
		})
	}
}
