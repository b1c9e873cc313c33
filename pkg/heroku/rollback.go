package heroku

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// rollbackWindow is how many recent releases a rollback looks at to find
// "the one before": Heroku keeps 20 releases eligible for rollback.
const rollbackWindow = 100

// pickRelease chooses the release a rollback without a version goes back
// to, among recent (newest first) when cur is current: the newest release
// that ran (succeeded) before cur's first version. A rollback release
// counts as the release it brought back ("Rollback to v41" is v41), so the
// releases that were rolled away from — the build a ferry restore undid,
// say — are never "the one before". It only reads its arguments.
func pickRelease(cur hk.Release, recent []hk.Release) (*hk.Release, error) {
	byVersion := map[int]*hk.Release{}
	for i := range recent {
		byVersion[recent[i].Version] = &recent[i]
	}
	first, desc := cur.Version, cur.Description
	for range recent {
		to, ok := rolledBackTo(desc)
		r := byVersion[to]
		if !ok || r == nil || to >= first {
			break
		}
		first, desc = to, r.Description
	}
	var pick *hk.Release
	for i := range recent {
		r := &recent[i]
		if r.Version < first && r.Status == statusSucceeded && (pick == nil || r.Version > pick.Version) {
			pick = r
		}
	}
	if pick == nil {
		return nil, fmt.Errorf("no succeeded release before v%d among the last %d", first, len(recent))
	}
	return pick, nil
}

// parseVersion reads "v41" or "41".
func parseVersion(s string) (int, error) {
	v, err := strconv.Atoi(strings.TrimPrefix(strings.ToLower(strings.TrimSpace(s)), "v"))
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("%q is not a release version such as v41", s)
	}
	return v, nil
}

// Rollback rolls the app back to a release given by version ("v41" or
// "41"), or with to == "" to the release before the current one as
// pickRelease chooses it, and follows the rollback release until it
// succeeded. The pipeline then waits for its dynos like a release's, and
// restores s should that fail.
func (t *Target) Rollback(ctx context.Context, s promote.Snapshot, to string) (promote.Change, error) {
	st, err := promote.DecodeState[State](s.State)
	if err != nil {
		return promote.Change{}, err
	}
	cur, err := t.settle(ctx)
	if err != nil {
		return promote.Change{}, err
	}
	if cur.ID != st.ReleaseID {
		return promote.Change{}, promote.Input(fmt.Errorf("release v%d became current since ferry read the app (v%d); run ferry rollback again", cur.Version, st.Version))
	}
	target, err := t.rollbackTarget(ctx, cur, to)
	if err != nil {
		return promote.Change{}, err
	}
	ch := change{Sent: true}
	t.logf("rolling back from v%d to v%d (%s)", cur.Version, target.Version, target.Description)
	rb, err := t.rollBack(ctx, *refOf(target))
	if rb != nil {
		ch.Release = refOf(rb)
	}
	c, cerr := encodeChange(fmt.Sprintf("release v%d", target.Version), ch)
	if err != nil {
		return c, fmt.Errorf("rolling back: %w", err)
	}
	return c, cerr
}

// rollbackTarget finds the release to go back to.
func (t *Target) rollbackTarget(ctx context.Context, cur hk.Release, to string) (*hk.Release, error) {
	if to == "" {
		recent, err := t.c.recentReleases(ctx, t.addr.App, rollbackWindow)
		if err != nil {
			return nil, err
		}
		r, err := pickRelease(cur, recent)
		return r, promote.Input(err)
	}
	v, err := parseVersion(to)
	if err != nil {
		return nil, promote.Input(err)
	}
	r, err := t.c.release(ctx, t.addr.App, strconv.Itoa(v))
	switch {
	case StatusOf(err) == http.StatusNotFound:
		return nil, promote.Input(err)
	case err != nil:
		return nil, err
	case r.ID == cur.ID:
		return nil, promote.Input(fmt.Errorf("v%d is already current", r.Version))
	case r.Status == statusExpired:
		return nil, promote.Input(fmt.Errorf("release v%d is expired: Heroku cannot roll back to it; promote its image again instead", r.Version))
	case r.Status != statusSucceeded:
		return nil, promote.Input(fmt.Errorf("release v%d %s and cannot be rolled back to", r.Version, r.Status))
	}
	return r, nil
}
