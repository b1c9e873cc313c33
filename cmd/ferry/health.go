package main

import (
	"context"
	"fmt"

	"github.com/ferry-dev/ferry/pkg/health"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// healthTemplate is the HTTP check configured by FERRY_HEALTH_*; a target's
// ?health= fills in its URL.
func (a *app) healthTemplate() health.Check {
	ranges := a.cfg.HealthStatusRanges
	return health.Check{
		Interval:  a.cfg.HealthInterval,
		Timeout:   a.cfg.HealthTimeout,
		Soak:      a.cfg.HealthSoak,
		Threshold: a.cfg.HealthThreshold,
		BodyMatch: a.cfg.HealthBodyRegexp,
		Expect: func(status int) bool {
			if len(ranges) == 0 {
				return health.DefaultExpect(status)
			}
			for _, r := range ranges {
				if r.Contains(status) {
					return true
				}
			}
			return false
		},
	}
}

// healthTarget adds an HTTP check to a target's verification: the target's
// own verification first, then the URL must answer healthy.
type healthTarget struct {
	promote.Target
	check health.Check
	log   promote.Logger
}

func (a *app) withHealth(t promote.Target, url string) promote.Target {
	c := a.healthTemplate()
	c.URL = url
	return &healthTarget{Target: t, check: c, log: a.log}
}

// Verify runs the target's verification, then the HTTP check.
func (h *healthTarget) Verify(ctx context.Context) error {
	if err := h.Target.Verify(ctx); err != nil {
		return err
	}
	h.log.Logf(h.String(), "health: checking %s", h.check.URL)
	// health.Wait starts its lines with "health: " itself.
	if err := h.check.Wait(ctx, func(format string, args ...any) { h.log.Logf(h.String(), format, args...) }); err != nil {
		return fmt.Errorf("health check of %s: %w", h, err)
	}
	return nil
}

// Unwrap returns the decorated target.
func (h *healthTarget) Unwrap() promote.Target { return h.Target }

// unwrapTarget returns the target a wrapper decorates.
func unwrapTarget(t promote.Target) promote.Target {
	if u, ok := t.(interface{ Unwrap() promote.Target }); ok {
		return unwrapTarget(u.Unwrap())
	}
	return t
}
