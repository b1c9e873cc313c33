package sigpolicy

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
)

// Policy is what the source image must carry. The zero Policy checks
// nothing.
type Policy struct {
	// Key, when set, is a public key whose signatures are accepted.
	Key *Key
	// Identity and Issuer, when set, accept keyless signatures whose
	// certificate names a subject matching Identity (anchored) issued by
	// the OIDC issuer Issuer (exact); IdentityPattern is Identity as the
	// user wrote it.
	Identity        *regexp.Regexp
	IdentityPattern string
	Issuer          string
	// TLog requires a transparency log entry for every accepted signature
	// and attestation.
	TLog bool
	// Provenance, when set, requires a SLSA provenance attestation by the
	// same signer whose fields match.
	Provenance *Provenance
}

// Enabled reports whether the policy checks anything.
func (p Policy) Enabled() bool { return p.Key != nil || p.Identity != nil }

// Signer says which signers the policy accepts, for messages.
func (p Policy) Signer() string {
	var parts []string
	if p.Key != nil {
		parts = append(parts, "key "+p.Key.String())
	}
	if p.Identity != nil {
		parts = append(parts, fmt.Sprintf("identity matching %q issued by %s", p.IdentityPattern, p.Issuer))
	}
	return strings.Join(parts, " or ")
}

// Key is a public key named for messages.
type Key struct {
	// Name says where the key came from: "FERRY_VERIFY_KEY (cosign.pub)".
	Name string
	// ID is "sha256:" and the hex SHA-256 of the key's DER form.
	ID string
	// Hint is the base64 SHA-256 of the DER form, which cosign writes as
	// a bundle's public key hint.
	Hint string
	// DER is the key in PKIX DER form.
	DER []byte
}

func (k Key) String() string { return fmt.Sprintf("%s %s", k.ID[:len("sha256:")+12], k.Name) }

// ParseKey reads one PEM public key (PKIX "PUBLIC KEY", as cosign
// generate-key-pair writes it). name says where it came from.
func ParseKey(name string, data []byte) (*Key, error) {
	block, rest := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block: expected a public key as cosign generate-key-pair writes it (-----BEGIN PUBLIC KEY-----)")
	}
	if block.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("the PEM block is a %q, not a PUBLIC KEY", block.Type)
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, errors.New("more than one PEM block: give exactly one public key")
	}
	if _, err := x509.ParsePKIXPublicKey(block.Bytes); err != nil {
		return nil, fmt.Errorf("not a public key: %w", err)
	}
	sum := sha256.Sum256(block.Bytes)
	return &Key{
		Name: name,
		ID:   "sha256:" + hex.EncodeToString(sum[:]),
		Hint: hintOf(sum[:]),
		DER:  block.Bytes,
	}, nil
}

// Provenance is what a SLSA provenance attestation must say; empty fields
// are not checked.
type Provenance struct {
	// Builder is the builder id, exactly.
	Builder string
	// Repository is the source repository, compared without scheme,
	// "git+" prefix and ".git" suffix: github.com/acme/shop.
	Repository string
	// Ref is the source ref: refs/heads/main, refs/tags/v1.2.3.
	Ref string
}

func (p Provenance) String() string {
	var parts []string
	if p.Builder != "" {
		parts = append(parts, "builder "+p.Builder)
	}
	if p.Repository != "" {
		parts = append(parts, "repository "+p.Repository)
	}
	if p.Ref != "" {
		parts = append(parts, "ref "+p.Ref)
	}
	return strings.Join(parts, ", ")
}

// ParseProvenance reads FERRY_VERIFY_PROVENANCE: comma-separated
// key=value pairs, keys builder, repository (or repo) and ref, each at
// most once, at least one:
//
//	builder=https://github.com/actions/runner/github-hosted,repo=github.com/acme/shop,ref=refs/heads/main
//
// Values may not contain commas or spaces.
func ParseProvenance(s string) (Provenance, error) {
	var p Provenance
	seen := map[string]bool{}
	for part := range strings.SplitSeq(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		k, v = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(v)
		if !ok || v == "" {
			return Provenance{}, fmt.Errorf("%q is not key=value: use builder=, repository= and ref=", part)
		}
		if strings.ContainsFunc(v, unicode.IsSpace) {
			return Provenance{}, fmt.Errorf("%s %q holds a space: values have none", k, v)
		}
		if k == "repo" {
			k = "repository"
		}
		if seen[k] {
			return Provenance{}, fmt.Errorf("%s is given twice", k)
		}
		seen[k] = true
		switch k {
		case "builder":
			p.Builder = v
		case "repository":
			p.Repository = NormalizeRepository(v)
			if p.Repository == "" {
				return Provenance{}, fmt.Errorf("repository %q names no repository: write it like github.com/acme/shop", v)
			}
		case "ref":
			p.Ref = v
		default:
			return Provenance{}, fmt.Errorf("%q is not a provenance field: use builder, repository or ref", k)
		}
	}
	if p == (Provenance{}) {
		return Provenance{}, errors.New("names no field: use builder=, repository= and ref=")
	}
	return p, nil
}

// NormalizeRepository drops what differs between spellings of one source
// repository: a git+ prefix, the scheme, a trailing .git or slash, and
// an @ref suffix. It is idempotent: what one pass leaves ("://git+" leaves
// "git+") is normalized again until nothing changes.
func NormalizeRepository(s string) string {
	for {
		n := normalizeOnce(s)
		if n == s {
			return n
		}
		s = n
	}
}

func normalizeOnce(s string) string {
	s = strings.TrimPrefix(s, "git+")
	if _, rest, ok := strings.Cut(s, "://"); ok {
		s = rest
	}
	if i := strings.Index(s, "@"); i >= 0 {
		s = s[:i]
	}
	s = strings.TrimSuffix(strings.TrimRight(s, "/"), ".git")
	return strings.ToLower(strings.TrimRight(s, "/"))
}

// AnchoredIdentity compiles a FERRY_VERIFY_IDENTITY pattern so that it
// must match the whole subject.
func AnchoredIdentity(pattern string) (*regexp.Regexp, error) {
	re, err := regexp.Compile(`^(?:` + pattern + `)$`)
	if err != nil {
		return nil, fmt.Errorf("not a regular expression (RE2): %w", err)
	}
	return re, nil
}
