package main

import "github.com/ferry-dev/ferry/pkg/health"

// healthTemplate is the HTTP check configured by FERRY_HEALTH_*; a target's
// ?health= fills in its URL.
func (a *app) healthTemplate() health.Check {
	h := a.cfg.Health
	var version *health.Version
	if h.Version != nil {
		v := *h.Version
		v.Commit = a.cfg.CI.Commit
		version = &v
	}
	return health.Check{
		Version:   version,
		Interval:  h.Interval,
		Timeout:   h.Timeout,
		Soak:      h.Soak,
		Threshold: h.Threshold,
		BodyMatch: h.Body,
		Expect: func(status int) bool {
			if len(h.Status) == 0 {
				return health.DefaultExpect(status)
			}
			for _, r := range h.Status {
				if r.Contains(status) {
					return true
				}
			}
			return false
		},
	}
}
