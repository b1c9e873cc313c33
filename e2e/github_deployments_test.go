package e2e

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/testenv/ghemu"
)

// With github-environment and a token that may write deployments, the
// action records each promotion as a GitHub Deployment of the commit:
// in_progress, then success (the earlier one turning inactive) or failure
// after a restore; the run's URL as log URL, the digest in the payload. A
// token that may not write deployments costs a warning, not the
// promotion; a run refused before any change records none.
func TestGitHubActionRecordsDeployments(t *testing.T) {
	t.Parallel()
	gh, err := ghemu.New()
	if err != nil {
		t.Fatalf("starting the GitHub API emulator: %v", err)
	}
	t.Cleanup(func() { _ = gh.Close() })
	const sha = "c0ffee0000000000000000000000000000000000"
	gh.AddRepo("acme/shop", sha)
	gh.AddToken("deploy-token", "acme/shop", true)
	gh.AddToken("read-token", "acme/shop", false)
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v1")}})
	run := func(image, token string) actionRun {
		return runAction(t, map[string]string{
			"source":             image,
			"targets":            target(pns, "web", prodARN),
			"kubeconfig-data":    b64(kubeconfigData),
			"timeout":            "90s",
			"github-environment": "production",
			"github-token":       token,
		}, env{"GITHUB_API_URL": gh.URL()})
	}
	good := "registry.test/shop@" + fakeDigest(t.Name()+"good")
	bad := "registry.test/shop-crash@" + fakeDigest(t.Name()+"bad")

	if r := run(good, "deploy-token"); r.code != 0 {
		t.Fatalf("good image: want exit 0\n%s", r)
	}
	if r := run(bad, "deploy-token"); r.code != 1 {
		t.Fatalf("crashing image: want exit 1\n%s", r)
	}
	deps := gh.Deployments("acme/shop")
	if len(deps) != 2 {
		t.Fatalf("%d deployments, want 2: %+v", len(deps), deps)
	}
	want := []struct{ image, states string }{{good, "in_progress success"}, {bad, "in_progress failure"}}
	for i, d := range deps {
		var states []string
		for _, s := range d.Statuses {
			states = append(states, s.State)
			if s.LogURL != "https://github.com/acme/shop/actions/runs/4242" {
				t.Errorf("deployment %d, status %s: log_url %q", d.ID, s.State, s.LogURL)
			}
		}
		digest := want[i].image[strings.Index(want[i].image, "@")+1:]
		if d.SHA != sha || d.Environment != "production" || !strings.Contains(string(d.Payload), digest) {
			t.Errorf("deployment %d: sha %s environment %s payload %s", d.ID, d.SHA, d.Environment, d.Payload)
		}
		if got := strings.Join(states, " "); got != want[i].states {
			t.Errorf("deployment of %s: statuses %s, want %s", want[i].image, got, want[i].states)
		}
	}

	// Refused before any change (no such Deployment): nothing to
	// announce, so no GitHub Deployment either.
	refused := runAction(t, map[string]string{
		"source":             good,
		"targets":            target(pns, "nope", prodARN),
		"kubeconfig-data":    b64(kubeconfigData),
		"github-environment": "production",
		"github-token":       "deploy-token",
	}, env{"GITHUB_API_URL": gh.URL()})
	if refused.code != 2 {
		t.Fatalf("a missing target Deployment: want exit 2\n%s", refused)
	}
	if n := len(gh.Deployments("acme/shop")); n != 2 {
		t.Errorf("%d deployments after a run refused as bad input, want 2", n)
	}

	r := run("registry.test/shop@"+fakeDigest(t.Name()+"again"), "read-token")
	if r.code != 0 || !strings.Contains(r.log, "the GitHub Deployment was not recorded") {
		t.Fatalf("a token that may not write deployments: want exit 0 and a warning\n%s", r)
	}
	if n := len(gh.Deployments("acme/shop")); n != 2 {
		t.Errorf("%d deployments after the read-only run, want 2", n)
	}
}
