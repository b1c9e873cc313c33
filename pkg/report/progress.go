package report

import (
	"fmt"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/pkg/image"
)

// progressEvery is how often a copy's progress is written as a plain line
// when the output is not a terminal (CI logs).
const progressEvery = 5 * time.Second

// progress remembers what was last shown for one target's copy.
type progress struct {
	start, shown time.Time
}

// Progress shows how far a copy has come: on a terminal a bar redrawn in
// place, elsewhere a plain line every few seconds and one at the end, with
// no control characters.
func (l *LineLogger) Progress(target string, p image.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.progress == nil {
		l.progress = map[string]*progress{}
	}
	now := time.Now()
	st, ok := l.progress[target]
	if !ok {
		st = &progress{start: now}
		l.progress[target] = st
	}
	done := p.Total > 0 && p.Complete >= p.Total
	if !l.TTY && !done && now.Sub(st.shown) < progressEvery {
		return
	}
	st.shown = now
	line := l.scrub.String(target) + ": " + progressLine(p, now.Sub(st.start), l.TTY)
	if l.TTY {
		fmt.Fprintf(l.w, "\r\033[K%s", line)
		l.bar = !done
		if done {
			fmt.Fprintln(l.w)
		}
		return
	}
	fmt.Fprintln(l.w, line)
}

// progressLine renders p: bytes, layers, rate, and a bar on terminals.
func progressLine(p image.Progress, elapsed time.Duration, bar bool) string {
	pct := 100.0
	if p.Total > 0 {
		pct = 100 * float64(p.Complete) / float64(p.Total)
	}
	rate := ""
	if s := elapsed.Seconds(); s > 0.2 {
		rate = fmt.Sprintf(", %s/s", bytesHuman(int64(float64(p.Complete)/s)))
	}
	text := fmt.Sprintf("copying: %3.0f%% %s of %s, %d/%d layers%s", pct, bytesHuman(p.Complete), bytesHuman(p.Total), p.LayersDone, p.Layers, rate)
	if !bar {
		return text
	}
	const width = 24
	n := int(pct / 100 * width)
	n = max(0, min(n, width))
	return "[" + strings.Repeat("=", n) + strings.Repeat(" ", width-n) + "] " + text
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
