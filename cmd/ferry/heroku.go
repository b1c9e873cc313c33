package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/heroku"
)

// herokuClient returns the Heroku client for app's API key (its own,
// FERRY_HEROKU_API_KEY_<APP>, else HEROKU_API_KEY), one per key, after
// checking the key once: a refused key is bad input, found before any
// copy.
func (a *app) herokuClient(ctx context.Context, app string) (*heroku.Client, error) {
	h := a.cfg.Heroku
	key := h.KeyFor(app)
	if c, ok := a.heroku[key]; ok {
		return c, nil
	}
	setting := "HEROKU_API_KEY"
	if _, own := h.AppKeys[app]; own {
		setting = config.AppKeyVar(app)
	}
	c, err := heroku.NewClient(heroku.Options{
		KeySetting: setting,
		APIKey:     key,
		// A Heroku source in another account is read with its own key.
		RegistryKey: h.KeyFor,
		APIURL:      h.APIURL,
		Registry:    h.Registry,
		Platform:    h.Platform,
		// A rollback point Heroku may expire is refused unless accepted.
		AcceptNoRollback: h.AcceptNoRollback,
		Keychain:         a.keychain,
		Logger:           a.log,
		Progress:         a.out.log.Progress,
		Description:      a.description(),
		UserAgent:        "ferry/" + buildVersion(),
		BootTimeout:      a.cfg.Run.Timeout,
		// A release phase is part of the rollout FERRY_TIMEOUT bounds;
		// left alone, one that never ends would hold ferry for 30m.
		ReleaseTimeout: a.cfg.Run.Timeout,
		LockTTL:        a.cfg.Run.LockTTL,
	})
	if err != nil {
		return nil, fmt.Errorf("heroku: %w", err)
	}
	if err := c.CheckAuth(ctx); err != nil {
		return nil, err
	}
	a.heroku[key] = c
	return c, nil
}

// description is the note logged with each Heroku release (the Platform
// API has no field for it on container releases).
func (a *app) description() string {
	if a.cfg.Run.ChangeCause != "" {
		return a.cfg.Run.ChangeCause
	}
	return "ferry " + buildVersion() + ": promoted " + a.provenance()
}
