package heroku

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Release statuses.
const (
	statusPending   = "pending"
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
)

var (
	deployedRE = regexp.MustCompile(`([A-Za-z0-9_-]+) \(([0-9a-f]{7,64})\)`)
	rollbackRE = regexp.MustCompile(`^Rollback to v(\d+)\b`)
)

// deployedImages parses the description Heroku gives a docker release,
// "Deployed web (142013fe2b5c), worker (0a1b2c3d4e5f)": process type to
// short image id. It returns nil for other descriptions.
func deployedImages(desc string) map[string]string {
	rest, ok := strings.CutPrefix(desc, "Deployed ")
	if !ok {
		return nil
	}
	out := map[string]string{}
	for _, m := range deployedRE.FindAllStringSubmatch(rest, -1) {
		out[m[1]] = m[2]
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// rolledBackTo parses "Rollback to v46".
func rolledBackTo(desc string) (int, bool) {
	m := rollbackRE.FindStringSubmatch(desc)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(m[1])
	return v, err == nil
}

// shortID is the 12 hex digits Heroku shows of an image id.
func shortID(id string) string {
	h := strings.TrimPrefix(id, "sha256:")
	if len(h) > 12 {
		h = h[:12]
	}
	return h
}

// sameImage reports whether a short id shown by Heroku names the image id.
func sameImage(short, id string) bool {
	h := strings.TrimPrefix(id, "sha256:")
	return len(short) >= 7 && strings.HasPrefix(h, short)
}

// maxWalk bounds how many releases are read to find the image of a
// process type.
const maxWalk = 100

// runningImages finds, for each process type, the short image id that
// release cur runs. The Platform API has no field for it (see the package
// doc): the images are read from release descriptions, walking back from
// cur through "Rollback to vN" and releases that changed no image (config
// vars, add-ons), skipping releases that never ran (failed, pending).
func (c *Client) runningImages(ctx context.Context, app string, cur hk.Release, procs []string, known []hk.Release) (map[string]string, error) {
	byVersion := map[int]hk.Release{}
	for _, r := range known {
		byVersion[r.Version] = r
	}
	get := func(v int) (hk.Release, error) {
		if r, ok := byVersion[v]; ok {
			return r, nil
		}
		r, err := c.release(ctx, app, strconv.Itoa(v))
		if err != nil {
			return hk.Release{}, err
		}
		byVersion[v] = *r
		return *r, nil
	}
	found := map[string]string{}
	r := cur
	for steps := 0; steps < maxWalk; steps++ {
		if to, ok := rolledBackTo(r.Description); ok {
			next, err := get(to)
			if err != nil {
				return nil, err
			}
			r = next
			continue
		}
		for p, id := range deployedImages(r.Description) {
			if _, done := found[p]; !done {
				found[p] = id
			}
		}
		if missing(found, procs) == nil {
			return found, nil
		}
		// Step back to the previous release that ran.
		v := r.Version - 1
		for ; v >= 1; v-- {
			prev, err := get(v)
			if err != nil {
				return nil, err
			}
			steps++
			if prev.Status == statusSucceeded || prev.Status == "" {
				r = prev
				break
			}
		}
		if v < 1 {
			break
		}
	}
	return nil, fmt.Errorf("cannot tell which image %s runs in release v%d of %s: no docker release of it found in its history", strings.Join(missing(found, procs), ", "), cur.Version, app)
}

func missing(found map[string]string, procs []string) []string {
	var out []string
	for _, p := range procs {
		if _, ok := found[p]; !ok {
			out = append(out, p)
		}
	}
	return out
}

// current returns the app's current release and the recent releases it
// was found among (newest first). A pending release newer than the current
// one is reported through pending.
func (c *Client) current(ctx context.Context, app string) (cur hk.Release, recent []hk.Release, pending *hk.Release, err error) {
	recent, err = c.recentReleases(ctx, app, 20)
	if err != nil {
		return hk.Release{}, nil, nil, err
	}
	for i := range recent {
		r := recent[i]
		if r.Current {
			return r, recent, pending, nil
		}
		if r.Status == statusPending && pending == nil {
			pending = &recent[i]
		}
	}
	if len(recent) == 0 {
		return hk.Release{}, recent, pending, fmt.Errorf("app %s has no release yet", app)
	}
	return hk.Release{}, recent, pending, fmt.Errorf("app %s has no current release among its last %d", app, len(recent))
}

// latest reads APP/PROCESS:latest from the Heroku registry: its manifest
// digest and image id (config digest).
func (c *Client) latest(ctx context.Context, app, process string) (manifest, config v1.Hash, err error) {
	ref, err := name.NewTag(c.repo(app, process)+":latest", name.WeakValidation)
	if err != nil {
		return v1.Hash{}, v1.Hash{}, err
	}
	desc, err := remote.Get(ref, c.remoteOpts(ctx)...)
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("reading %s: %w", ref, c.scrub(err))
	}
	if !desc.MediaType.IsImage() {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("reading %s: media type %s is not an image", ref, desc.MediaType)
	}
	img, err := desc.Image()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("reading %s: %w", ref, c.scrub(err))
	}
	cfg, err := img.ConfigName()
	if err != nil {
		return v1.Hash{}, v1.Hash{}, fmt.Errorf("reading %s: %w", ref, c.scrub(err))
	}
	return desc.Digest, cfg, nil
}

// imageID returns the image id (config digest) Heroku would see for img:
// for an index, that of the image for the client's platform. An image
// registry.heroku.com cannot take (none for the platform, layers it does
// not accept) is an input error: it is found before anything changes.
func (c *Client) imageID(ctx context.Context, img image.Image) (v1.Hash, error) {
	ref, err := name.NewDigest(img.Ref(), name.WeakValidation)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("parsing %s: %w", img.Ref(), err)
	}
	desc, err := remote.Get(ref, c.remoteOpts(ctx)...)
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading %s: %w", img.Ref(), c.scrub(err))
	}
	one, err := image.ForPlatform(desc, c.opts.Platform)
	var pe *image.PlatformError
	if errors.As(err, &pe) {
		return v1.Hash{}, promote.Input(fmt.Errorf("%s cannot run on Heroku: %w; set FERRY_PLATFORM to one it has, or build it for %s", img.Ref(), err, platformString(c.opts.Platform)))
	}
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading %s for %s: %w", img.Ref(), platformString(c.opts.Platform), c.scrub(err))
	}
	if _, err := image.ConvertForHeroku(one); err != nil {
		if errors.Is(err, image.ErrHerokuIncompatible) {
			return v1.Hash{}, promote.Input(fmt.Errorf("%s cannot run on Heroku: %w", img.Ref(), err))
		}
		return v1.Hash{}, fmt.Errorf("reading %s: %w", img.Ref(), c.scrub(err))
	}
	id, err := one.ConfigName()
	if err != nil {
		return v1.Hash{}, fmt.Errorf("reading the config digest of %s: %w", img.Ref(), c.scrub(err))
	}
	return id, nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}
