package main

import (
	"os"
	"strings"
	"testing"
)

// TestReadmeSettings fails when README's settings table no longer matches
// the Config struct. Regenerate it with: go run ./cmd/ferry env --markdown
func TestReadmeSettings(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	const begin, end = "<!-- BEGIN SETTINGS", "<!-- END SETTINGS -->"
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("README.md lacks the %q ... %q markers", begin, end)
	}
	got := s[strings.Index(s[i:], "\n")+i+1 : j]
	if want := varsMarkdown(); got != want {
		t.Fatalf("README.md's settings table is stale; replace it with the output of `go run ./cmd/ferry env --markdown`:\n%s", want)
	}
}
