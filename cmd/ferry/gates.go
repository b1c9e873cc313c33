package main

import "github.com/ferry-dev/ferry/pkg/promote"

// gates are the run's metric gates, logging to the run's log, with the
// credentials they read hidden from everything printed.
func (a *app) gates() []promote.Gate {
	var out []promote.Gate
	for _, g := range a.cfg.Gates {
		for _, s := range g.Secrets() {
			a.out.secret(s)
		}
		g.SetLogger(a.log)
		out = append(out, g)
	}
	return out
}
