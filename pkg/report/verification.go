package report

import (
	"fmt"
	"strings"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// verificationText says what the source checks verified, for the text
// summary: one line per check, and one per accepted signature or
// provenance.
func verificationText(b *strings.Builder, r *promote.Report) {
	for _, v := range r.Verifications {
		verdict := "passed"
		if !v.Passed {
			verdict = "FAILED"
		}
		fmt.Fprintf(b, "%s check%s %s: expected %s\n", v.Check, ofImage(v, ""), verdict, v.Expected)
		for _, e := range []*promote.Evidence{v.Signature, v.Provenance} {
			if e != nil {
				fmt.Fprintf(b, "  %s\n", evidenceLine(e))
			}
		}
	}
}

// verificationMarkdown is the same for the step summary.
func verificationMarkdown(b *strings.Builder, r *promote.Report) {
	for _, v := range r.Verifications {
		verdict := "passed"
		if !v.Passed {
			verdict = "**failed**"
		}
		fmt.Fprintf(b, "Source %s check%s %s: expected %s.\n\n", v.Check, ofImage(v, "`"), verdict, mdEscape(v.Expected))
		for _, e := range []*promote.Evidence{v.Signature, v.Provenance} {
			if e != nil {
				fmt.Fprintf(b, "- %s\n", mdEscape(evidenceLine(e)))
			}
		}
		if v.Signature != nil || v.Provenance != nil {
			b.WriteString("\n")
		}
	}
}

// ofImage names the image v checked, when the run checked several.
func ofImage(v promote.Verification, quote string) string {
	if v.Image == "" {
		return ""
	}
	return " of " + quote + v.Image + quote
}

func evidenceLine(e *promote.Evidence) string {
	what := "signature"
	if e.Builder != "" || e.Repository != "" || e.Ref != "" {
		what = "provenance"
	}
	s := fmt.Sprintf("%s (%s, %s)", what, e.Format, e.Where)
	if e.Identity != "" {
		s += fmt.Sprintf(" by %s issued by %s", e.Identity, e.Issuer)
	}
	if e.Key != "" {
		s += " by key " + e.Key
	}
	if e.LogIndex != nil {
		s += fmt.Sprintf(", log index %d", *e.LogIndex)
	}
	if what == "provenance" {
		s += fmt.Sprintf(": builder %s, source %s", orDash(e.Builder), orDash(e.Repository))
		if e.Ref != "" {
			s += " " + e.Ref
		}
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
