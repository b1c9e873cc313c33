package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/heroku"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
	"github.com/ferry-dev/ferry/pkg/report"
)

// app holds what one ferry command works with.
type app struct {
	cfg     config.Config
	environ []string
	stdout  io.Writer
	stderr  io.Writer
	scrub   redact.Secrets
	log     promote.Logger
	// progress shows how far a copy has come.
	progress func(target string, p image.Progress)
	kube     *kube.Clients
	heroku   *heroku.Client
	gh       *report.GitHub
	closers  []func()
}

// guard is what keeps secrets out of a run's output: the scrubber every
// printed string passes, and in GitHub Actions the runner's masks.
type guard struct {
	kube  *kube.Clients
	scrub redact.Secrets
	gh    *report.GitHub // nil outside GitHub Actions
}

// newGuard reads the secrets of cfg — the configured ones and the
// credentials inside the kubeconfig (read from memory or disk, no API
// call) — and, in GitHub Actions, masks them before anything is printed.
func newGuard(cfg config.Config, environ []string, stdout io.Writer) guard {
	g := guard{kube: kube.NewClients(kube.Kubeconfig{
		Paths:     cfg.Kubeconfig,
		Data:      cfg.KubeconfigData,
		UserAgent: "ferry/" + buildVersion(),
	})}
	secrets, creds := cfg.Secrets(), append(g.kube.Secrets(), registrySecrets(cfg, environ)...)
	g.scrub = redact.NewSecrets(append(secrets, creds...)...)
	if cfg.Mode == config.ModeGitHub {
		getenv := func(k string) string { return lookup(environ, k) }
		g.gh = report.NewGitHub(getenv, stdout, g.scrub)
		// The runner masks line by line, so a multi-line secret (a
		// kubeconfig in YAML) is masked through the credentials inside
		// it, not its every ordinary line.
		g.gh.Mask(append(singleLine(secrets), creds...))
	}
	return g
}

func newApp(cfg config.Config, environ []string, stdout, stderr io.Writer, g guard) (*app, error) {
	a := &app{cfg: cfg, environ: environ, stdout: stdout, stderr: stderr, kube: g.kube, scrub: g.scrub, gh: g.gh}
	ll := report.NewLineLogger(stderr, a.scrub)
	if cfg.Mode == config.ModeLocal && isTerminal(stderr) {
		ll.TTY, ll.Timestamps = true, true
	}
	a.log, a.progress = ll, ll.Progress
	return a, a.preflight()
}

func (a *app) close() {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i]()
	}
}

func (a *app) addresses() []address.Address {
	out := append([]address.Address(nil), a.cfg.TargetAddrs...)
	if a.cfg.SourceAddr.Kind != "" {
		out = append(out, a.cfg.SourceAddr)
	}
	return out
}

// preflight checks what can be checked without an API call: that every
// kubeconfig context named exists.
func (a *app) preflight() error {
	var errs []error
	for _, ad := range a.addresses() {
		if ad.Kind != address.KindKube {
			continue
		}
		if err := a.kube.CheckContext(ad.Context); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ad, err))
		}
	}
	return promote.Input(errors.Join(errs...))
}

func (a *app) options() promote.Options {
	return promote.Options{
		Parallelism:    a.cfg.Parallelism,
		RestoreTimeout: a.cfg.RestoreTimeout,
		Logger:         a.log,
	}
}

func (a *app) resolver() image.Resolver {
	return image.Resolver{Keychain: authn.DefaultKeychain}
}

func (a *app) source(ctx context.Context) (promote.Source, error) {
	ad := a.cfg.SourceAddr
	switch ad.Kind {
	case address.KindKube:
		var reg kube.Resolver
		if a.cfg.ResolveTags {
			reg = a.resolver()
		}
		return kube.NewSource(a.kube, kubeRef(ad), reg), nil
	case address.KindImage:
		return image.RefSource{Ref: ad.Ref, Resolver: a.resolver()}, nil
	case address.KindHeroku:
		return a.herokuSource(ctx, ad)
	}
	return nil, fmt.Errorf("source %s: unsupported kind %q", ad, ad.Kind)
}

func (a *app) targets(ctx context.Context) ([]promote.Target, error) {
	var out []promote.Target
	for _, ad := range a.cfg.TargetAddrs {
		var t promote.Target
		switch ad.Kind {
		case address.KindKube:
			t = kube.NewTarget(a.kube, kubeRef(ad), kube.TargetOptions{
				Timeout:       a.cfg.Timeout,
				OnPaused:      a.cfg.OnPaused,
				OnProgressing: a.cfg.OnProgressing,
				ChangeCause:   a.changeCause,
				Logger:        a.log,
			})
		case address.KindHeroku:
			ht, err := a.herokuTarget(ctx, ad)
			if err != nil {
				return nil, err
			}
			t = ht
		default:
			return nil, promote.Input(fmt.Errorf("target %s: only k8s: and heroku: addresses can be targets", ad))
		}
		if ad.Health != "" {
			chk := a.healthTemplate()
			chk.URL = ad.Health
			t = promote.WithHealth(t, chk, a.log)
		}
		out = append(out, t)
	}
	return out, nil
}

func kubeRef(ad address.Address) kube.Ref {
	return kube.Ref{Address: ad.String(), Context: ad.Context, Namespace: ad.Namespace, Name: ad.Deployment, Container: ad.Container}
}

// changeCause records what was promoted from where, and the CI run.
func (a *app) changeCause(img image.Image) string {
	if a.cfg.ChangeCause != "" {
		return a.cfg.ChangeCause
	}
	return fmt.Sprintf("ferry %s: promoted %s %s", buildVersion(), img.Ref(), a.provenance())
}

// provenance says where a promotion comes from: the source address, the CI
// commit and the run URL, when known.
func (a *app) provenance() string {
	parts := []string{"from " + a.cfg.SourceAddr.String()}
	if sha := firstOf(a.environ, "GITHUB_SHA", "CIRCLE_SHA1"); sha != "" {
		parts = append(parts, "commit "+sha)
	}
	if u := runURL(a.environ); u != "" {
		parts = append(parts, u)
	}
	return strings.Join(parts, "; ")
}

func runURL(environ []string) string {
	if id := lookup(environ, "GITHUB_RUN_ID"); id != "" {
		server := lookup(environ, "GITHUB_SERVER_URL")
		if server == "" {
			server = "https://github.com"
		}
		return fmt.Sprintf("%s/%s/actions/runs/%s", server, lookup(environ, "GITHUB_REPOSITORY"), id)
	}
	return lookup(environ, "CIRCLE_BUILD_URL")
}

func firstOf(environ []string, names ...string) string {
	for _, n := range names {
		if v := lookup(environ, n); v != "" {
			return v
		}
	}
	return ""
}

// pipeline is promote.Run or promote.Plan.
type pipeline func(context.Context, promote.Source, []promote.Target, promote.Options) (*promote.Report, error)

// runPipeline builds the source and targets and hands them to p.
func (a *app) runPipeline(ctx context.Context, p pipeline) (*promote.Report, error) {
	src, err := a.source(ctx)
	if err != nil {
		return nil, err
	}
	ts, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	return p(ctx, src, ts, a.options())
}

func (a *app) status(ctx context.Context) (*promote.Report, error) {
	ts, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	return promote.Inspect(ctx, ts, a.options())
}

func (a *app) rollback(ctx context.Context, to string) (*promote.Report, error) {
	ts, err := a.targets(ctx)
	if err != nil {
		return nil, err
	}
	return promote.Rollback(ctx, ts, to, a.options())
}

// write prints the report in the configured format, and hands it to
// GitHub Actions when running there.
func (a *app) write(r *promote.Report) error {
	var err error
	switch a.cfg.Output {
	case "json":
		err = report.JSON(a.stdout, r, a.scrub)
	default:
		err = report.Text(a.stdout, r, a.scrub)
	}
	if a.gh != nil {
		err = errors.Join(err, a.gh.Write(r))
	}
	return err
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Stat() (os.FileInfo, error) })
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// singleLine keeps the values that fit on one line.
func singleLine(values []string) []string {
	var out []string
	for _, v := range values {
		if !strings.ContainsAny(strings.TrimSpace(v), "\r\n") {
			out = append(out, v)
		}
	}
	return out
}
