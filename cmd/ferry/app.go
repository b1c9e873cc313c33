package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/ferry-dev/ferry/pkg/address"
	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/gate"
	"github.com/ferry-dev/ferry/pkg/ghdeploy"
	"github.com/ferry-dev/ferry/pkg/heroku"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/keychain"
	"github.com/ferry-dev/ferry/pkg/kube"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// app builds the sources and targets of one ferry command from its Config
// and hands them to pkg/promote.
type app struct {
	cfg   config.Config
	out   *output
	log   promote.Logger
	creds *credentials
	kube  *kube.Clients
	// keychain serves the registries: the credentials' own, and a k8s:
	// source's pull secrets once the source is built.
	keychain authn.Keychain
	// heroku are the Heroku clients, one per API key.
	heroku map[string]*heroku.Client
	// templateGates are the gates of the AnalysisTemplates FERRY_GATES
	// names, read by readTemplates.
	templateGates []*gate.Gate
}

// newApp builds the run's credentials and checks, before anything
// changes, that every kubeconfig context named exists and can be used —
// minting a token for a context whose exec plugin ferry stands in for.
func newApp(ctx context.Context, cfg config.Config, out *output) (*app, error) {
	a := &app{cfg: cfg, out: out, log: out.log, heroku: map[string]*heroku.Client{}}
	creds, err := newCredentials(cfg, out.secret, a.keychainLog)
	if err != nil {
		return nil, promote.Input(err)
	}
	a.creds, a.keychain = creds, creds.keychain
	a.kube = kube.NewClients(kube.Kubeconfig{
		Paths:          cfg.Kube.Kubeconfig,
		Data:           cfg.Kube.Data,
		UserAgent:      "ferry/" + buildVersion(),
		Home:           cfg.Env.Get("HOME"),
		InCluster:      cfg.Env.InCluster(),
		Credentials:    creds.kube,
		RequireContext: cfg.Mode != config.ModeLocal,
	})
	if err := a.preflight(ctx); err != nil {
		return a, err
	}
	return a, a.readTemplates(ctx)
}

func (a *app) addresses() []address.Address {
	out := append([]address.Address(nil), a.cfg.Targets...)
	if a.cfg.Source.Kind != "" {
		out = append(out, a.cfg.Source)
	}
	return out
}

func (a *app) preflight(ctx context.Context) error {
	var errs []error
	for _, ad := range a.addresses() {
		if ad.Kind != address.KindKube {
			continue
		}
		if err := a.kube.CheckContext(ctx, ad.Context); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", ad, err))
		}
	}
	return errors.Join(errs...)
}

// do runs the command.
func (a *app) do(ctx context.Context) (*promote.Report, error) {
	switch a.cfg.Command {
	case config.CommandPromote, config.CommandPlan:
		src, err := a.source(ctx)
		if err != nil {
			return nil, err
		}
		opts := a.options()
		if opts.Checks, err = a.checks(); err != nil {
			return nil, err
		}
		ts, err := a.targets(ctx)
		if err != nil {
			return nil, err
		}
		if a.cfg.Command == config.CommandPlan {
			return promote.Plan(ctx, src, ts, opts)
		}
		opts.Announcers = a.announcers()
		return promote.Run(ctx, src, ts, opts)
	case config.CommandStatus:
		ts, err := a.targets(ctx)
		if err != nil {
			return nil, err
		}
		return promote.Inspect(ctx, ts, a.options())
	case config.CommandRollback:
		ts, err := a.targets(ctx)
		if err != nil {
			return nil, err
		}
		return promote.Rollback(ctx, ts, a.cfg.Run.ToRevision, a.options())
	case config.CommandRecover:
		ts, err := a.targets(ctx)
		if err != nil {
			return nil, err
		}
		return promote.Recover(ctx, ts, a.options())
	}
	return nil, fmt.Errorf("unknown command %q", a.cfg.Command)
}

func (a *app) options() promote.Options {
	return promote.Options{
		Parallelism:    a.cfg.Run.Parallelism,
		RestoreTimeout: a.cfg.Run.RestoreTimeout,
		Logger:         a.log,
		Waves:          a.cfg.Waves,
		Gates:          a.gates(),
		Soak:           a.cfg.Run.Soak,
		Records:        a.records(),
	}
}

func (a *app) resolver() image.Resolver {
	return image.Resolver{Keychain: a.keychain}
}

// source builds the source. A k8s: source's pods may pull their image
// with pull secrets: those serve its registry too, after ferry's own
// credentials.
func (a *app) source(ctx context.Context) (promote.Source, error) {
	ad := a.cfg.Source
	switch ad.Kind {
	case address.KindKube:
		ref := kubeRef(ad)
		a.keychain = a.creds.with(a.keychainLog, keychain.Source{Name: "the pull secrets of " + ad.String(), Keychain: kube.PullSecrets(a.kube, ref)})
		var reg kube.Resolver
		if a.cfg.Kube.ResolveTags {
			reg = a.resolver()
		}
		return kube.NewSource(a.kube, ref, reg), nil
	case address.KindImage:
		return image.RefSource{Ref: ad.Ref, Resolver: a.resolver()}, nil
	case address.KindHeroku:
		c, err := a.herokuClient(ctx, ad.App)
		if err != nil {
			return nil, err
		}
		return heroku.NewSource(c, ad), nil
	}
	return nil, fmt.Errorf("source %s: unsupported kind %q", ad, ad.Kind)
}

func (a *app) targets(ctx context.Context) ([]promote.Target, error) {
	var out []promote.Target
	for _, ad := range a.cfg.Targets {
		var t promote.Target
		switch ad.Kind {
		case address.KindKube:
			t = kube.NewTarget(a.kube, kubeRef(ad), kube.TargetOptions{
				Timeout:       a.cfg.Run.Timeout,
				OnPaused:      a.cfg.Kube.OnPaused,
				OnProgressing: a.cfg.Kube.OnProgressing,
				OnOwned:       a.cfg.Kube.OnOwned,
				ChangeCause:   a.changeCause,
				Logger:        a.log,
				LockTTL:       a.cfg.Run.LockTTL,
			})
		case address.KindHeroku:
			c, err := a.herokuClient(ctx, ad.App)
			if err != nil {
				return nil, err
			}
			if t, err = heroku.NewTarget(c, ad); err != nil {
				return nil, err
			}
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

// keychainLog tells the run's log which source served each registry.
func (a *app) keychainLog(f string, args ...any) { a.log.Logf("", f, args...) }

func kubeRef(ad address.Address) kube.Ref {
	return kube.Ref{Address: ad.String(), Context: ad.Context, Namespace: ad.Namespace, Name: ad.Deployment, Container: ad.Container, Kind: ad.Workload}
}

// changeCause records what was promoted from where, and the CI run.
func (a *app) changeCause(promoted string) string {
	if a.cfg.Run.ChangeCause != "" {
		return a.cfg.Run.ChangeCause
	}
	return fmt.Sprintf("ferry %s: promoted %s %s", buildVersion(), promoted, a.provenance())
}

// provenance says where a promotion comes from: the source address, the CI
// commit and the run URL, when known.
func (a *app) provenance() string {
	parts := []string{"from " + a.cfg.Source.String()}
	if a.cfg.CI.Commit != "" {
		parts = append(parts, "commit "+a.cfg.CI.Commit)
	}
	if a.cfg.CI.RunURL != "" {
		parts = append(parts, a.cfg.CI.RunURL)
	}
	return strings.Join(parts, "; ")
}

// announcers are where the promotion is published: a GitHub Deployment
// with FERRY_GITHUB_ENVIRONMENT.
func (a *app) announcers() []promote.Announcer {
	c := a.cfg.Deployments
	if c.Environment == "" {
		return nil
	}
	targets := make([]string, 0, len(a.cfg.Targets))
	for _, t := range a.cfg.Targets {
		targets = append(targets, t.String())
	}
	return []promote.Announcer{&ghdeploy.Announcer{
		Options: ghdeploy.Options{APIURL: c.APIURL, Token: c.Token, Repo: c.Repo, Ref: c.Ref, Environment: c.Environment, LogURL: a.cfg.CI.RunURL},
		Source:  a.cfg.Source.String(),
		Targets: strings.Join(targets, " "),
		Logger:  a.log,
	}}
}
