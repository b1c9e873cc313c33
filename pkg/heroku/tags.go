package heroku

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// movedTag is APP/PROCESS:latest as ferry's copy left it: what it named
// before (nil when there was no such tag) and the manifest ferry wrote.
//
// The tag matters after a failed promotion: `heroku container:release`
// releases whatever :latest names, and ferry's own Heroku source checks
// the release it reads against it. So a restore puts it back too.
type movedTag struct {
	tag    name.Tag
	before *remote.Descriptor
	ours   v1.Hash
}

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
// put back; the app itself is restored by then, so callers log that
// rather than fail the restore.
func (t *Target) restoreTags(ctx context.Context) error {
	t.mu.Lock()
	moved := t.moved
	t.moved = nil
	t.mu.Unlock()
	var errs []error
	for _, m := range moved {
		cur, err := t.c.readTag(ctx, m.tag)
		switch {
		case err != nil:
			errs = append(errs, err)
			continue
		case cur == nil || cur.Digest != m.ours:
			now := "nothing"
			if cur != nil {
				now = cur.Digest.String()
			}
			t.logf("%s names %s now, not the copy ferry made: leaving it as it is", m.tag, now)
			continue
		case m.before == nil:
			t.logf("%s did not exist before the promotion and names ferry's copy %s now, which nothing runs (a registry cannot remove a tag without deleting the image)", m.tag, m.ours)
			continue
		}
		if err := remote.Put(m.tag, m.before, t.c.remoteOpts(ctx)...); err != nil {
			errs = append(errs, t.c.scrub(fmt.Errorf("putting %s back to %s: %w", m.tag, m.before.Digest, err)))
			continue
		}
		t.logf("%s names %s again, as before the promotion", m.tag, m.before.Digest)
	}
	return errors.Join(errs...)
}
