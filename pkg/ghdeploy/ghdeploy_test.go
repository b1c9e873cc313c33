package ghdeploy

import (
	"context"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/testenv/ghemu"
	"github.com/ferry-dev/ferry/pkg/promote"
)

func TestState(t *testing.T) {
	cases := map[promote.Outcome]string{
		promote.OutcomePromoted:      "success",
		promote.OutcomeUnchanged:     "success",
		promote.OutcomeSuperseded:    "inactive",
		promote.OutcomeFailed:        "failure",
		promote.OutcomeBadInput:      "failure",
		promote.OutcomeRestoreFailed: "error",
	}
	for o, want := range cases {
		if got := State(o); got != want {
			t.Errorf("State(%s) = %s, want %s", o, got, want)
		}
	}
}

func TestStartAndFinish(t *testing.T) {
	e, err := ghemu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sha := strings.Repeat("ab", 20)
	e.AddRepo("acme/shop", sha)
	e.AddToken("write", "acme/shop", true)
	e.AddToken("read", "acme/shop", false)
	o := Options{APIURL: e.URL(), Token: "write", Repo: "acme/shop", Ref: sha, Environment: "production", LogURL: "https://github.com/acme/shop/actions/runs/1"}
	ctx := context.Background()
	d, err := Start(ctx, o, map[string]string{"digest": "sha256:abc"}, strings.Repeat("x", 200))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Set(ctx, State(promote.OutcomePromoted), "promoted"); err != nil {
		t.Fatal(err)
	}
	deps := e.Deployments("acme/shop")
	if len(deps) != 1 || deps[0].Environment != "production" || !strings.Contains(string(deps[0].Payload), "sha256:abc") {
		t.Fatalf("deployments %+v", deps)
	}
	var states []string
	for _, s := range deps[0].Statuses {
		states = append(states, s.State)
		if s.LogURL != o.LogURL {
			t.Errorf("status %s: log_url %q", s.State, s.LogURL)
		}
	}
	if strings.Join(states, " ") != "in_progress success" {
		t.Errorf("statuses %v", states)
	}

	// A second success makes the first one inactive.
	d2, err := Start(ctx, o, nil, "again")
	if err != nil {
		t.Fatal(err)
	}
	if err := d2.Set(ctx, "success", "promoted"); err != nil {
		t.Fatal(err)
	}
	if st := e.Deployments("acme/shop")[0].Statuses; st[len(st)-1].State != "inactive" {
		t.Errorf("the earlier deployment ends %s, want inactive", st[len(st)-1].State)
	}

	for _, bad := range []struct {
		name string
		o    Options
		want string
	}{
		{"read-only token", func() Options { b := o; b.Token = "read"; return b }(), "403"},
		{"unknown token", func() Options { b := o; b.Token = "nope"; return b }(), "401"},
		{"unknown ref", func() Options { b := o; b.Ref = "feature"; return b }(), "No ref found"},
		{"unknown repo", func() Options { b := o; b.Repo = "acme/other"; return b }(), "404"},
	} {
		if _, err := Start(ctx, bad.o, nil, "x"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %s", bad.name, err, bad.want)
		}
	}
}

// A run whose targets all map containers has no one image: the payload
// names each source container's.
func TestAnnouncerPayloadOfAMappedRun(t *testing.T) {
	e, err := ghemu.New()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	sha := strings.Repeat("cd", 20)
	e.AddRepo("acme/shop", sha)
	e.AddToken("write", "acme/shop", true)
	a := &Announcer{Options: Options{APIURL: e.URL(), Token: "write", Repo: "acme/shop", Ref: sha, Environment: "production"},
		Source: "k8s:shop/web?context=staging", Targets: "k8s:shop/web?context=prod&container=app=app,proxy=sidecar", Logger: promote.Discard}
	r := promote.NewReport("promote", []string{"k8s:shop/web?context=prod&container=app=app,proxy=sidecar"})
	r.Images = []promote.SourceImage{{Container: "app", Image: "ghcr.io/acme/shop@sha256:aa"}, {Container: "sidecar", Image: "ghcr.io/acme/proxy@sha256:bb"}}
	a.Start(context.Background(), r)
	deps := e.Deployments("acme/shop")
	if len(deps) != 1 {
		t.Fatalf("deployments %+v", deps)
	}
	p := string(deps[0].Payload)
	if !strings.Contains(p, `"images":"app=ghcr.io/acme/shop@sha256:aa sidecar=ghcr.io/acme/proxy@sha256:bb"`) || strings.Contains(p, `"image":`) {
		t.Errorf("payload %s: want the images and no one image", p)
	}
}
