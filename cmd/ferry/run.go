package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
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
  ferry recover     finish what an interrupted promotion left on each target; changes nothing else
  ferry env         list every setting with its variable, default and description
  ferry version     print the version

Settings come from the environment: FERRY_* (INPUT_* in GitHub Actions), plus
KUBECONFIG, HEROKU_API_KEY and DOCKER_CONFIG. Flags override the environment;
ferry COMMAND -h lists a command's flags.

Examples:
  FERRY_SOURCE='k8s:shop/web?context=staging' \
  FERRY_TARGETS='k8s:shop/web?context=prod-eu k8s:shop/web?context=prod-us' \
    ferry promote

  FERRY_TARGETS='k8s:shop/web?context=prod-eu' ferry rollback --to-revision 7

Exit codes: 0 promoted, rolled back or nothing to do; 1 failed and every changed
target was restored; 2 bad input, nothing changed; 3 a target could not be
restored.
`

// run is ferry without the process around it: it reads args and environ,
// writes to stdout/stderr, and returns the exit code. Every way a command
// ends is reported the same way: the report on stdout, the step's outputs,
// summary and annotation in GitHub Actions, and the exit code.
func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	settings, err := config.Load(environ)
	if err != nil {
		fmt.Fprintf(stderr, "ferry: %v\n", err)
		return exitBadInput
	}
	cmd, args, code, done := command(args, settings, stdout, stderr)
	if done {
		return code
	}
	out := newOutput(settings, stdout, stderr) // masks come before any other output
	fs := flags(cmd, &settings)
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			commandUsage(stdout, cmd)
			return exitOK
		}
		return out.finish(cmd, nil, promote.Input(fmt.Errorf("%w; ferry %s -h lists its flags", err, cmd)))
	}
	out.setFormat(settings.Output) // a flag may have set it
	if fs.NArg() > 0 {
		return out.finish(cmd, nil, promote.Input(fmt.Errorf("unexpected argument %q; settings come from FERRY_* variables or flags (ferry %s -h)", fs.Arg(0), cmd)))
	}
	cfg, err := settings.Check(cmd)
	if err != nil {
		return out.finish(cmd, nil, promote.Input(fmt.Errorf("bad configuration, nothing was changed:\n%s", indent(err.Error()))))
	}
	a, err := newApp(ctx, cfg, out)
	if err != nil {
		return out.finish(cmd, nil, err)
	}
	r, err := a.do(ctx)
	return out.finish(cmd, r, err)
}

// command finds the command in args (or, without one, in FERRY_COMMAND,
// and in GitHub Actions promote) and handles those that need no settings:
// help, version and env. done is true when the command was one of those,
// and code is then the exit code.
func command(args []string, s config.Settings, stdout, stderr io.Writer) (cmd string, rest []string, code int, done bool) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	if len(args) > 0 && cmd == "" {
		switch args[0] {
		case "-h", "-help", "--help":
			cmd, args = "help", args[1:]
		case "-version", "--version":
			cmd, args = "version", args[1:]
		}
	}
	if cmd == "" {
		cmd = s.Command
	}
	if cmd == "" && s.Mode == config.ModeGitHub {
		cmd = "promote" // the action's default
	}
	switch cmd {
	case "":
		fmt.Fprint(stderr, usage)
		fmt.Fprintln(stderr, "\nferry: no command given")
		return "", nil, exitBadInput, true
	case "help":
		if len(args) > 0 && commandHelp[args[0]] != "" {
			commandUsage(stdout, args[0])
			return "", nil, exitOK, true
		}
		fmt.Fprint(stdout, usage)
		return "", nil, exitOK, true
	case "version":
		fmt.Fprintln(stdout, versionLine())
		return "", nil, exitOK, true
	case "env":
		if len(args) > 0 && args[0] == "--markdown" {
			fmt.Fprint(stdout, varsMarkdown())
		} else {
			printVars(stdout)
		}
		return "", nil, exitOK, true
	case config.CommandPromote, config.CommandPlan, config.CommandStatus, config.CommandRollback, config.CommandRecover:
		return cmd, args, 0, false
	}
	fmt.Fprintf(stderr, "ferry: unknown command %q: use promote, plan, status, rollback, recover, env or version (ferry help)\n", cmd)
	return "", nil, exitBadInput, true
}

// commandFlags are the flags each command takes.
var commandFlags = map[string][]string{
	config.CommandPromote:  {"source", "targets", "output", "o", "timeout", "parallelism"},
	config.CommandPlan:     {"source", "targets", "output", "o", "parallelism"},
	config.CommandStatus:   {"targets", "output", "o", "parallelism"},
	config.CommandRollback: {"targets", "output", "o", "timeout", "parallelism", "to-revision"},
	config.CommandRecover:  {"targets", "output", "o", "timeout", "parallelism"},
}

// flags are the command-line overrides of the environment that cmd takes.
func flags(cmd string, s *config.Settings) *flag.FlagSet {
	fs := flag.NewFlagSet("ferry "+cmd, flag.ContinueOnError)
	all := flag.NewFlagSet("", flag.ContinueOnError)
	all.StringVar(&s.Source, "source", s.Source, "source address (FERRY_SOURCE)")
	all.StringVar(&s.Targets, "targets", s.Targets, "target addresses, space-separated (FERRY_TARGETS)")
	all.StringVar(&s.Output, "output", s.Output, "report format: text or json (FERRY_OUTPUT)")
	all.StringVar(&s.Output, "o", s.Output, "short for --output")
	all.DurationVar(&s.Timeout, "timeout", s.Timeout, "how long each target may take to roll out and pass its checks (FERRY_TIMEOUT)")
	all.IntVar(&s.Parallelism, "parallelism", s.Parallelism, "targets worked on at once (FERRY_PARALLELISM)")
	all.StringVar(&s.ToRevision, "to-revision", s.ToRevision, "the Deployment revision (7) or Heroku release version (v42) to go back to (FERRY_TO_REVISION); default the one before")
	all.VisitAll(func(f *flag.Flag) {
		if slices.Contains(commandFlags[cmd], f.Name) {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return fs
}

// commandUsage is `ferry COMMAND -h`: what it does and its flags only.
func commandUsage(w io.Writer, cmd string) {
	fmt.Fprintf(w, "%s\nFlags:\n", commandHelp[cmd])
	var s config.Settings
	fs := flags(cmd, &s)
	fs.SetOutput(w)
	fs.PrintDefaults()
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
	"rollback": `ferry rollback: put every target in FERRY_TARGETS back to the revision or
release before the one it runs, or to --to-revision (7, or v42 on Heroku), and
verify it like a promotion; a rollback that fails is restored. A revision that
was rolled away from (by a restore or an earlier rollback) is never "the one
before".

Example:
  FERRY_TARGETS='k8s:shop/web?context=prod-eu' ferry rollback --to-revision 7
`,
	"recover": `ferry recover: take the lock of every target in FERRY_TARGETS and finish what
an interrupted promotion (a killed or cancelled run) left there, as its record
says: a release never proven healthy is restored to the recorded snapshot (or,
with FERRY_RECOVER=verify, verified and kept when healthy); a record whose
release was proven is closed. A target someone else changed since is left
alone: exit 3, naming it. ferry promote does the same before it promotes.

Example:
  FERRY_TARGETS='k8s:shop/web?context=prod-eu heroku:shop-prod/web' ferry recover
`,
}
