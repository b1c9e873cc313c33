package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/ferry-dev/ferry/pkg/gate"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// readTemplates reads the AnalysisTemplates FERRY_GATES names from their
// clusters and makes their gates, before anything changes: one that
// cannot be read or used is an input error.
func (a *app) readTemplates(ctx context.Context) error {
	var errs []error
	for _, ref := range a.cfg.Gates.Templates {
		spec, err := a.kube.AnalysisTemplateSpec(ctx, ref.Context, ref.Namespace, ref.Name, ref.ClusterScope)
		if err != nil {
			errs = append(errs, fmt.Errorf("FERRY_GATES: %w", err))
			continue
		}
		gs, err := gate.FromTemplate(ref, spec, a.cfg.Env.Get)
		if err != nil {
			errs = append(errs, promote.Input(fmt.Errorf("FERRY_GATES: %w", err)))
			continue
		}
		a.templateGates = append(a.templateGates, gs...)
	}
	return errors.Join(errs...)
}

// gates are the run's metric gates, logging to the run's log, with the
// credentials they read hidden from everything printed.
func (a *app) gates() []promote.Gate {
	var out []promote.Gate
	for _, g := range append(append([]*gate.Gate(nil), a.cfg.Gates.Gates...), a.templateGates...) {
		for _, s := range g.Secrets() {
			a.out.secret(s)
		}
		g.SetLogger(a.log)
		out = append(out, g)
	}
	return out
}
