package measure

import (
	"context"
	"errors"
	"math"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want Summary
	}{
		{"one", []float64{3}, Summary{3, 3, 3, 1}},
		{"odd", []float64{5, 1, 3}, Summary{3, 1, 5, 3}},
		{"even", []float64{4, 1, 3, 2}, Summary{2.5, 1, 4, 4}},
		{"repeated", []float64{2, 2, 9, 2, 2}, Summary{2, 2, 9, 5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := slices.Clone(tt.in)
			if got := Summarize(tt.in); got != tt.want {
				t.Errorf("Summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
			if !slices.Equal(in, tt.in) {
				t.Errorf("Summarize reordered its input: %v", tt.in)
			}
		})
	}
	if s := Summarize(nil); !math.IsNaN(s.Median) || s.Runs != 0 {
		t.Errorf("Summarize(nil) = %+v, want NaN median and 0 runs", s)
	}
}

func TestRotate(t *testing.T) {
	xs := []string{"a", "b", "c"}
	tests := []struct {
		k    int
		want []string
	}{
		{0, []string{"a", "b", "c"}},
		{1, []string{"b", "c", "a"}},
		{4, []string{"b", "c", "a"}},
		{-1, []string{"c", "a", "b"}},
	}
	for _, tt := range tests {
		if got := Rotate(xs, tt.k); !slices.Equal(got, tt.want) {
			t.Errorf("Rotate(%v, %d) = %v, want %v", xs, tt.k, got, tt.want)
		}
	}
	if !slices.Equal(xs, []string{"a", "b", "c"}) {
		t.Errorf("Rotate changed its input: %v", xs)
	}
}

func TestRunMeasuresTheChild(t *testing.T) {
	// A child that allocates and touches 48 MiB and burns CPU for a while.
	cmd := exec.Command("sh", "-c", `head -c 50331648 /dev/zero | tail -c 50331648 >/dev/null; i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo done`)
	s, err := Run(context.Background(), cmd)
	if err != nil {
		t.Fatal(err)
	}
	if strings.TrimSpace(string(s.Stdout)) != "done" {
		t.Errorf("stdout %q, want done", s.Stdout)
	}
	if s.MaxRSS < 40<<20 {
		t.Errorf("MaxRSS %d bytes, want at least 40 MiB (tail buffers 48 MiB)", s.MaxRSS)
	}
	if s.CPU <= 0 || s.Wall < s.CPU/2 {
		t.Errorf("CPU %s, wall %s: want positive CPU within the wall time of a single-threaded child", s.CPU, s.Wall)
	}
}

// TestRunRSSIsTheChilds guards against the vfork trap: a child started
// straight from a big Go process reports the parent's RSS as its own.
func TestRunRSSIsTheChilds(t *testing.T) {
	ballast := make([]byte, 128<<20)
	for i := range ballast {
		ballast[i] = byte(i)
	}
	s, err := Run(context.Background(), exec.Command("true"))
	if err != nil {
		t.Fatal(err)
	}
	if s.MaxRSS <= 0 || s.MaxRSS > 32<<20 {
		t.Errorf("true reported a peak RSS of %d bytes; want a few MiB, not the test's 128 MiB", s.MaxRSS)
	}
	runtime.KeepAlive(ballast)
}

func TestParseTime(t *testing.T) {
	cpu, rss, err := parseTime([]byte("Command exited with non-zero status 1\n0.52 1.25 0.25 40960\n"))
	if err != nil || cpu != 1500*time.Millisecond || rss != 40960*1024 {
		t.Errorf("parseTime = %s, %d, %v; want 1.5s, 40 MiB", cpu, rss, err)
	}
	if _, _, err := parseTime([]byte("garbage")); err == nil {
		t.Error("parseTime accepted garbage")
	}
}

func TestRunReportsExitAndTimeout(t *testing.T) {
	_, err := Run(context.Background(), exec.Command("sh", "-c", "echo boom >&2; exit 3"))
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 || ee.Stderr != "boom" {
		t.Fatalf("err = %v, want ExitError code 3 quoting stderr", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := Run(ctx, exec.Command("sleep", "10")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Run took %s after its context ended", d)
	}
}
