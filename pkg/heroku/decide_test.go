package heroku

import (
	"strconv"
	"strings"
	"testing"
	"time"

	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestEvaluateDynos(t *testing.T) {
	rel := releaseRef{ID: "r5", Version: 5}
	dyno := func(name, typ, state string, version int) hk.Dyno {
		d := hk.Dyno{Name: name, Type: typ, State: state}
		d.Release.Version = version
		if version == 5 {
			d.Release.ID = "r5"
		}
		return d
	}
	web2 := map[string]int{"web": 2}
	cases := []struct {
		name     string
		want     map[string]int
		ds       []hk.Dyno
		done     bool
		failure  string
		progress string
	}{
		{"all up", web2, []hk.Dyno{dyno("web.1", "web", "up", 5), dyno("web.2", "web", "up", 5)}, true, "", ""},
		{"idle counts as up", web2, []hk.Dyno{dyno("web.1", "web", "idle", 5), dyno("web.2", "web", "up", 5)}, true, "", ""},
		{"one starting", web2, []hk.Dyno{dyno("web.1", "web", "up", 5), dyno("web.2", "web", "starting", 5)}, false, "", "web 1/2 up, web.2 starting"},
		{"old release dynos do not count", web2, []hk.Dyno{dyno("web.1", "web", "up", 4), dyno("web.2", "web", "up", 5)}, false, "", "web 1/2 up"},
		{"a crash fails at once", web2, []hk.Dyno{dyno("web.2", "web", "crashed", 5), dyno("web.1", "web", "up", 5)}, false, "dynos of release v5 crashed: web.2", ""},
		{"a newer release replaced it", web2, []hk.Dyno{dyno("web.1", "web", "up", 6)}, false, "release v6 replaced v5", ""},
		{"every process type counts", map[string]int{"web": 1, "worker": 1}, []hk.Dyno{dyno("web.1", "web", "up", 5)}, false, "", "worker 0/1 up"},
		{"nothing asked for", map[string]int{}, nil, true, "", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			v := evaluateDynos(rel, c.want, c.ds)
			if v.Done != c.done || !strings.Contains(v.Failure, c.failure) || (c.failure == "") != (v.Failure == "") || v.Progress != c.progress && c.progress != "" {
				t.Errorf("verdict %+v, want done %v failure %q progress %q", v, c.done, c.failure, c.progress)
			}
		})
	}
}

func TestPlanRestore(t *testing.T) {
	st := State{App: "shop", ReleaseID: "r1", Version: 1}
	ours := &releaseRef{ID: "r2", Version: 2, Status: statusSucceeded}
	failed := &releaseRef{ID: "r2", Version: 2, Status: statusFailed}
	rel := func(id string, v int, desc string) hk.Release {
		return hk.Release{ID: id, Version: v, Description: desc}
	}
	cases := []struct {
		name string
		st   State
		ch   change
		cur  hk.Release
		want restoreStep
		why  string
	}{
		{"nothing sent", st, change{}, hk.Release{}, restoreNothing, "never updated the formation"},
		{"no release before", State{App: "shop"}, change{Sent: true, Release: ours}, rel("r2", 2, ""), restoreRefuse, "no release before"},
		{"release phase failed", st, change{Sent: true, Release: failed}, rel("r1", 1, ""), restoreNothing, "never ran"},
		{"patch made no release", st, change{Sent: true}, rel("r1", 1, ""), restoreNothing, "still current"},
		{"ours is current", st, change{Sent: true, Release: ours}, rel("r2", 2, "Deployed web (abc)"), restoreRollBack, "from v2 to v1"},
		{"ours unknown, something else current", st, change{Sent: true}, rel("r3", 3, "Deployed web (abc)"), restoreRollBack, "from v3 to v1"},
		{"someone released after us", st, change{Sent: true, Release: ours}, rel("r3", 3, "Deployed web (def)"), restoreSuperseded, "by someone else"},
		{"someone rolled back for us", st, change{Sent: true, Release: ours}, rel("r3", 3, "Rollback to v1"), restoreNothing, "already puts v1 back"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := planRestore(c.st, c.ch, c.cur)
			if p.step != c.want || !strings.Contains(p.why, c.why) {
				t.Errorf("plan %d (%s), want %d (%s)", p.step, p.why, c.want, c.why)
			}
		})
	}
}

func TestPickRelease(t *testing.T) {
	// list builds releases newest first from "version:status:description".
	list := func(entries ...string) []hk.Release {
		var out []hk.Release
		for i := len(entries) - 1; i >= 0; i-- {
			parts := strings.SplitN(entries[i], ":", 3)
			r := hk.Release{Status: parts[1], Description: parts[2]}
			r.Version, _ = strconv.Atoi(parts[0])
			out = append(out, r)
		}
		return out
	}
	cases := []struct {
		name    string
		recent  []hk.Release
		want    int
		wantErr string
	}{
		{"the one before", list("1:succeeded:Deployed web (a)", "2:succeeded:Deployed web (b)"), 1, ""},
		{"skips failed releases", list("1:succeeded:Deployed web (a)", "2:failed:Deployed web (x)", "3:succeeded:Deployed web (b)"), 1, ""},
		// A promotion of c was restored by "Rollback to v2": v3, the
		// build rolled away from, is never "the one before".
		{"skips the build a restore undid", list("1:succeeded:Deployed web (a)", "2:succeeded:Deployed web (b)", "3:succeeded:Deployed web (c)", "4:succeeded:Rollback to v2"), 1, ""},
		{"chains of rollbacks", list("1:succeeded:Deployed web (a)", "2:succeeded:Deployed web (b)", "3:succeeded:Rollback to v2", "4:succeeded:Deployed web (c)", "5:succeeded:Rollback to v3"), 1, ""},
		{"nothing before", list("1:succeeded:Deployed web (a)"), 0, "no succeeded release before v1"},
		// Heroku's retention expired v2: it cannot be rolled back to.
		{"skips expired releases", list("1:succeeded:Deployed web (a)", "2:expired:Deployed web (b)", "3:succeeded:Deployed web (c)"), 1, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cur := c.recent[0]
			got, err := pickRelease(cur, c.recent)
			if c.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), c.wantErr) {
					t.Fatalf("pickRelease = %v, %v; want %q", got, err, c.wantErr)
				}
				return
			}
			if err != nil || got.Version != c.want {
				t.Fatalf("pickRelease = %+v, %v; want v%d", got, err, c.want)
			}
		})
	}
}

func TestAdoptFound(t *testing.T) {
	st := State{App: "shop", ReleaseID: "r1", Version: 1, ImageID: "sha256:new"}
	ours := &releaseRef{ID: "r2", Version: 2}
	cases := []struct {
		name    string
		ch      change
		curID   string
		curV    int
		curDesc string
		want    promote.Found
	}{
		{"still on the snapshot", change{}, "r1", 1, "Deployed web (old)", promote.FoundSnapshot},
		{"a restore put it back", change{Sent: true, Release: ours}, "r3", 3, "Rollback to v1", promote.FoundSnapshot},
		{"runs the dead run's release", change{Sent: true, Release: ours}, "r2", 2, "Deployed web (new)", promote.FoundChange},
		{"someone released after it", change{Sent: true, Release: ours}, "r3", 3, "Deployed web (hotfix)", promote.FoundOther},
		{"nothing of ours, someone else's", change{}, "r3", 3, "Deployed web (hotfix)", promote.FoundOther},
		{"rolled back elsewhere", change{Sent: true, Release: ours}, "r3", 3, "Rollback to v0", promote.FoundOther},
	}
	for _, c := range cases {
		if got := adoptFound(st, c.ch, c.curID, c.curV, c.curDesc); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
	}
}

func TestHeldRecord(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		h    heldRecord
		want string
	}{
		{heldRecord{}, ""},
		{heldRecord{Holder: "a", Renewed: now.Add(-5 * time.Second), TTL: 30}, "a"},
		{heldRecord{Holder: "a", Renewed: now.Add(-31 * time.Second), TTL: 30}, ""},
		{heldRecord{Holder: "a", TTL: 30}, ""},
	}
	for _, c := range cases {
		if got := c.h.heldBy(now); got != c.want {
			t.Errorf("%+v: %q, want %q", c.h, got, c.want)
		}
	}
}
