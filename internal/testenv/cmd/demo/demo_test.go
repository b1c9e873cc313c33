package main

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestIndenter(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		want   string
	}{
		{"one line", []string{"a\n"}, "  a\n"},
		{"two lines in one write", []string{"a\nb\n"}, "  a\n  b\n"},
		{"a line split across writes", []string{"ab", "c\nd", "e\n"}, "  abc\n  de\n"},
		{"empty line", []string{"\n"}, "  \n"},
		{"no final newline is ended by flush", []string{"a"}, "  a\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, captured bytes.Buffer
			in := &indenter{w: &out, prefix: "  ", capture: &captured}
			for _, w := range tt.writes {
				n, err := in.Write([]byte(w))
				if err != nil || n != len(w) {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			in.flush()
			if out.String() != tt.want {
				t.Errorf("output %q, want %q", out.String(), tt.want)
			}
			if got := captured.String(); got != strings.Join(tt.writes, "") {
				t.Errorf("captured %q, want the writes verbatim", got)
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"127.0.0.1:5000/shop/web:1.4.3", "127.0.0.1:5000/shop/web:1.4.3"},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
		{"k8s:shop/web?context=staging", "'k8s:shop/web?context=staging'"},
		{"a b", "'a b'"},
		{"it's", `'it'\''s'`},
		{"", "''"},
	}
	for _, tt := range tests {
		if got := shellQuote(tt.in); got != tt.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestNarratorVerdicts(t *testing.T) {
	tests := []struct {
		name     string
		record   func(n *narrator)
		failures int
		output   string
	}{
		{"expected exit", func(n *narrator) { n.exit("promote", run{code: 1}, 1, nil) }, 0, "ok: ferry promote: exit 1 (want 1)"},
		{"unexpected exit", func(n *narrator) { n.exit("promote", run{code: 2}, 0, nil) }, 1, "FAILED: ferry promote: ferry promote exited 2, expected 0"},
		{"ferry stopped", func(n *narrator) { n.exit("promote", run{code: 1}, 1, errors.New("stopped")) }, 1, "FAILED: ferry promote: stopped"},
		{"failed check", func(n *narrator) { n.check("production runs 1.4.2", errors.New("runs 1.5.0")) }, 1, "FAILED: production runs 1.4.2: runs 1.5.0"},
		{"skip is no failure", func(n *narrator) { n.skip("heroku", notWired) }, 0, "SKIPPED: heroku: not wired yet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			n := &narrator{w: &out}
			tt.record(n)
			if got := n.failures(); got != tt.failures {
				t.Errorf("failures() = %d, want %d", got, tt.failures)
			}
			if !strings.Contains(out.String(), tt.output) {
				t.Errorf("output %q does not contain %q", out.String(), tt.output)
			}
		})
	}
}
