package main

import (
	"context"
	"fmt"

	"github.com/google/go-containerregistry/pkg/authn"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/heroku"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// herokuClient returns the one Heroku client of the run, after checking the
// API key once: a refused key is bad input, found before any copy.
func (a *app) herokuClient(ctx context.Context) (*heroku.Client, error) {
	if a.heroku != nil {
		return a.heroku, nil
	}
	platform, err := v1.ParsePlatform(a.cfg.Platform)
	if err != nil {
		return nil, promote.Input(fmt.Errorf("FERRY_PLATFORM=%q: %w; for example linux/amd64", a.cfg.Platform, err))
	}
	c, err := heroku.NewClient(heroku.Options{
		APIKey:      a.cfg.HerokuAPIKey,
		APIURL:      a.cfg.HerokuAPIURL,
		Registry:    a.cfg.HerokuRegistry,
		Platform:    *platform,
		Keychain:    authn.DefaultKeychain,
		Logger:      a.log,
		Progress:    a.progress,
		Description: a.description(),
		UserAgent:   "ferry/" + buildVersion(),
		BootTimeout: a.cfg.Timeout,
		// A release phase is part of the rollout FERRY_TIMEOUT bounds;
		// left alone, one that never ends would hold ferry for 30m.
		ReleaseTimeout: a.cfg.Timeout,
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

func (a *app) herokuSource(ctx context.Context, ad address.Address) (promote.Source, error) {
	c, err := a.herokuClient(ctx)
	if err != nil {
		return nil, err
	}
	return heroku.NewSource(c, ad), nil
}

func (a *app) herokuTarget(ctx context.Context, ad address.Address) (promote.Target, error) {
	c, err := a.herokuClient(ctx)
	if err != nil {
		return nil, err
	}
	return heroku.NewTarget(c, ad)
}

// description is the note logged with each Heroku release (the Platform
// API has no field for it on container releases).
func (a *app) description() string {
	if a.cfg.ChangeCause != "" {
		return a.cfg.ChangeCause
	}
	return "ferry " + buildVersion() + ": promoted " + a.provenance()
}
