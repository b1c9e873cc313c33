package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/ferry-dev/ferry/pkg/config"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Exit codes; see README.
const (
	exitOK            = 0
	exitFailed        = 1 // failed; every changed target restored
	exitBadInput      = 2 // bad input; nothing changed
	exitRestoreFailed = 3 // a target could not be restored
)

const usage = `ferry promotes the exact image staging runs to production, verifies it, and
restores production by itself when it is not healthy.

Usage:
  ferry promote     resolve the source, release to every target, verify, restore on failure
  ferry plan        show what each target runs and what promote would change; changes nothing
  ferry status      show what each target runs now
  ferry rollback    put each target back to its previous revision/release (--to-revision N)
  ferry env         list every setting with its variable, default and description
  ferry version     print the version

Settings come from the environment: FERRY_* (INPUT_* in GitHub Actions), plus
KUBECONFIG, HEROKU_API_KEY and DOCKER_CONFIG. Flags override the environment.

Examples:
  FERRY_SOURCE='k8s:shop/web?context=staging' \
  FERRY_TARGETS='k8s:shop/web?context=prod-eu k8s:shop/web?context=prod-us' \
    ferry promote

  FERRY_TARGETS='k8s:shop/web?context=prod-eu' ferry rollback --to-revision 7

Exit codes: 0 promoted or nothing to do; 1 failed and every changed target was
restored; 2 bad input, nothing changed; 3 a target could not be restored.

Flags (after the command):
`

// run is ferry without the process around it: it reads args and environ,
// writes to stdout/stderr, and returns the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	cmd := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	cfg, err := config.Load(environ)
	if err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		return exitBadInput
	}
	g := newGuard(cfg, environ, stdout) // masks come before any other output
	if cmd == "" {
		cmd = cfg.Command
	}
	if cmd == "" && cfg.Mode == config.ModeGitHub {
		cmd = "promote" // the action's default
	}
	switch cmd {
	case "", "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		flags(cmd, &cfg, new(string)).PrintDefaults()
		if cmd == "" {
			return exitBadInput
		}
		return exitOK
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return exitOK
	case "env":
		if len(args) > 0 && args[0] == "--markdown" {
			fmt.Fprint(stdout, varsMarkdown())
			return exitOK
		}
		printVars(stdout)
		return exitOK
	case "promote", "plan", "status", "rollback":
	default:
		fmt.Fprintf(stderr, "ferry: unknown command %q: use promote, plan, status, rollback, env or version (ferry help)\n", cmd)
		return exitBadInput
	}

	fs := flags(cmd, &cfg, &cfg.ToRevision)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\nFlags:\n", commandHelp[cmd])
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitBadInput
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ferry %s: unexpected argument %q; settings come from FERRY_* variables or flags\n", cmd, fs.Arg(0))
		return exitBadInput
	}
	if err := cfg.Validate(cmd); err != nil {
		fmt.Fprintf(stderr, "ferry %s: bad configuration, nothing was changed:\n%v\n", cmd, g.scrub.String(indent(err.Error())))
		if g.gh != nil {
			// The step still gets its outputs and an annotation.
			r := &promote.Report{Command: cmd, Outcome: promote.OutcomeBadInput, Error: err.Error()}
			if werr := g.gh.Write(r); werr != nil {
				fmt.Fprintf(stderr, "ferry: writing the step outputs: %v\n", werr)
			}
		}
		return exitBadInput
	}

	app, err := newApp(cfg, environ, stdout, stderr, g)
	if err != nil {
		fmt.Fprintf(stderr, "ferry %s: %s\n", cmd, app.scrub.String(err.Error()))
		return exitBadInput
	}
	defer app.close()

	var r *promote.Report
	switch cmd {
	case "promote":
		r, err = app.runPipeline(ctx, promote.Run)
	case "plan":
		r, err = app.runPipeline(ctx, promote.Plan)
	case "status":
		r, err = app.status(ctx)
	case "rollback":
		r, err = app.rollback(ctx, cfg.ToRevision)
	}
	if r == nil {
		r = &promote.Report{Command: cmd, Outcome: promote.OutcomeFailed}
		if promote.IsInput(err) {
			r.Outcome = promote.OutcomeBadInput
		}
		if err != nil {
			r.Error = err.Error()
		}
	}
	if werr := app.write(r); werr != nil {
		fmt.Fprintf(stderr, "ferry: writing the report: %v\n", werr)
	}
	if err != nil {
		app.log.Logf("", "%s %s: %v", cmd, r.Outcome, err)
	}
	return exitCode(r, err)
}

func exitCode(r *promote.Report, err error) int {
	switch r.Outcome {
	case promote.OutcomeRestoreFailed:
		return exitRestoreFailed
	case promote.OutcomeBadInput:
		return exitBadInput
	case promote.OutcomeFailed:
		return exitFailed
	}
	var re *promote.RestoreError
	switch {
	case errors.As(err, &re):
		return exitRestoreFailed
	case promote.IsInput(err):
		return exitBadInput
	case err != nil:
		return exitFailed
	}
	return exitOK
}

// flags are the command-line overrides of the environment.
func flags(cmd string, cfg *config.Config, toRevision *string) *flag.FlagSet {
	fs := flag.NewFlagSet("ferry "+cmd, flag.ContinueOnError)
	fs.StringVar(&cfg.Source, "source", cfg.Source, "source address (FERRY_SOURCE)")
	fs.StringVar(&cfg.Targets, "targets", cfg.Targets, "target addresses, space-separated (FERRY_TARGETS)")
	fs.StringVar(&cfg.Output, "output", cfg.Output, "report format: text or json (FERRY_OUTPUT)")
	fs.StringVar(&cfg.Output, "o", cfg.Output, "short for --output")
	fs.DurationVar(&cfg.Timeout, "timeout", cfg.Timeout, "verify timeout per target (FERRY_TIMEOUT)")
	fs.IntVar(&cfg.Parallelism, "parallelism", cfg.Parallelism, "targets worked on at once (FERRY_PARALLELISM)")
	fs.StringVar(toRevision, "to-revision", *toRevision, "rollback: the Deployment revision or Heroku release version (v42) to go back to (FERRY_TO_REVISION); default the previous one")
	return fs
}

func lookup(environ []string, name string) string {
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && k == name {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func indent(s string) string {
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ")
}

// varsMarkdown is the README's table of settings.
func varsMarkdown() string {
	var b strings.Builder
	b.WriteString("| variable | action input | default | description |\n|---|---|---|---|\n")
	for _, v := range config.Vars() {
		name := "`" + v.Name + "`"
		if v.Alias != "" {
			name += " (or `" + v.Alias + "`)"
		}
		input := "–"
		if v.Input != "" {
			input = "`" + v.Input + "`"
		}
		def := "–"
		if v.Default != "" {
			def = "`" + v.Default + "`"
		}
		desc := v.Description
		if v.Secret {
			desc = "**Secret.** " + desc
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", name, input, def, strings.ReplaceAll(desc, "|", "\\|"))
	}
	return b.String()
}

func printVars(w io.Writer) {
	for _, v := range config.Vars() {
		def := v.Default
		if def == "" {
			def = "(none)"
		}
		secret := ""
		if v.Secret {
			secret = " [secret]"
		}
		fmt.Fprintf(w, "%s (input %q, default %s)%s\n    %s\n", v.Name, v.Input, def, secret, v.Description)
	}
}

// commandHelp is `ferry COMMAND -h`.
var commandHelp = map[string]string{
	"promote": `ferry promote: resolve FERRY_SOURCE to one digest, snapshot every target in
FERRY_TARGETS, release the digest to those that need it, verify them, and
restore every changed target when any fails.

Example:
  FERRY_SOURCE='k8s:shop/web?context=staging' \
  FERRY_TARGETS='k8s:shop/web?context=prod-eu heroku:shop-prod/web,worker?health=/healthz' \
  HEROKU_API_KEY=... ferry promote --output json
`,
	"plan": `ferry plan: resolve FERRY_SOURCE, snapshot every target and say what promote
would change. Changes nothing.

Example:
  FERRY_SOURCE='k8s:shop/web?context=staging' FERRY_TARGETS='k8s:shop/web?context=prod-eu' ferry plan
`,
	"status": `ferry status: what every target in FERRY_TARGETS runs now. Changes nothing.

Example:
  FERRY_TARGETS='k8s:shop/web?context=prod-eu heroku:shop-prod/web' ferry status
`,
	"rollback": `ferry rollback: put every target in FERRY_TARGETS back to its previous
Deployment revision or Heroku release, or to --to-revision (7, or v42 on
Heroku), and wait until that runs.

Example:
  FERRY_TARGETS='k8s:shop/web?context=prod-eu' ferry rollback --to-revision 7
`,
}
