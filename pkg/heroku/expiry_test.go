package heroku

import (
	"strings"
	"testing"
	"time"

	hk "github.com/heroku/heroku-go/v5"
)

func TestExpiryRisk(t *testing.T) {
	now := time.Date(2026, 11, 29, 3, 0, 0, 0, time.UTC)
	rel := func(v int, age time.Duration, status string) hk.Release {
		return hk.Release{Version: v, Status: status, CreatedAt: now.Add(-age)}
	}
	newest := func(n int) []hk.Release {
		var out []hk.Release
		for v := 100; v > 100-n; v-- {
			out = append(out, rel(v, time.Hour, statusSucceeded))
		}
		return out
	}
	cases := []struct {
		name   string
		r      hk.Release
		recent []hk.Release
		want   string // substring; "" = no risk
	}{
		{name: "fresh and current", r: rel(100, 24*time.Hour, statusSucceeded), recent: newest(1)},
		{name: "expired", r: rel(40, time.Hour, statusExpired), recent: newest(1), want: "release v40 is expired"},
		{name: "older than 30 days", r: rel(100, 31*24*time.Hour, statusSucceeded), recent: newest(1), want: "it is 31 days old"},
		{name: "turns 30 days old within the run", r: rel(100, 30*24*time.Hour-10*time.Minute, statusSucceeded), recent: newest(1), want: "29 days old"},
		{name: "29 days is fine", r: rel(100, 29*24*time.Hour, statusSucceeded), recent: newest(1)},
		{name: "18 newer: still among the 20 after one more", r: rel(82, time.Hour, statusSucceeded), recent: newest(19)},
		{name: "19 newer: the next release pushes it out", r: rel(81, time.Hour, statusSucceeded), recent: newest(20), want: "19 releases are newer"},
		{name: "both", r: rel(81, 40*24*time.Hour, statusSucceeded), recent: newest(20), want: "40 days old (Heroku expires releases older than 30 days), and 19 releases"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := expiryRisk(c.r, c.recent, now)
			if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
				t.Errorf("expiryRisk = %q, want %q", got, c.want)
			}
		})
	}
}
