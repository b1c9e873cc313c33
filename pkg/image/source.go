package image

import "context"

// RefSource is a plain image reference used as the promotion's source.
type RefSource struct {
	Ref      string
	Resolver Resolver
}

func (s RefSource) String() string { return s.Ref }

// Resolve pins the reference through its registry.
func (s RefSource) Resolve(ctx context.Context) (Image, error) { return s.Resolver.Resolve(ctx, s.Ref) }
