package heroku

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Target promotes an image to process types of one Heroku app. It holds
// configuration and a client only (see promote.Target).
type Target struct {
	c     *Client
	addr  address.Address
	procs []string
}

// NewTarget returns the target heroku:APP/PROCESS[,PROCESS] names. It
// makes no request.
func NewTarget(c *Client, a address.Address) (*Target, error) {
	if a.Kind != "" && a.Kind != address.KindHeroku {
		return nil, promote.Input(fmt.Errorf("heroku target: address %s is not a heroku address", a))
	}
	if a.App == "" {
		return nil, promote.Input(errors.New("heroku target: no app"))
	}
	procs := processes(a)
	for i, p := range procs {
		for _, q := range procs[:i] {
			if p == q {
				return nil, promote.Input(fmt.Errorf("heroku target %s: process type %s appears twice", addrString(a), p))
			}
		}
	}
	return &Target{c: c, addr: a, procs: procs}, nil
}

// String is the address, "heroku:APP/web,worker".
func (t *Target) String() string { return addrString(t.addr) }

func (t *Target) logf(format string, args ...any) { t.c.logf(t.String(), format, args...) }

// Snapshot records the app's current release and the image each process
// type runs, and the app's web URL. It refuses apps that are not on the
// container stack and, when want is an image, apps with a release in
// progress and images Heroku cannot run (no image for the platform, layers
// registry.heroku.com does not take).
func (t *Target) Snapshot(ctx context.Context, want image.Image) (promote.Snapshot, error) {
	app, err := t.c.containerApp(ctx, t.addr.App)
	if err != nil {
		return promote.Snapshot{}, err
	}
	recent, err := t.c.recentReleases(ctx, t.addr.App, 20)
	if err != nil {
		return promote.Snapshot{}, err
	}
	cur, pending := currentOf(recent)
	if pending != nil && !want.IsZero() {
		return promote.Snapshot{}, promote.Input(fmt.Errorf("release v%d is in progress (%s); wait until it has finished", pending.Version, pending.Description))
	}
	if cur == nil && len(recent) > 0 {
		return promote.Snapshot{}, fmt.Errorf("no current release among the last %d", len(recent))
	}
	if cur != nil && !want.IsZero() {
		if err := t.rollbackPoint(*cur, recent); err != nil {
			return promote.Snapshot{}, err
		}
	}
	st := State{App: t.addr.App, Images: map[string]string{}}
	if len(recent) > 0 {
		st.TopVersion = recent[0].Version
	}
	if cur != nil {
		st.ReleaseID, st.Version, st.Status = cur.ID, cur.Version, cur.Status
		imgs, err := t.c.runningImages(ctx, t.addr.App, *cur, t.procs, recent)
		if err != nil {
			t.logf("%v", err)
		}
		for p, id := range imgs {
			if contains(t.procs, p) {
				st.Images[p] = id
			}
		}
	}
	s := promote.Snapshot{Seen: promote.Seen{Image: t.describe(st), Revision: revision(st.Version)}, URL: app.WebURL}
	if !want.IsZero() {
		id, err := t.c.imageID(ctx, want)
		if err != nil {
			return promote.Snapshot{}, err
		}
		st.ImageID = id.String()
		s.UpToDate = runs(st.Images, t.procs, st.ImageID)
		if s.UpToDate {
			t.logf("already runs image %s (release v%d)", shortID(st.ImageID), st.Version)
		}
	}
	if s.State, err = promote.EncodeState(st); err != nil {
		return promote.Snapshot{}, err
	}
	return s, nil
}

// currentOf finds, among recent releases (newest first), the current one
// and a pending one newer than it.
func currentOf(recent []hk.Release) (cur, pending *hk.Release) {
	for i := range recent {
		if recent[i].Current {
			cur = &recent[i]
			break
		}
	}
	for i := range recent {
		if recent[i].Status == statusPending && (cur == nil || recent[i].Version > cur.Version) {
			return cur, &recent[i]
		}
	}
	return cur, nil
}

// runs reports whether every process type runs image id.
func runs(images map[string]string, procs []string, id string) bool {
	if len(images) != len(procs) {
		return false
	}
	for _, p := range procs {
		if !sameImage(images[p], id) {
			return false
		}
	}
	return true
}

func revision(v int) string {
	if v == 0 {
		return ""
	}
	return "v" + strconv.Itoa(v)
}

func (t *Target) describe(st State) string {
	var parts []string
	for _, p := range t.procs {
		id := st.Images[p]
		if id == "" {
			id = "unknown"
		}
		parts = append(parts, fmt.Sprintf("%s image %s", t.c.repo(t.addr.App, p), id))
	}
	return strings.Join(parts, ", ")
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// Release copies img to APP/PROCESS:latest for every process type (the
// first copy uploads, the others mount from it), releases all process
// types with ONE formation PATCH, and follows the release to succeeded or
// failed, relaying the release-phase output. The Change records every
// step it got to.
func (t *Target) Release(ctx context.Context, s promote.Snapshot, img image.Image) (promote.Change, error) {
	st, err := promote.DecodeState[State](s.State)
	if err != nil {
		return promote.Change{}, err
	}
	if t.c.opts.Description != "" {
		t.logf("promotion note (logged only: Heroku keeps its own description for docker releases): %s", t.c.opts.Description)
	}
	var ch change
	err = t.release(ctx, st, img, &ch)
	c, cerr := encodeChange(img.Ref(), ch)
	if err != nil {
		return c, fmt.Errorf("releasing: %w", err)
	}
	return c, cerr
}

func encodeChange(img string, ch change) (promote.Change, error) {
	raw, err := promote.EncodeState(ch)
	return promote.Change{Image: img, State: raw}, err
}

// formation is the formation update a release of image id sends: every
// process type of the target set to it. Adopt rebuilds it to find a
// release whose answer a dead run never recorded.
func (t *Target) formation(id string) []formationUpdate {
	ups := make([]formationUpdate, 0, len(t.procs))
	for _, p := range t.procs {
		ups = append(ups, formationUpdate{Type: p, DockerImage: id})
	}
	return ups
}

// release does Release's work, recording it in ch as it goes.
func (t *Target) release(ctx context.Context, st State, img image.Image, ch *change) error {
	id, err := t.copy(ctx, img, ch)
	if err != nil {
		return err
	}
	if st.ImageID != "" && id.String() != st.ImageID {
		return fmt.Errorf("the copy has image id %s, the snapshot expected %s", id, st.ImageID)
	}
	ups := t.formation(id.String())
	// No lock keeps others from releasing: look at the newest release
	// right before the PATCH, and never release over one made since
	// the snapshot.
	top, err := t.c.recentReleases(ctx, t.addr.App, 1)
	if err != nil {
		return err
	}
	if len(top) > 0 && top[0].Version > st.TopVersion {
		return promote.Superseded(fmt.Errorf("superseded: release v%d (%s) was made since the snapshot, by someone else; not releasing over it (run again to promote on top of it)", top[0].Version, top[0].Description))
	}
	ch.Sent = true
	rel, err := t.patch(ctx, st, ups)
	if err != nil {
		return err
	}
	ch.Release = refOf(rel)
	t.logf("release v%d created (%s); following it", rel.Version, rel.Description)
	final, err := t.c.follow(ctx, t.addr.App, rel.ID, t.logf)
	if err != nil {
		return err
	}
	ch.Release = refOf(final)
	switch final.Status {
	case statusSucceeded:
		t.logf("release v%d succeeded", final.Version)
		return nil
	case statusFailed:
		return fmt.Errorf("release v%d failed in its release phase; v%d stays current", final.Version, st.Version)
	default:
		return fmt.Errorf("release v%d ended %s", final.Version, final.Status)
	}
}

// copy puts img into every process type's repository and returns the
// image id, recording in ch each tag it moved.
func (t *Target) copy(ctx context.Context, img image.Image, ch *change) (v1.Hash, error) {
	opts := image.CopyOptions{
		Platform:   t.c.opts.Platform,
		DockerV2S2: true,
		Keychain:   t.c.keychain(),
		DestAuth:   t.c.registryAuth(),
		Transport:  t.c.base,
		Logf:       t.logf,
	}
	if t.c.opts.Progress != nil {
		opts.Progress = func(p image.Progress) { t.c.opts.Progress(t.String(), p) }
	}
	src := img
	var first image.CopyResult
	for i, p := range t.procs {
		dst, err := name.NewTag(t.c.repo(t.addr.App, p)+":latest", name.WeakValidation)
		if err != nil {
			return v1.Hash{}, err
		}
		before, err := t.c.readTag(ctx, dst)
		if err != nil {
			return v1.Hash{}, fmt.Errorf("copying %s to %s: %w", src.Ref(), dst, err)
		}
		t.logf("copying %s to %s", src.Ref(), dst)
		res, err := image.Copy(ctx, src, dst, opts)
		if err != nil {
			return v1.Hash{}, t.c.scrub(err)
		}
		switch {
		case before == nil:
			ch.Moved = append(ch.Moved, movedTag{Tag: dst.String(), Ours: res.Manifest})
		case before.Digest != res.Manifest:
			ch.Moved = append(ch.Moved, movedTag{Tag: dst.String(), Before: &before.Descriptor, Ours: res.Manifest})
		}
		t.logf("copied to %s: image %s, %d bytes uploaded, %d blobs already there, %d mounted", dst, shortID(res.Config.String()), res.Uploaded, res.Skipped, res.Mounted)
		if i == 0 {
			first = res
			// The other process types mount from the first repository.
			src = image.Image{Repository: t.c.repo(t.addr.App, p), Digest: res.Manifest}
			continue
		}
		if res.Config != first.Config {
			return v1.Hash{}, fmt.Errorf("copy to %s has image id %s, %s has %s", dst, res.Config, t.procs[0], first.Config)
		}
	}
	return first.Config, nil
}

// patch sends the formation PATCH and returns the release it created.
//
// The PATCH is not idempotent and its answer names no release. So it is
// sent once per promotion, never twice: when the outcome is unknown
// (network error, timeout, 429, 5xx) the releases made since the snapshot
// are searched for one that deploys exactly these images to exactly these
// process types, and when there is none the release fails (a second PATCH
// could make a second release should the first one land late). The
// release is identified the same way on success, instead of taking "the
// newest release" as `heroku container:release` does, which is wrong when
// someone else releases at the same moment.
func (t *Target) patch(ctx context.Context, st State, ups []formationUpdate) (*hk.Release, error) {
	err := t.c.patchFormation(ctx, t.addr.App, ups)
	if err == nil {
		r, err := t.findRelease(ctx, st, ups, 10)
		if err != nil {
			return nil, err
		}
		if r == nil {
			return nil, fmt.Errorf("the formation update was accepted but no release deploying image %s appeared after v%d", shortID(ups[0].DockerImage), st.TopVersion)
		}
		return r, nil
	}
	if !unknownOutcome(err) {
		return nil, fmt.Errorf("updating the formation: %w", err)
	}
	t.logf("formation update: %v; checking whether it took effect", err)
	r, ferr := t.findRelease(ctx, st, ups, 3)
	if ferr != nil {
		return nil, errors.Join(fmt.Errorf("updating the formation: %w", err), ferr)
	}
	if r == nil {
		return nil, fmt.Errorf("updating the formation: %w; no release appeared, and ferry does not send the update twice (it could release twice): run ferry again", err)
	}
	t.logf("the formation update took effect: release v%d", r.Version)
	return r, nil
}

// unknownOutcome reports whether a failed request may have taken effect.
func unknownOutcome(err error) bool {
	switch s := StatusOf(err); {
	case s == 0:
		return true // network error, timeout, unreadable answer
	case s == http.StatusTooManyRequests, s == http.StatusRequestTimeout, s >= 500:
		return true
	}
	return false
}

// findRelease looks, up to tries times, for the first release after the
// snapshot that deploys exactly ups.
func (t *Target) findRelease(ctx context.Context, st State, ups []formationUpdate, tries int) (*hk.Release, error) {
	for i := 0; i < tries; i++ {
		rs, err := t.c.releasesAfter(ctx, t.addr.App, st.TopVersion)
		if err != nil {
			return nil, err
		}
		sort.Slice(rs, func(a, b int) bool { return rs[a].Version < rs[b].Version })
		for i := range rs {
			if deploys(rs[i].Description, ups) {
				return &rs[i], nil
			}
		}
		if i+1 < tries {
			if err := httpx.Sleep(ctx, t.c.opts.PollInterval); err != nil {
				return nil, err
			}
		}
	}
	return nil, nil
}

// deploys reports whether a release description deploys exactly ups.
func deploys(desc string, ups []formationUpdate) bool {
	imgs := deployedImages(desc)
	if len(imgs) != len(ups) {
		return false
	}
	for _, u := range ups {
		if !sameImage(imgs[u.Type], u.DockerImage) {
			return false
		}
	}
	return true
}

// Verify waits until the dynos of the release c made are up, failing at
// the first crashed one.
func (t *Target) Verify(ctx context.Context, _ promote.Snapshot, c promote.Change) error {
	ch, err := promote.DecodeState[change](c.State)
	if err != nil {
		return err
	}
	rel := ch.Release
	switch {
	case rel == nil:
		return errors.New("verifying: nothing was released")
	case rel.Status != statusSucceeded:
		return fmt.Errorf("verifying: release v%d %s", rel.Version, rel.Status)
	}
	if err := t.waitDynos(ctx, *rel); err != nil {
		return fmt.Errorf("verifying: %w", err)
	}
	return nil
}

// Describe says which release the app runs now, and which one is still
// in its release phase (see promote.Describer).
func (t *Target) Describe(ctx context.Context) (string, error) {
	cur, _, pending, err := t.c.current(ctx, t.addr.App)
	if err != nil {
		return "", err
	}
	s := fmt.Sprintf("release v%d (%s)", cur.Version, cur.Description)
	if pending != nil && pending.Version > cur.Version {
		s += fmt.Sprintf("; release v%d (%s) is still in its release phase and becomes current if that succeeds", pending.Version, pending.Description)
	}
	return s, nil
}

// Interface checks.
var (
	_ promote.Target     = (*Target)(nil)
	_ promote.Describer  = (*Target)(nil)
	_ promote.RollBacker = (*Target)(nil)
	_ promote.Source     = (*Source)(nil)
)
