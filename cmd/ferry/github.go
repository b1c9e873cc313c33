package main

import (
	"io"

	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/report"
)

// github is the GitHub Actions side of a run.
type github struct {
	environ []string
	w       io.Writer
	gh      *report.GitHub
}

func newGitHub(environ []string, w io.Writer) *github {
	return &github{environ: environ, w: w}
}

func (g *github) getenv(k string) string { return lookup(g.environ, k) }

func (g *github) mask(secrets []string) {
	g.gh = report.NewGitHub(g.getenv, g.w, report.NewScrubber(secrets...))
	g.gh.Mask(secrets)
}

func (g *github) logger(next promote.Logger) promote.Logger { return next }

func (g *github) write(r *promote.Report, _ report.Scrubber) error { return g.gh.Write(r) }
