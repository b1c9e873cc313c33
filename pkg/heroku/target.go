package heroku

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// State is a Heroku target's rollback point, kept in
// promote.Snapshot.State.
type State struct {
	App string `json:"app"`
	// ReleaseID and Version name the release that was current; empty for
	// an app that had none.
	ReleaseID string `json:"release_id,omitempty"`
	Version   int    `json:"version,omitempty"`
	Status    string `json:"status,omitempty"`
	// Images maps process types to the short image id they ran, when
	// known.
	Images map[string]string `json:"images,omitempty"`
	// TopVersion is the newest release version at the time, current or
	// not: releases above it were made later.
	TopVersion int `json:"top_version,omitempty"`
}

// Target promotes an image to process types of one Heroku app.
type Target struct {
	c     *Client
	addr  address.Address
	procs []string

	mu        sync.Mutex
	app       appInfo
	healthURL string
	snap      *State
	wantID    v1.Hash
	released  *hk.Release
	// patched is set once Release sends a formation PATCH: before that,
	// nothing of the app changed, and a restore has nothing to do.
	patched bool
	// ours is the release the formation PATCH made, once found: a newer
	// release that is not a rollback to the snapshot is someone else's,
	// which a restore must not undo.
	ours *hk.Release
	// moved are the :latest tags the copy pointed at the new image.
	moved []movedTag
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
// type runs. It refuses apps that are not on the container stack and apps
// with a release in progress.
func (t *Target) Snapshot(ctx context.Context, want image.Image) (promote.Snapshot, error) {
	s, st, err := t.snapshot(ctx)
	if err != nil {
		return promote.Snapshot{}, err
	}
	if want.IsZero() {
		// status and rollback: what runs now, no image to compare.
		return s, nil
	}
	wantID, err := t.c.imageID(ctx, want)
	if err != nil {
		return promote.Snapshot{}, fmt.Errorf("snapshot of %s: %w", t, err)
	}
	s.UpToDate = len(st.Images) == len(t.procs)
	for _, p := range t.procs {
		if !sameImage(st.Images[p], wantID.String()) {
			s.UpToDate = false
		}
	}
	t.mu.Lock()
	t.wantID = wantID
	t.mu.Unlock()
	if s.UpToDate {
		t.logf("already runs image %s (release v%d)", shortID(wantID.String()), st.Version)
	}
	return s, nil
}

func (t *Target) snapshot(ctx context.Context) (promote.Snapshot, *State, error) {
	app, err := t.c.containerApp(ctx, t.addr.App)
	if err != nil {
		return promote.Snapshot{}, nil, fmt.Errorf("snapshot of %s: %w", t, err)
	}
	healthURL, err := health.Resolve(app.WebURL, t.addr.Health)
	if err != nil {
		return promote.Snapshot{}, nil, promote.Input(fmt.Errorf("snapshot of %s: %w", t, err))
	}
	st := &State{App: t.addr.App, Images: map[string]string{}}
	recent, err := t.c.recentReleases(ctx, t.addr.App, 20)
	if err != nil {
		return promote.Snapshot{}, nil, fmt.Errorf("snapshot of %s: %w", t, err)
	}
	if len(recent) > 0 {
		st.TopVersion = recent[0].Version
	}
	var cur *hk.Release
	for i := range recent {
		if recent[i].Current {
			cur = &recent[i]
			break
		}
	}
	for _, r := range recent {
		if r.Status == statusPending && (cur == nil || r.Version > cur.Version) {
			return promote.Snapshot{}, nil, promote.Input(fmt.Errorf("snapshot of %s: release v%d is in progress (%s); wait until it has finished", t, r.Version, r.Description))
		}
	}
	if cur == nil && len(recent) > 0 {
		return promote.Snapshot{}, nil, fmt.Errorf("snapshot of %s: no current release among the last %d", t, len(recent))
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
	t.mu.Lock()
	t.app = app
	t.healthURL = healthURL
	t.snap = st
	t.released = nil
	t.mu.Unlock()
	return promote.Snapshot{Image: t.describe(st), Revision: revision(st.Version), State: st}, st, nil
}

func revision(v int) string {
	if v == 0 {
		return ""
	}
	return "v" + strconv.Itoa(v)
}

func (t *Target) describe(st *State) string {
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
// failed, relaying the release-phase output.
func (t *Target) Release(ctx context.Context, img image.Image) error {
	t.mu.Lock()
	st, wantID := t.snap, t.wantID
	t.patched, t.ours, t.moved = false, nil, nil
	t.mu.Unlock()
	if st == nil {
		return fmt.Errorf("releasing %s: no snapshot taken", t)
	}
	if t.c.opts.Description != "" {
		t.logf("promotion note (logged only: Heroku keeps its own description for docker releases): %s", t.c.opts.Description)
	}
	id, err := t.copy(ctx, img)
	if err != nil {
		return fmt.Errorf("releasing %s: %w", t, err)
	}
	if wantID != (v1.Hash{}) && id != wantID {
		return fmt.Errorf("releasing %s: the copy has image id %s, the snapshot expected %s", t, id, wantID)
	}
	ups := make([]formationUpdate, 0, len(t.procs))
	for _, p := range t.procs {
		ups = append(ups, formationUpdate{Type: p, DockerImage: id.String()})
	}
	rel, err := t.patch(ctx, st, ups)
	if err != nil {
		return fmt.Errorf("releasing %s: %w", t, err)
	}
	t.mu.Lock()
	t.ours = rel
	t.mu.Unlock()
	t.logf("release v%d created (%s); following it", rel.Version, rel.Description)
	final, err := t.c.follow(ctx, t.addr.App, rel.ID, t.logf)
	if err != nil {
		return fmt.Errorf("releasing %s: %w", t, err)
	}
	t.mu.Lock()
	t.released = final
	t.mu.Unlock()
	switch final.Status {
	case statusSucceeded:
		t.logf("release v%d succeeded", final.Version)
		return nil
	case statusFailed:
		return fmt.Errorf("releasing %s: release v%d failed in its release phase; v%d stays current", t, final.Version, st.Version)
	default:
		return fmt.Errorf("releasing %s: release v%d ended %s", t, final.Version, final.Status)
	}
}

// progressLogger is a Logger that can show how far a copy has come (a
// progress bar on a terminal, a line now and then in CI).
type progressLogger interface {
	Progress(target string, p image.Progress)
}

// copy puts img into every process type's repository and returns the image
// id.
func (t *Target) copy(ctx context.Context, img image.Image) (v1.Hash, error) {
	opts := image.CopyOptions{
		Platform:   t.c.opts.Platform,
		DockerV2S2: true,
		Keychain:   t.c.keychain(),
		DestAuth:   t.c.registryAuth(),
		Transport:  t.c.base,
		Logf:       t.logf,
	}
	if pl, ok := t.c.opts.Logger.(progressLogger); ok {
		opts.Progress = func(p image.Progress) { pl.Progress(t.String(), p) }
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
		if before == nil || before.Digest != res.Manifest {
			t.mu.Lock()
			t.moved = append(t.moved, movedTag{tag: dst, before: before, ours: res.Manifest})
			t.mu.Unlock()
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
func (t *Target) patch(ctx context.Context, st *State, ups []formationUpdate) (*hk.Release, error) {
	t.mu.Lock()
	t.patched = true
	t.mu.Unlock()
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
func (t *Target) findRelease(ctx context.Context, st *State, ups []formationUpdate, tries int) (*hk.Release, error) {
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
			if err := sleepCtx(ctx, t.c.opts.PollInterval); err != nil {
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

// Verify waits until the release succeeded, its dynos are up (failing at
// the first crashed one), and then until the HTTP check passes when the
// address has one.
func (t *Target) Verify(ctx context.Context) error {
	t.mu.Lock()
	rel, healthURL := t.released, t.healthURL
	t.mu.Unlock()
	if rel == nil {
		return fmt.Errorf("verifying %s: nothing was released", t)
	}
	if rel.Status != statusSucceeded {
		return fmt.Errorf("verifying %s: release v%d %s", t, rel.Version, rel.Status)
	}
	if err := t.waitDynos(ctx, rel); err != nil {
		return fmt.Errorf("verifying %s: %w", t, err)
	}
	if healthURL == "" {
		return nil
	}
	chk := t.c.opts.Health
	chk.URL = healthURL
	if chk.Client == nil {
		chk.Client = &http.Client{Transport: t.c.base}
	}
	if err := chk.Wait(ctx, t.logf); err != nil {
		return fmt.Errorf("verifying %s: %w", t, err)
	}
	return nil
}

// waitDynos waits until every process type of the formation has as many
// dynos of release rel up as its quantity, failing fast on a crashed dyno
// of rel and when a newer release replaces it.
func (t *Target) waitDynos(ctx context.Context, rel *hk.Release) error {
	forms, err := t.c.formation(ctx, t.addr.App)
	if err != nil {
		return err
	}
	want := map[string]int{}
	for _, f := range forms {
		if f.Quantity > 0 {
			want[f.Type] = f.Quantity
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.c.opts.BootTimeout)
	defer cancel()
	last := ""
	pace := newPoll(t.c.opts.PollInterval)
	for {
		ds, err := t.c.dynos(ctx, t.addr.App)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return fmt.Errorf("dynos of v%d not up within %s (%s)", rel.Version, t.c.opts.BootTimeout, last)
			}
			return err
		}
		up := map[string]int{}
		var crashed, waiting []string
		for _, d := range ds {
			if d.Release.Version > rel.Version {
				return fmt.Errorf("release v%d replaced v%d while its dynos were starting", d.Release.Version, rel.Version)
			}
			if d.Release.ID != rel.ID && d.Release.Version != rel.Version {
				continue
			}
			switch d.State {
			case "up", "idle":
				up[d.Type]++
			case "crashed":
				crashed = append(crashed, d.Name)
			default:
				waiting = append(waiting, d.Name+" "+d.State)
			}
		}
		if len(crashed) > 0 {
			sort.Strings(crashed)
			return fmt.Errorf("dynos of release v%d crashed: %s", rel.Version, strings.Join(crashed, ", "))
		}
		done := true
		var short []string
		for typ, n := range want {
			if up[typ] < n {
				done = false
				short = append(short, fmt.Sprintf("%s %d/%d up", typ, up[typ], n))
			}
		}
		if done {
			total := 0
			for _, n := range up {
				total += n
			}
			t.logf("release v%d: %d dynos up", rel.Version, total)
			return nil
		}
		sort.Strings(short)
		sort.Strings(waiting)
		now := strings.Join(append(short, waiting...), ", ")
		if now != last {
			t.logf("release v%d: waiting for dynos: %s", rel.Version, now)
			last = now
		}
		if err := pace.wait(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Errorf("dynos of v%d not up within %s (%s)", rel.Version, t.c.opts.BootTimeout, last)
			}
			return err
		}
	}
}

// Restore puts the app back on the snapshot's release with a rollback
// release (POST /apps/APP/releases {"release": ID}), never "the previous
// release", then follows it and waits for its dynos. When the recorded
// release is still current — the new release failed in its release phase
// and never ran — nothing is sent.
func (t *Target) Restore(ctx context.Context, s promote.Snapshot) error {
	st, ok := s.State.(*State)
	if !ok || st == nil {
		return fmt.Errorf("restoring %s: the snapshot holds no Heroku state", t)
	}
	t.mu.Lock()
	patched := t.patched
	t.mu.Unlock()
	if !patched {
		// The release stopped before the formation PATCH (in the copy,
		// say): no release was made, so there is nothing to put back,
		// and no need to reach the API, which may be what failed.
		t.logf("restore: ferry never updated the formation, so it made no release: nothing to roll back (v%d was current at the snapshot)", st.Version)
		t.putTagsBack(ctx)
		return nil
	}
	err := t.restoreTo(ctx, st)
	t.putTagsBack(ctx)
	if err != nil {
		return fmt.Errorf("restoring %s: %w", t, err)
	}
	return nil
}

// putTagsBack restores the :latest tags the copy moved. The app's own
// state is what a restore is judged by, so a tag that cannot be put back
// is a warning, not a failed restore.
func (t *Target) putTagsBack(ctx context.Context) {
	if err := t.restoreTags(ctx); err != nil {
		t.logf("WARNING: not every registry tag could be put back: %v", err)
	}
}

func (t *Target) restoreTo(ctx context.Context, st *State) error {
	if st.ReleaseID == "" {
		return fmt.Errorf("%s had no release before; there is nothing to roll back to", st.App)
	}
	cur, err := t.settle(ctx)
	if err != nil {
		return err
	}
	if cur.ID == st.ReleaseID {
		t.mu.Lock()
		rel := t.released
		t.mu.Unlock()
		if rel != nil && rel.Status == statusFailed {
			t.logf("release v%d failed in its release phase and never ran; v%d is still current: nothing to restore", rel.Version, st.Version)
		} else {
			t.logf("v%d is still current: nothing to restore", st.Version)
		}
		return nil
	}
	t.mu.Lock()
	ours := t.ours
	t.mu.Unlock()
	if ours != nil && cur.ID != ours.ID && cur.Version > ours.Version {
		if v, ok := rolledBackTo(cur.Description); ok && v == st.Version {
			t.logf("v%d (%s) already puts v%d back: nothing to restore", cur.Version, cur.Description, st.Version)
			return nil
		}
		// Someone else released after ferry did: theirs is not ferry's
		// to undo (a second ferry run may be verifying it right now).
		return fmt.Errorf("release v%d (%s) was made after ferry's release v%d, by someone else: not rolling back a release that is not ferry's", cur.Version, cur.Description, ours.Version)
	}
	top, err := t.c.recentReleases(ctx, t.addr.App, 1)
	if err != nil {
		return err
	}
	before := 0
	if len(top) > 0 {
		before = top[0].Version
	}
	t.logf("rolling back from v%d to v%d (release %s)", cur.Version, st.Version, st.ReleaseID)
	rb, err := t.postRollback(ctx, st, before)
	if err != nil {
		return err
	}
	t.logf("release v%d created (%s); following it", rb.Version, rb.Description)
	final, err := t.c.follow(ctx, t.addr.App, rb.ID, t.logf)
	if err != nil {
		return err
	}
	if final.Status != statusSucceeded {
		return fmt.Errorf("rollback release v%d %s", final.Version, final.Status)
	}
	if err := t.waitDynos(ctx, final); err != nil {
		return fmt.Errorf("after rolling back to v%d: %w", st.Version, err)
	}
	t.logf("rolled back: v%d runs the images of v%d", final.Version, st.Version)
	return nil
}

// settle waits for releases in progress to end and returns the current
// release.
func (t *Target) settle(ctx context.Context) (hk.Release, error) {
	for i := 0; i < 5; i++ {
		cur, _, pending, err := t.c.current(ctx, t.addr.App)
		if err != nil {
			return hk.Release{}, err
		}
		if pending == nil || pending.Version < cur.Version {
			return cur, nil
		}
		t.logf("release v%d is in progress; waiting for it before restoring", pending.Version)
		if _, err := t.c.follow(ctx, t.addr.App, pending.ID, t.logf); err != nil {
			return hk.Release{}, err
		}
	}
	return hk.Release{}, errors.New("releases keep starting; cannot restore safely")
}

// postRollback sends the rollback POST, looking before sending it again
// when the outcome is unknown.
func (t *Target) postRollback(ctx context.Context, st *State, before int) (*hk.Release, error) {
	want := fmt.Sprintf("Rollback to v%d", st.Version)
	for attempt := 1; ; attempt++ {
		rb, err := t.c.rollback(ctx, t.addr.App, st.ReleaseID)
		if err == nil {
			return rb, nil
		}
		if !unknownOutcome(err) || attempt >= 2 {
			return nil, fmt.Errorf("rolling back to v%d: %w", st.Version, err)
		}
		t.logf("rollback: %v; checking whether it took effect", err)
		for try := 0; try < 3; try++ {
			rs, lerr := t.c.releasesAfter(ctx, t.addr.App, before)
			if lerr != nil {
				return nil, errors.Join(fmt.Errorf("rolling back to v%d: %w", st.Version, err), lerr)
			}
			for i := range rs {
				if rs[i].Description == want {
					return &rs[i], nil
				}
			}
			if err := sleepCtx(ctx, t.c.opts.PollInterval); err != nil {
				return nil, err
			}
		}
		t.logf("no rollback release appeared; sending it once more")
	}
}

// Rollback rolls the app back to a release given by version ("v41" or
// "41"); "" means the newest succeeded release before the current one. It
// waits until the rollback release runs and returns the new state.
func (t *Target) Rollback(ctx context.Context, toVersion string) (promote.Snapshot, error) {
	if _, err := t.c.containerApp(ctx, t.addr.App); err != nil {
		return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t, err)
	}
	cur, err := t.settle(ctx)
	if err != nil {
		return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t, err)
	}
	var to *hk.Release
	if toVersion == "" {
		for v := cur.Version - 1; v >= 1 && v > cur.Version-maxWalk; v-- {
			r, err := t.c.release(ctx, t.addr.App, strconv.Itoa(v))
			if err != nil {
				return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t, err)
			}
			if r.Status == statusSucceeded {
				to = r
				break
			}
		}
		if to == nil {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("rolling back %s: no succeeded release before v%d", t, cur.Version))
		}
	} else {
		v := strings.TrimPrefix(strings.ToLower(toVersion), "v")
		if _, err := strconv.Atoi(v); err != nil {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("rolling back %s: %q is not a release version such as v41", t, toVersion))
		}
		r, err := t.c.release(ctx, t.addr.App, v)
		if err != nil {
			if StatusOf(err) == http.StatusNotFound {
				return promote.Snapshot{}, promote.Input(fmt.Errorf("rolling back %s: %w", t, err))
			}
			return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t, err)
		}
		if r.Status != statusSucceeded {
			return promote.Snapshot{}, promote.Input(fmt.Errorf("rolling back %s: release v%d %s and cannot be rolled back to", t, r.Version, r.Status))
		}
		to = r
	}
	if to.ID == cur.ID {
		return promote.Snapshot{}, promote.Input(fmt.Errorf("rolling back %s: v%d is already current", t, to.Version))
	}
	if err := t.restoreTo(ctx, &State{App: t.addr.App, ReleaseID: to.ID, Version: to.Version}); err != nil {
		return promote.Snapshot{}, fmt.Errorf("rolling back %s: %w", t, err)
	}
	s, _, err := t.snapshot(ctx)
	if err != nil {
		return promote.Snapshot{}, err
	}
	return s, nil
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
	_ promote.Target    = (*Target)(nil)
	_ promote.Describer = (*Target)(nil)
	_ promote.Source    = (*Source)(nil)
)
