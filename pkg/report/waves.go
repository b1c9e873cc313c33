package report

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/pkg/promote"
)

// textWaves writes each wave, its soak and every measurement of its gates.
func textWaves(b *strings.Builder, r *promote.Report) error {
	for _, w := range r.Waves {
		fmt.Fprintf(b, "wave %d %s%s: %s\n", w.Wave, w.Status, soaked(w), strings.Join(w.Targets, " "))
		for _, g := range w.Gates {
			fmt.Fprintf(b, "  gate %s: %s", g.Gate, g.Phase)
			if g.Message != "" {
				fmt.Fprintf(b, " (%s)", g.Message)
			}
			b.WriteString("\n")
			if len(g.Measurements) == 0 {
				continue
			}
			tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "    #\tAT\tRESULT\tPHASE\tCONDITION / ERROR")
			for i, m := range g.Measurements {
				fmt.Fprintf(tw, "    %d\t%s\t%s\t%s\t%s\n", i+1, m.At.Format(time.TimeOnly), orDash(m.Value), m.Phase, orDash(why(m)))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// mdWaves writes each wave as a heading and its measurements as a table.
func mdWaves(b *strings.Builder, r *promote.Report) {
	for _, w := range r.Waves {
		fmt.Fprintf(b, "#### Wave %d: %s%s\n\n", w.Wave, w.Status, soaked(w))
		fmt.Fprintf(b, "Targets: %s\n\n", "`"+strings.Join(w.Targets, "`, `")+"`")
		if len(w.Gates) == 0 {
			continue
		}
		b.WriteString("| gate | # | at | result | phase | condition / error |\n|---|---|---|---|---|---|\n")
		for _, g := range w.Gates {
			if len(g.Measurements) == 0 {
				fmt.Fprintf(b, "| `%s` | – | – | – | %s | %s |\n", g.Gate, g.Phase, mdEscape(orDash(g.Message)))
			}
			for i, m := range g.Measurements {
				fmt.Fprintf(b, "| `%s` | %d | %s | `%s` | %s | %s |\n", g.Gate, i+1, m.At.Format(time.TimeOnly), mdEscape(orDash(m.Value)), m.Phase, mdEscape(orDash(why(m))))
			}
		}
		b.WriteString("\n")
		for _, g := range w.Gates {
			fmt.Fprintf(b, "- gate `%s`: **%s**", g.Gate, g.Phase)
			if g.Message != "" {
				fmt.Fprintf(b, " — %s", mdEscape(g.Message))
			}
			b.WriteString("\n")
		}
		b.WriteString("\n")
	}
}

func soaked(w promote.WaveReport) string {
	if w.Soak == 0 {
		return ""
	}
	return fmt.Sprintf(" (soaked %s)", time.Duration(w.Soak).Round(100*time.Millisecond))
}

func why(m promote.Measurement) string {
	if m.Error != "" {
		return m.Error
	}
	return m.Condition
}
