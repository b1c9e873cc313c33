package heroku

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// readTag returns what tag names, or nil when there is no such tag.
func (c *Client) readTag(ctx context.Context, tag name.Tag) (*remote.Descriptor, error) {
	d, err := remote.Get(tag, c.remoteOpts(ctx)...)
	var terr *transport.Error
	if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, c.scrub(fmt.Errorf("reading %s: %w", tag, err))
	}
	return d, nil
}

// restoreTags points every :latest tag ferry moved back at what it named
// before, unless someone has pushed since. It reports what it could not
// put back.
func (t *Target) restoreTags(ctx context.Context, moved []movedTag) error {
	var errs []error
	for _, m := range moved {
		if err := t.restoreTag(ctx, m); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (t *Target) restoreTag(ctx context.Context, m movedTag) error {
	tag, err := name.NewTag(m.Tag, name.WeakValidation)
	if err != nil {
		return fmt.Errorf("the recorded tag %q: %w", m.Tag, err)
	}
	cur, err := t.c.readTag(ctx, tag)
	switch {
	case err != nil:
		return err
	case cur == nil || cur.Digest != m.Ours:
		now := "nothing"
		if cur != nil {
			now = cur.Digest.String()
		}
		t.logf("%s names %s now, not the copy ferry made: leaving it as it is", tag, now)
		return nil
	case m.Before == nil:
		t.logf("%s did not exist before the promotion and names ferry's copy %s now, which nothing runs (a registry cannot remove a tag without deleting the image)", tag, m.Ours)
		return nil
	}
	// The manifest is still in the repository, by digest: read it back
	// and point the tag at it.
	before, err := remote.Get(tag.Digest(m.Before.Digest.String()), t.c.remoteOpts(ctx)...)
	if err != nil {
		return t.c.scrub(fmt.Errorf("reading %s@%s: %w", tag.Context(), m.Before.Digest, err))
	}
	if err := remote.Put(tag, before, t.c.remoteOpts(ctx)...); err != nil {
		return t.c.scrub(fmt.Errorf("putting %s back to %s: %w", tag, m.Before.Digest, err))
	}
	t.logf("%s names %s again, as before the promotion", tag, m.Before.Digest)
	return nil
}
