package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sethvargo/go-githubactions"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// GitHub writes to a GitHub Actions step: masks, outputs, the step summary
// and annotations, through the runner's files and workflow commands.
type GitHub struct {
	a      *githubactions.Action
	getenv func(string) string
	scrub  redact.Redactor
}

// NewGitHub returns a GitHub writer. getenv reads the step's environment
// (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY); workflow commands go to w.
func NewGitHub(getenv func(string) string, w io.Writer, scrub redact.Redactor) *GitHub {
	return &GitHub{a: githubactions.New(githubactions.WithGetenv(getenv), githubactions.WithWriter(w)), getenv: getenv, scrub: scrub}
}

// Mask tells the runner to hide every secret in the job's log. Call it
// before anything else is printed.
func (g *GitHub) Mask(secrets []string) {
	for _, s := range secrets {
		for _, line := range strings.Split(s, "\n") {
			if line = strings.TrimSpace(line); len(line) >= redact.MinSecret {
				g.a.AddMask(line)
			}
		}
	}
}

// Write sets the step's outputs (digest, source-image, source-images, result, error,
// rolled-back, report), appends the summary, and annotates the outcome:
// a notice on success, an error annotation otherwise. It is called for
// every run, whatever way it ended.
func (g *GitHub) Write(r *promote.Report) error {
	js, err := json.Marshal(r)
	if err != nil {
		return err
	}
	// go-githubactions panics when the runner's files are not named
	// (FERRY_MODE=github outside a runner): then there is nowhere to write.
	if g.getenv("GITHUB_OUTPUT") != "" {
		g.a.SetOutput("digest", r.Digest)
		g.a.SetOutput("source-image", r.Image)
		g.a.SetOutput("source-images", sourceImages(r))
		g.a.SetOutput("result", string(r.Outcome))
		g.a.SetOutput("error", g.scrub.String(oneLine(r.Error)))
		g.a.SetOutput("rolled-back", strings.Join(r.RolledBack(), " "))
		g.a.SetOutput("report", g.scrub.String(string(js)))
	}
	if g.getenv("GITHUB_STEP_SUMMARY") != "" {
		g.a.AddStepSummary(g.scrub.String(Summary(r)))
	}
	switch r.Outcome {
	case promote.OutcomePromoted:
		what := r.Image
		if what == "" {
			what = sourceImages(r)
		}
		g.a.Noticef("promoted %s", what)
	case promote.OutcomeRolledBack:
		g.a.Noticef("rolled back %s", strings.Join(r.RolledBack(), ", "))
	case promote.OutcomeFailed, promote.OutcomeBadInput, promote.OutcomeRestoreFailed:
		g.a.Errorf("%s", g.scrub.String(fmt.Sprintf("ferry %s: %s: %s", r.Command, r.Outcome, r.Error)))
	}
	return nil
}

// sourceImages are the images of the source's containers that container
// mappings took, as CONTAINER=IMAGE separated by spaces.
func sourceImages(r *promote.Report) string {
	return strings.Join(r.ImagePairs(), " ")
}

// oneLine joins the lines of s: a step output holds one.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Summary renders r as Markdown for the step summary.
func Summary(r *promote.Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "### ferry %s: %s\n\n", r.Command, r.Outcome)
	if r.Image != "" {
		fmt.Fprintf(&b, "Source `%s` runs `%s`.\n\n", r.Source, r.Image)
	}
	for _, si := range r.Images {
		fmt.Fprintf(&b, "- source container `%s` runs `%s`\n", si.Container, si.Image)
	}
	if len(r.Images) > 0 {
		b.WriteString("\n")
	}
	verificationMarkdown(&b, r)
	if len(r.Targets) > 0 {
		b.WriteString("| target | status | before | after | time |\n|---|---|---|---|---|\n")
		for _, t := range r.Targets {
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s | %s |\n", t.Target, t.Status, mdSnap(t.Before), mdSnap(t.After), total(t.Durations))
		}
		b.WriteString("\n")
	}
	mdWaves(&b, r)
	for _, t := range r.Targets {
		for _, c := range t.Containers {
			fmt.Fprintf(&b, "- `%s`: container `%s` takes `%s` (source container `%s`)\n", t.Target, c.Container, c.Image, c.From)
		}
	}
	for _, t := range r.Targets {
		if t.Recovery != nil {
			fmt.Fprintf(&b, "- `%s`: recovery: %s\n", t.Target, mdEscape(t.Recovery.String()))
		}
		if t.Error != "" {
			fmt.Fprintf(&b, "- `%s`: %s\n", t.Target, mdEscape(t.Error))
		}
		if t.Restore != "" {
			fmt.Fprintf(&b, "- `%s`: **restore failed, needs a human**: %s\n", t.Target, mdEscape(t.Restore))
		}
	}
	if e := runError(r); e != "" {
		fmt.Fprintf(&b, "\n**Error:** %s\n", mdEscape(e))
	}
	return b.String()
}

func mdSnap(s *promote.Seen) string {
	if s == nil {
		return "–"
	}
	if s.Revision == "" {
		return "`" + s.Image + "`"
	}
	return fmt.Sprintf("`%s` (rev %s)", s.Image, s.Revision)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
}
