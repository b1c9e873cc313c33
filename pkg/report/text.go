package report

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// LineLogger writes one line per event: "TARGET: message", or
// "ferry: message" for the run as a whole. It is safe for concurrent use.
type LineLogger struct {
	mu    sync.Mutex
	w     io.Writer
	scrub redact.Redactor
	// Timestamps prefixes each line with the time (for terminals; CI
	// systems stamp lines themselves).
	Timestamps bool
	// TTY is true when w is a terminal: copy progress is then a bar
	// redrawn in place instead of a line every few seconds.
	TTY bool

	progress map[string]*progress
	bar      bool // a progress bar is on the current line
}

// NewLineLogger returns a LineLogger writing to w.
func NewLineLogger(w io.Writer, scrub redact.Redactor) *LineLogger {
	return &LineLogger{w: w, scrub: scrub}
}

// Logf implements promote.Logger.
func (l *LineLogger) Logf(target, format string, args ...any) {
	msg := l.scrub.String(fmt.Sprintf(format, args...))
	if target == "" {
		target = "ferry"
	}
	// One event, one line: indent continuation lines.
	msg = strings.ReplaceAll(strings.TrimRight(msg, "\n"), "\n", "\n    ")
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.bar {
		// Finish the bar's line; the next redraw starts a new one.
		fmt.Fprintln(l.w)
		l.bar = false
	}
	if l.Timestamps {
		fmt.Fprintf(l.w, "%s ", time.Now().Format("15:04:05"))
	}
	fmt.Fprintf(l.w, "%s: %s\n", l.scrub.String(target), msg)
}

// Text writes a human summary of r.
func Text(w io.Writer, r *promote.Report, scrub redact.Redactor) error {
	var b strings.Builder
	switch {
	case r.Image != "":
		fmt.Fprintf(&b, "%s %s: %s from %s\n", r.Command, r.Outcome, r.Image, r.Source)
	case len(r.Images) > 0:
		fmt.Fprintf(&b, "%s %s from %s\n", r.Command, r.Outcome, r.Source)
	default:
		fmt.Fprintf(&b, "%s %s\n", r.Command, r.Outcome)
	}
	for _, si := range r.Images {
		fmt.Fprintf(&b, "source container %s runs %s\n", si.Container, si.Image)
	}
	verificationText(&b, r)
	if len(r.Targets) > 0 {
		tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "TARGET\tSTATUS\tBEFORE\tAFTER\tTIME")
		for _, t := range r.Targets {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Target, t.Status, describe(t.Before), describe(t.After), total(t.Durations))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if err := textWaves(&b, r); err != nil {
		return err
	}
	for _, t := range r.Targets {
		for _, c := range t.Containers {
			fmt.Fprintf(&b, "%s: container %s takes %s (source container %s)\n", t.Target, c.Container, c.Image, c.From)
		}
	}
	for _, t := range r.Targets {
		if t.Recovery != nil {
			fmt.Fprintf(&b, "%s: recovery: %s\n", t.Target, t.Recovery)
		}
		if t.Error != "" {
			fmt.Fprintf(&b, "%s: %s\n", t.Target, t.Error)
		}
		if t.Restore != "" {
			fmt.Fprintf(&b, "%s: RESTORE FAILED, needs a human: %s\n", t.Target, t.Restore)
		}
	}
	if e := runError(r); e != "" {
		fmt.Fprintf(&b, "error: %s\n", e)
	}
	_, err := io.WriteString(w, scrub.String(b.String()))
	return err
}

// runError is the run's error when no target's line already says it: a
// failure that is one target's error is shown once, with its target.
func runError(r *promote.Report) string {
	for _, t := range r.Targets {
		if t.Error != "" && r.Error == t.Target+": "+t.Error {
			return ""
		}
	}
	return r.Error
}

func describe(s *promote.Seen) string {
	if s == nil {
		return "-"
	}
	if s.Revision == "" {
		return s.Image
	}
	return fmt.Sprintf("%s (rev %s)", s.Image, s.Revision)
}

func total(d promote.StepDurations) string {
	return d.Total().Round(100 * time.Millisecond).String()
}
