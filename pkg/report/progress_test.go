package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/redact"
)

func TestProgressLine(t *testing.T) {
	cases := []struct {
		p       image.Progress
		elapsed time.Duration
		bar     bool
		want    string
	}{
		{image.Progress{Complete: 0, Total: 1 << 20, Layers: 8}, 0, false, "copying:   0% 0 B of 1.0 MiB, 0/8 layers"},
		{image.Progress{Complete: 512 << 10, Total: 1 << 20, LayersDone: 4, Layers: 8}, time.Second, false, "copying:  50% 512.0 KiB of 1.0 MiB, 4/8 layers, 512.0 KiB/s"},
		{image.Progress{Complete: 1 << 30, Total: 1 << 30, LayersDone: 8, Layers: 8}, 4 * time.Second, true, "[========================] copying: 100% 1.0 GiB of 1.0 GiB, 8/8 layers, 256.0 MiB/s"},
		{image.Progress{Complete: 1 << 29, Total: 1 << 30, LayersDone: 4, Layers: 8}, 0, true, "[============            ] copying:  50% 512.0 MiB of 1.0 GiB, 4/8 layers"},
	}
	for _, c := range cases {
		if got := progressLine(c.p, c.elapsed, c.bar); got != c.want {
			t.Errorf("progressLine(%+v) = %q, want %q", c.p, got, c.want)
		}
	}
}

// In CI (no terminal) progress is a plain line, throttled, with the final
// state always shown and no control characters.
func TestProgressWithoutTerminal(t *testing.T) {
	var b bytes.Buffer
	l := NewLineLogger(&b, redact.Secrets{})
	for i := int64(0); i <= 10; i++ {
		l.Progress("heroku:shop/web", image.Progress{Complete: i, Total: 10, LayersDone: int(i), Layers: 10})
	}
	out := b.String()
	if strings.ContainsAny(out, "\r\033") {
		t.Errorf("control characters in CI output: %q", out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "100%") {
		t.Errorf("want the first and the final line only, got %q", lines)
	}
}

func TestProgressOnTerminalRedrawsAndEndsItsLine(t *testing.T) {
	var b bytes.Buffer
	l := NewLineLogger(&b, redact.Secrets{})
	l.TTY = true
	l.Progress("t", image.Progress{Complete: 1, Total: 10, Layers: 1})
	l.Logf("t", "something else")
	l.Progress("t", image.Progress{Complete: 10, Total: 10, LayersDone: 1, Layers: 1})
	out := b.String()
	if !strings.Contains(out, "\r\033[K") || !strings.Contains(out, "\nt: something else\n") || !strings.HasSuffix(out, "1/1 layers\n") {
		t.Errorf("terminal output %q", out)
	}
}
