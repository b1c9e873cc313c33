package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-dev/ferry/pkg/heroku"
)

// herokuClient returns the one Heroku client of the run, after checking the
// API key once: a refused key is bad input, found before any copy.
func (a *app) herokuClient(ctx context.Context) (*heroku.Client, error) {
	if a.heroku != nil {
		return a.heroku, nil
	}
	h := a.cfg.Heroku
	c, err := heroku.NewClient(heroku.Options{
		APIKey:      h.APIKey,
		APIURL:      h.APIURL,
		Registry:    h.Registry,
		Platform:    h.Platform,
		Keychain:    authn.DefaultKeychain,
		Logger:      a.log,
		Progress:    a.out.log.Progress,
		Description: a.description(),
		UserAgent:   "ferry/" + buildVersion(),
		BootTimeout: a.cfg.Run.Timeout,
		// A release phase is part of the rollout FERRY_TIMEOUT bounds;
		// left alone, one that never ends would hold ferry for 30m.
		ReleaseTimeout: a.cfg.Run.Timeout,
	})
	if err != nil {
		return nil, fmt.Errorf("heroku: %w", err)
	}
	if err := c.CheckAuth(ctx); err != nil {
		return nil, err
	}
	a.heroku = c
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
