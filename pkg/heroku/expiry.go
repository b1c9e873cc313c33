package heroku

import (
	"fmt"
	"time"

	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// Heroku's release retention (since October 2025): a release older than
// expireAfter and beyond the keepNewest newest is expired, and an expired
// release cannot be rolled back to.
const (
	statusExpired = "expired"
	expireAfter   = 30 * 24 * time.Hour
	keepNewest    = 20
	// runMargin is how long a run may take between its snapshot and a
	// restore: a release that turns 30 days old within it counts as old.
	runMargin = time.Hour
)

// expiryRisk says why r cannot serve as the point a promotion or a
// rollback goes back to, or "" when it can: it is expired, or Heroku may
// expire it before a restore — older than 30 days, or no longer among the
// 20 newest once one more release is made. recent are the app's newest
// releases, newest first. It only reads its arguments.
func expiryRisk(r hk.Release, recent []hk.Release, now time.Time) string {
	if r.Status == statusExpired {
		return fmt.Sprintf("release v%d is expired", r.Version)
	}
	var why []string
	if age := now.Sub(r.CreatedAt); !r.CreatedAt.IsZero() && age+runMargin > expireAfter {
		why = append(why, fmt.Sprintf("it is %d days old (Heroku expires releases older than 30 days)", int(age.Hours()/24)))
	}
	newer := 0
	for _, o := range recent {
		if o.Version > r.Version {
			newer++
		}
	}
	if newer+1 >= keepNewest {
		why = append(why, fmt.Sprintf("%d releases are newer, so one more release leaves it beyond the %d newest that Heroku keeps", newer, keepNewest))
	}
	switch len(why) {
	case 0:
		return ""
	case 1:
		return fmt.Sprintf("release v%d may expire before a restore: %s", r.Version, why[0])
	}
	return fmt.Sprintf("release v%d may expire before a restore: %s, and %s", r.Version, why[0], why[1])
}

// rollbackPoint refuses (an input error) a release that a restore or a
// rollback could not go back to, unless Options.AcceptNoRollback says
// to go on, which is then logged.
func (t *Target) rollbackPoint(r hk.Release, recent []hk.Release) error {
	risk := expiryRisk(r, recent, time.Now())
	switch {
	case risk == "":
		return nil
	case t.c.opts.AcceptNoRollback:
		t.logf("%s; going on without a way back (FERRY_HEROKU_ACCEPT_NO_ROLLBACK=true)", risk)
		return nil
	}
	return promote.Input(fmt.Errorf("%s, and Heroku cannot roll back to an expired release: should this promotion fail, ferry could not restore %s; release the current build again first (a new release is a fresh rollback point), or set FERRY_HEROKU_ACCEPT_NO_ROLLBACK=true to promote without a way back", risk, t.addr.App))
}
