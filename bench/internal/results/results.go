package results

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"

	"github.com/ferry-dev/ferry/bench/internal/measure"
)

// Bound is a target: the ferry median, or the ratio ferry/anchor, must not
// exceed Max.
type Bound struct {
	// Text is how results show the bound ("≤ 1.0× crane copy -j 8").
	Text string
	// OnRatio applies Max to the ratio instead of the ferry median.
	OnRatio bool
	Max     float64
}

// Figure is one row of the results. Fields that do not apply are nil.
type Figure struct {
	Name       string   `json:"name"`
	Unit       string   `json:"unit"`
	Ferry      *float64 `json:"ferry"`
	Anchor     *float64 `json:"anchor"`
	AnchorName string   `json:"anchor_name,omitempty"`
	Ratio      *float64 `json:"ratio"`
	Target     string   `json:"target,omitempty"`
	Met        *bool    `json:"met"`
	Min        *float64 `json:"min"`
	Max        *float64 `json:"max"`
	Runs       int      `json:"runs"`
	// Pending says why a figure could not be measured in this run.
	Pending string `json:"pending,omitempty"`
	// Note qualifies the figure (what exactly was measured).
	Note string `json:"note,omitempty"`
}

// New makes a figure from ferry's samples and, when anchorName is not
// empty, the anchor's samples taken in the same run. bound may be nil.
func New(name, unit string, ferry []float64, anchorName string, anchor []float64, bound *Bound) Figure {
	f := Figure{Name: name, Unit: unit}
	s := measure.Summarize(ferry)
	if s.Runs == 0 {
		f.Pending = "no successful run"
		return f
	}
	f.Ferry, f.Min, f.Max, f.Runs = num(s.Median), num(s.Min), num(s.Max), s.Runs
	if anchorName != "" {
		f.AnchorName = anchorName
		if a := measure.Summarize(anchor); a.Runs > 0 {
			f.Anchor = num(a.Median)
			if a.Median != 0 {
				f.Ratio = num(s.Median / a.Median)
			}
		}
	}
	if bound != nil {
		f.Target = bound.Text
		v := f.Ferry
		if bound.OnRatio {
			v = f.Ratio
		}
		if v != nil {
			met := *v <= bound.Max
			f.Met = &met
		}
	}
	return f
}

// Pending is a figure that this run could not measure, and why.
func Pending(name, unit, target, why string) Figure {
	return Figure{Name: name, Unit: unit, Target: target, Pending: why}
}

// WithNote returns f with its note set.
func (f Figure) WithNote(note string) Figure {
	f.Note = note
	return f
}

func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	return &v
}

// WriteJSON writes the figures as a JSON list, indented.
func WriteJSON(w io.Writer, figs []Figure) error {
	if figs == nil {
		figs = []Figure{}
	}
	b, err := json.MarshalIndent(figs, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding results: %w", err)
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the figures as a Markdown table.
func WriteTable(w io.Writer, figs []Figure) error {
	var b strings.Builder
	b.WriteString("| figure | ferry (median) | min – max | runs | anchor (median) | ratio | target | met |\n")
	b.WriteString("|---|---:|---:|---:|---|---:|---|:---:|\n")
	for _, f := range figs {
		if f.Pending != "" {
			fmt.Fprintf(&b, "| %s | pending | | | %s | | %s | – |\n", cell(f.Name), cell(f.Pending), cell(f.Target))
			continue
		}
		anchor := ""
		if f.AnchorName != "" {
			anchor = cell(f.AnchorName) + ": " + Format(f.Anchor, f.Unit)
		}
		ratio := ""
		if f.Ratio != nil {
			ratio = fmt.Sprintf("%.3g×", *f.Ratio)
		}
		met := "–"
		if f.Met != nil {
			met = map[bool]string{true: "yes", false: "**no**"}[*f.Met]
		}
		name := cell(f.Name)
		if f.Note != "" {
			name += " <br><sub>" + cell(f.Note) + "</sub>"
		}
		fmt.Fprintf(&b, "| %s | %s | %s – %s | %d | %s | %s | %s | %s |\n",
			name, Format(f.Ferry, f.Unit), Format(f.Min, f.Unit), Format(f.Max, f.Unit), f.Runs, anchor, ratio, cell(f.Target), met)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Format renders v in unit: seconds and milliseconds with three
// significant digits, bytes as MiB or KiB above 1 KiB, others as %.4g.
func Format(v *float64, unit string) string {
	if v == nil {
		return "n/a"
	}
	x := *v
	switch unit {
	case "s":
		switch {
		case x != 0 && math.Abs(x) < 1:
			return trimFloat(x*1000) + " ms"
		default:
			return trimFloat(x) + " s"
		}
	case "ms":
		return trimFloat(x) + " ms"
	case "bytes":
		switch {
		case math.Abs(x) >= 1<<20:
			return fmt.Sprintf("%.1f MiB", x/(1<<20))
		case math.Abs(x) >= 1<<10:
			return fmt.Sprintf("%.1f KiB", x/(1<<10))
		default:
			return fmt.Sprintf("%.0f B", x)
		}
	case "MB":
		return fmt.Sprintf("%.1f MB", x)
	}
	return fmt.Sprintf("%.4g %s", x, unit)
}

// trimFloat prints three significant digits, without an exponent.
func trimFloat(x float64) string {
	switch a := math.Abs(x); {
	case a >= 100:
		return fmt.Sprintf("%.0f", x)
	case a >= 10:
		return fmt.Sprintf("%.1f", x)
	default:
		return fmt.Sprintf("%.2f", x)
	}
}

func cell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// Merge returns old with each figure of fresh in place of the old figure
// of the same name, and fresh's other figures after them: one scenario
// measured again, merged into the figures of a full run.
func Merge(old, fresh []Figure) []Figure {
	out := append([]Figure(nil), old...)
	for _, f := range fresh {
		replaced := false
		for i := range out {
			if out[i].Name == f.Name {
				out[i], replaced = f, true
				break
			}
		}
		if !replaced {
			out = append(out, f)
		}
	}
	return out
}

// ReadJSON reads what WriteJSON wrote.
func ReadJSON(r io.Reader) ([]Figure, error) {
	var figs []Figure
	if err := json.NewDecoder(r).Decode(&figs); err != nil {
		return nil, fmt.Errorf("reading results: %w", err)
	}
	return figs, nil
}

// ReplaceTable puts table (WriteTable's output) in place of the first
// figure table of a results.md.
func ReplaceTable(md, table string) (string, error) {
	const head = "| figure | ferry (median) |"
	start := strings.Index(md, head)
	if start < 0 {
		return "", fmt.Errorf("results.md has no figure table (a line starting %q)", head)
	}
	end := strings.Index(md[start:], "\n\n")
	if end < 0 {
		end = len(md) - start
	} else {
		end++ // keep the blank line
	}
	return md[:start] + table + md[start+end:], nil
}

// ReplaceSection puts section between the markers of key in md, or
// appends it with its markers when md has none: the part of a results.md
// that one merged scenario owns.
func ReplaceSection(md, key, section string) string {
	begin, end := "<!-- merged: "+key+" -->\n", "<!-- /merged: "+key+" -->\n"
	block := begin + strings.TrimRight(section, "\n") + "\n" + end
	i := strings.Index(md, begin)
	j := strings.Index(md, end)
	if i >= 0 && j > i {
		return md[:i] + block + md[j+len(end):]
	}
	return strings.TrimRight(md, "\n") + "\n\n" + block
}
