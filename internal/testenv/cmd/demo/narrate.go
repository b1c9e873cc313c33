package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ANSI styles, used only on a terminal that wants them.
const (
	bold  = "\x1b[1m"
	green = "\x1b[32m"
	red   = "\x1b[31m"
	dim   = "\x1b[2m"
	reset = "\x1b[0m"
)

var useColor = colorful(os.Stdout)

func colorful(f *os.File) bool {
	if os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

func style(s, text string) string {
	if !useColor {
		return text
	}
	return s + text + reset
}

// verdict is the outcome of one expectation.
type verdict int

const (
	passed verdict = iota
	failed
	skipped
)

// result is one line of the summary.
type result struct {
	step    string // "1", "2", ...
	what    string // "ferry promote", "production runs ..."
	exit    string // "exit 1 (want 1)", or "" for checks
	verdict verdict
	note    string // why it failed or was skipped
}

// narrator prints the demo's own lines and collects the results.
type narrator struct {
	mu      sync.Mutex
	w       io.Writer
	step    string
	results []result
}

func (n *narrator) printf(format string, args ...any) {
	n.mu.Lock()
	defer n.mu.Unlock()
	// A terminal that went away is no reason to stop cleaning up.
	_, _ = fmt.Fprintf(n.w, format, args...)
}

// section starts a numbered step ("1. promote ...") or a part without a
// number ("sandbox").
func (n *narrator) section(step, title string) {
	n.step = step
	if step == "" {
		n.step = "-"
	}
	head := title
	if step != "" {
		head = step + ". " + title
	}
	n.printf("\n%s\n", style(bold, "==> "+head))
}

// info is a narration line.
func (n *narrator) info(format string, args ...any) {
	n.printf("    %s\n", fmt.Sprintf(format, args...))
}

// blank is an empty line.
func (n *narrator) blank() { n.printf("\n") }

// env shows a variable ferry is given.
func (n *narrator) env(name, value string) {
	n.printf("    %s\n", style(dim, name+"="+shellQuote(value)))
}

// exit records a ferry run: its exit code against the one expected.
func (n *narrator) exit(cmd string, r run, want int, runErr error) bool {
	res := result{step: n.step, what: "ferry " + cmd, exit: fmt.Sprintf("exit %d (want %d)", r.code, want)}
	switch {
	case runErr != nil:
		res.verdict, res.note = failed, runErr.Error()
	case r.code != want:
		res.verdict, res.note = failed, fmt.Sprintf("ferry %s exited %d, expected %d", cmd, r.code, want)
	}
	n.record(res)
	return res.verdict == passed
}

// check records something the demo verified itself.
func (n *narrator) check(what string, err error) bool {
	res := result{step: n.step, what: what}
	if err != nil {
		res.verdict, res.note = failed, err.Error()
	}
	n.record(res)
	return err == nil
}

// skip records a part that did not run, and why.
func (n *narrator) skip(what, why string) {
	n.record(result{step: n.step, what: what, verdict: skipped, note: why})
}

func (n *narrator) record(res result) {
	n.mu.Lock()
	n.results = append(n.results, res)
	n.mu.Unlock()
	switch res.verdict {
	case passed:
		line := "ok: " + res.what
		if res.exit != "" {
			line = fmt.Sprintf("ok: %s: %s", res.what, res.exit)
		}
		n.printf("  %s\n", style(green, line))
	case failed:
		msg := strings.ReplaceAll(res.note, "\n", "\n    ")
		n.printf("  %s\n", style(red, "FAILED: "+res.what+": "+msg))
	case skipped:
		n.printf("  %s\n", style(bold, "SKIPPED: "+res.what+": "+res.note))
	}
}

// failures counts the failed results.
func (n *narrator) failures() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := 0
	for _, r := range n.results {
		if r.verdict == failed {
			k++
		}
	}
	return k
}

// summary prints every result, one line each.
func (n *narrator) summary(elapsed time.Duration, interrupted error) {
	n.section("", "summary")
	n.mu.Lock()
	tw := tabwriter.NewWriter(n.w, 0, 4, 2, ' ', 0)
	for _, r := range n.results {
		mark := map[verdict]string{passed: "ok", failed: "FAILED", skipped: "skipped"}[r.verdict]
		note := r.note
		if r.verdict == failed {
			// The whole message is above.
			note, _, _ = strings.Cut(note, "\n")
			if len(note) > 100 {
				note = note[:100] + "..."
			}
		}
		line := fmt.Sprintf("    %s\t%s\t%s\t%s", r.step, r.what, r.exit, mark)
		if note != "" {
			line += "\t" + note
		}
		_, _ = fmt.Fprintln(tw, line)
	}
	_ = tw.Flush()
	n.mu.Unlock()
	fails := n.failures()
	skips := 0
	n.mu.Lock()
	for _, r := range n.results {
		if r.verdict == skipped {
			skips++
		}
	}
	n.mu.Unlock()
	passedLine := "demo passed in %s: ferry promoted good images and put production back by itself after bad ones"
	if skips > 0 {
		passedLine = "demo passed in %s, with parts skipped (see above): ferry promoted good images and put production back by itself after bad ones"
	}
	switch {
	case interrupted != nil:
		n.printf("\n%s\n", style(red+bold, fmt.Sprintf("demo interrupted after %s (%v)", since0(elapsed), interrupted)))
	case fails > 0:
		n.printf("\n%s\n", style(red+bold, fmt.Sprintf("demo FAILED: %d expectation(s) not met, in %s", fails, since0(elapsed))))
	default:
		n.printf("\n%s\n", style(green+bold, fmt.Sprintf(passedLine, since0(elapsed))))
	}
}

// shellQuote quotes v for a POSIX shell when it needs it, so that the
// lines shown can be pasted.
func shellQuote(v string) string {
	if v != "" && strings.IndexFunc(v, func(r rune) bool {
		safe := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./:@,+=", r)
		return !safe
	}) < 0 {
		return v
	}
	return "'" + strings.ReplaceAll(v, "'", `'\''`) + "'"
}

// short abbreviates a digest the way docker does: sha256 and 12 hex digits.
func short(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}

func since(t time.Time) string { return since0(time.Since(t)) }

func since0(d time.Duration) string { return d.Round(100 * time.Millisecond).String() }
