package image

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// Image is an image pinned to a manifest digest.
type Image struct {
	// Repository is the repository the digest was found in, as the user
	// spelled it ("ghcr.io/acme/shop", "registry.local:5000/shop").
	Repository string
	// Digest is the manifest (or index) digest, "sha256:...".
	Digest v1.Hash
	// Tag is the tag the digest was resolved from, when there was one; it
	// is informational only.
	Tag string
}

// Ref is the pinned reference, "repo@sha256:...".
func (i Image) Ref() string { return i.Repository + "@" + i.Digest.String() }

// String is Ref, with the tag the digest came from when known.
func (i Image) String() string {
	if i.Tag != "" {
		return fmt.Sprintf("%s (from tag %s)", i.Ref(), i.Tag)
	}
	return i.Ref()
}

// IsZero reports whether i names nothing.
func (i Image) IsZero() bool { return i.Repository == "" && i.Digest == (v1.Hash{}) }

// Pinned parses ref and returns its repository and digest when ref carries a
// digest ("repo@sha256:..." or "repo:tag@sha256:..."); ok is false for a
// reference without one.
func Pinned(ref string) (img Image, ok bool, err error) {
	r, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return Image{}, false, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	d, isDigest := r.(name.Digest)
	if !isDigest {
		return Image{}, false, nil
	}
	h, err := v1.NewHash(d.DigestStr())
	if err != nil {
		return Image{}, false, fmt.Errorf("parsing digest of %q: %w", ref, err)
	}
	return Image{Repository: repoAsWritten(ref), Digest: h}, true, nil
}

// Repository returns the repository part of ref as the user wrote it,
// without tag or digest.
func Repository(ref string) (string, error) {
	if _, err := name.ParseReference(ref, name.WeakValidation); err != nil {
		return "", fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	return repoAsWritten(ref), nil
}

// repoAsWritten strips ":tag" and "@digest" from a reference that parsed.
func repoAsWritten(ref string) string {
	if i := strings.Index(ref, "@"); i >= 0 {
		ref = ref[:i]
	}
	slash := strings.LastIndex(ref, "/")
	if c := strings.LastIndex(ref, ":"); c > slash {
		ref = ref[:c]
	}
	return ref
}

// Resolver turns references into pinned images through their registries.
type Resolver struct {
	// Keychain supplies registry credentials; nil means anonymous.
	Keychain authn.Keychain
	// Options are passed to every remote call (transport, user agent);
	// nil means RemoteOptions with the default policy.
	Options []remote.Option
}

// Resolve pins ref. A reference that already names a digest is returned as
// is, without a registry call; a tag is resolved with a HEAD (falling back
// to GET) on its manifest.
func (r Resolver) Resolve(ctx context.Context, ref string) (Image, error) {
	if img, ok, err := Pinned(ref); err != nil || ok {
		return img, err
	}
	parsed, err := name.ParseReference(ref, name.WeakValidation)
	if err != nil {
		return Image{}, fmt.Errorf("parsing image reference %q: %w", ref, err)
	}
	kc := r.Keychain
	if kc == nil {
		kc = authn.NewMultiKeychain()
	}
	more := r.Options
	if more == nil {
		more = RemoteOptions(nil, httpx.Policy{}, nil)
	}
	opts := append([]remote.Option{remote.WithContext(ctx), remote.WithAuthFromKeychain(kc)}, more...)
	desc, err := remote.Head(parsed, opts...)
	if err != nil {
		return Image{}, fmt.Errorf("resolving %s in its registry: %w", ref, err)
	}
	tag := ""
	if t, ok := parsed.(name.Tag); ok {
		tag = t.TagStr()
	}
	return Image{Repository: repoAsWritten(ref), Digest: desc.Digest, Tag: tag}, nil
}
