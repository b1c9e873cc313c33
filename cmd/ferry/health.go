package main

import "github.com/ferry-dev/ferry/pkg/health"

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
