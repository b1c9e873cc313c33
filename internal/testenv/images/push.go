package images

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// Push writes img to ref ("127.0.0.1:5000/shop/web:1") and returns its
// manifest digest. opts come after the context option, so they may add
// auth or a transport.
func Push(ctx context.Context, ref string, img v1.Image, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture to %s: %w", ref, err)
	}
	if err := remote.Write(r, img, append([]remote.Option{remote.WithContext(ctx)}, opts...)...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture to %s: %w", ref, err)
	}
	h, err := img.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture to %s: %w", ref, err)
	}
	return h, nil
}

// PushIndex writes idx and all its images to ref and returns the index
// digest.
func PushIndex(ctx context.Context, ref string, idx v1.ImageIndex, opts ...remote.Option) (v1.Hash, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture index to %s: %w", ref, err)
	}
	if err := remote.WriteIndex(r, idx, append([]remote.Option{remote.WithContext(ctx)}, opts...)...); err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture index to %s: %w", ref, err)
	}
	h, err := idx.Digest()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("pushing fixture index to %s: %w", ref, err)
	}
	return h, nil
}
