package verify

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"

	intoto "github.com/in-toto/attestation/go/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"

	"github.com/ferry-dev/ferry/pkg/sigpolicy"
)

// simpleSigningDigest is the image digest a cosign simple-signing payload
// names.
func simpleSigningDigest(payload []byte) (string, error) {
	var p struct {
		Critical struct {
			Image struct {
				Digest string `json:"docker-manifest-digest"`
			} `json:"image"`
			Type string `json:"type"`
		} `json:"critical"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Critical.Image.Digest == "" {
		return "", errors.New("its payload is not a cosign simple-signing payload naming an image digest")
	}
	return p.Critical.Image.Digest, nil
}

// provenanceOf reads builder, source repository and ref from a SLSA
// provenance statement (v1, or v0.2), nil for other statements.
func provenanceOf(st *intoto.Statement) *sigpolicy.Provenance {
	t := st.GetPredicateType()
	if t != sigpolicy.PredicateSLSAv1 && t != sigpolicy.PredicateSLSAv02 {
		return nil
	}
	raw, err := st.GetPredicate().MarshalJSON()
	if err != nil {
		return &sigpolicy.Provenance{}
	}
	var p struct {
		// v1
		BuildDefinition struct {
			ExternalParameters struct {
				Workflow struct {
					Ref        string `json:"ref"`
					Repository string `json:"repository"`
				} `json:"workflow"`
			} `json:"externalParameters"`
			ResolvedDependencies []struct {
				URI string `json:"uri"`
			} `json:"resolvedDependencies"`
		} `json:"buildDefinition"`
		RunDetails struct {
			Builder struct {
				ID string `json:"id"`
			} `json:"builder"`
		} `json:"runDetails"`
		// v0.2
		Builder struct {
			ID string `json:"id"`
		} `json:"builder"`
		Invocation struct {
			ConfigSource struct {
				URI string `json:"uri"`
			} `json:"configSource"`
		} `json:"invocation"`
	}
	_ = json.Unmarshal(raw, &p)
	out := &sigpolicy.Provenance{}
	if t == sigpolicy.PredicateSLSAv1 {
		out.Builder = p.RunDetails.Builder.ID
		out.Repository, out.Ref = p.BuildDefinition.ExternalParameters.Workflow.Repository, p.BuildDefinition.ExternalParameters.Workflow.Ref
		if out.Repository == "" && len(p.BuildDefinition.ResolvedDependencies) > 0 {
			out.Repository, out.Ref = splitGitURI(p.BuildDefinition.ResolvedDependencies[0].URI)
		}
		return out
	}
	out.Builder = p.Builder.ID
	out.Repository, out.Ref = splitGitURI(p.Invocation.ConfigSource.URI)
	return out
}

// splitGitURI splits git+https://github.com/acme/shop@refs/heads/main.
func splitGitURI(uri string) (repo, ref string) {
	repo, ref, _ = strings.Cut(uri, "@")
	return repo, ref
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}

func base64Std(s string) ([]byte, error) {
	return base64.StdEncoding.DecodeString(strings.TrimSpace(s))
}

func hexDecode(s string) ([]byte, error) { return hex.DecodeString(s) }

// pemChain reads PEM certificates, leaf first.
func pemChain(s string) ([]*protocommon.X509Certificate, error) {
	var out []*protocommon.X509Certificate
	rest := []byte(s)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type == "CERTIFICATE" {
			out = append(out, &protocommon.X509Certificate{RawBytes: block.Bytes})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no PEM certificate")
	}
	return out, nil
}
