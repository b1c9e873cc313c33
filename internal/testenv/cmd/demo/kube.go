package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// demo runs the steps against a started sandbox.
type demo struct {
	n     *narrator
	sb    *sandbox
	ferry *ferry
}

func (d *demo) run(ctx context.Context) {
	d.kubernetes(ctx)
	if ctx.Err() != nil {
		return
	}
	d.heroku(ctx)
}

// kubernetes is steps 1 to 3: staging to two production Deployments.
func (d *demo) kubernetes(ctx context.Context) {
	n, sb := d.n, d.sb
	source := sb.stagingWeb.addr()
	targets := sb.prodEU.addr() + " " + sb.prodUS.addr()
	env := []string{"FERRY_SOURCE=" + source, "FERRY_TARGETS=" + targets}
	prod := []deployment{sb.prodEU, sb.prodUS}

	n.section("1", "promote the image staging runs to both production clusters")
	n.info("ferry gets nothing but environment variables:")
	n.env("KUBECONFIG", sb.kubeconfig)
	n.env("FERRY_SOURCE", source)
	n.env("FERRY_TARGETS", targets)
	n.info("plan shows what would change and touches nothing; promote pins staging's tag %s to the digest its pods run,", tagOf(sb.good.name))
	n.info("releases it to both Deployments, and waits until their rollouts are complete.")
	if !d.ferryRun(ctx, env, "plan", 0) {
		return
	}
	if !d.ferryRun(ctx, env, "promote", 0) {
		return
	}
	n.check(fmt.Sprintf("production runs %s (%s)", sb.good.name, short(sb.good.digest)), runs(ctx, sb.good, prod...))

	n.section("2", "staging now runs a crashing build; promote it and watch ferry restore production")
	if err := setImage(ctx, sb.stagingWeb, sb.crash.pinned()); err != nil {
		n.check("deploy "+sb.crash.name+" to staging", err)
		return
	}
	n.info("staging's shop/web is set to %s, pinned by digest.", sb.crash.name)
	n.info("In this sandbox every image whose name holds \"crash\" crash-loops (kwok plays the kubelets): ferry should")
	n.info("notice CrashLoopBackOff, put both Deployments back to the pod template it recorded, and exit 1.")
	r, ok := d.ferryRunOutput(ctx, env, "promote", 1)
	if ok {
		n.check("ferry names the cause (CrashLoopBackOff)", contains(r.output, "CrashLoopBackOff"))
	}
	n.check(fmt.Sprintf("production is back on %s (%s)", sb.good.name, short(sb.good.digest)), runs(ctx, sb.good, prod...))
	if ctx.Err() != nil {
		return
	}

	n.section("3", "status")
	n.info("what each production Deployment runs now, as ferry sees it:")
	r, ok = d.ferryRunOutput(ctx, []string{"FERRY_TARGETS=" + targets}, "status", 0)
	if ok {
		n.check("ferry status shows the good digest on both", atLeast(r.output, sb.good.pinned(), len(prod)))
	}
}

// ferryRun runs ferry and records its exit code against want. It reports
// whether the demo should go on.
func (d *demo) ferryRun(ctx context.Context, env []string, cmd string, want int) bool {
	_, ok := d.ferryRunOutput(ctx, env, cmd, want)
	return ok && ctx.Err() == nil
}

func (d *demo) ferryRunOutput(ctx context.Context, env []string, cmd string, want int) (run, bool) {
	r, err := d.ferry.run(ctx, env, cmd)
	return r, d.n.exit(cmd, r, want, err)
}

// runs checks that each Deployment is set to f, pinned, and has rolled out.
func runs(ctx context.Context, f fixture, ds ...deployment) error {
	var errs []error
	for _, d := range ds {
		img, err := imageOf(ctx, d)
		switch {
		case err != nil:
			errs = append(errs, err)
		case img != f.pinned():
			errs = append(errs, fmt.Errorf("%s runs %s, want %s", d, img, f.pinned()))
		default:
			errs = append(errs, waitRolledOut(ctx, d))
		}
	}
	return errors.Join(errs...)
}

func contains(output, want string) error {
	if !strings.Contains(output, want) {
		return fmt.Errorf("ferry's output does not mention %q", want)
	}
	return nil
}

func atLeast(output, want string, n int) error {
	if got := strings.Count(output, want); got < n {
		return fmt.Errorf("ferry's output names %s %d times, want %d", want, got, n)
	}
	return nil
}

// tagOf returns the tag of "repo:tag".
func tagOf(name string) string {
	if i := strings.LastIndex(name, ":"); i >= 0 {
		return name[i+1:]
	}
	return name
}
