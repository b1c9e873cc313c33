package frontends

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/pkg/config"
)

const readmeFile = "../../README.md"

// yamlBlock is one ```yaml block of the README and the heading (### …) it
// sits under.
type yamlBlock struct {
	heading, text string
}

var fenceRe = regexp.MustCompile("(?ms)^```yaml\n(.*?)^```$")

func readmeYAML(t *testing.T) []yamlBlock {
	t.Helper()
	b, err := os.ReadFile(readmeFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	var out []yamlBlock
	for _, m := range fenceRe.FindAllStringSubmatchIndex(s, -1) {
		heading := ""
		if h := strings.LastIndex(s[:m[0]], "\n### "); h >= 0 {
			heading = strings.TrimSpace(strings.SplitN(s[h+5:], "\n", 2)[0])
		}
		out = append(out, yamlBlock{heading: heading, text: s[m[2]:m[3]]})
	}
	return out
}

// workflowStep is a step of a GitHub workflow, as far as the checks go.
type workflowStep struct {
	Uses string            `json:"uses"`
	With map[string]string `json:"with"`
	Env  map[string]string `json:"env"`
}

type workflowJob struct {
	Permissions any            `json:"permissions"`
	Steps       []workflowStep `json:"steps"`
}

type workflow struct {
	Permissions any                    `json:"permissions"`
	Jobs        map[string]workflowJob `json:"jobs"`
}

// federation are the inputs with which ferry asks the runtime for the
// job's OIDC token.
var federation = []string{"aws-role-arn", "gcp-workload-identity-provider", "azure-client-id"}

var pinnedUsesRe = regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*([^\s@]+)@(\S+)`)

// TestReadmeRecipes holds the README's GitHub workflows and CircleCI
// configurations to what they use: the action's inputs, the orb's jobs and
// commands (and CircleCI's parser), the permission federation needs,
// secrets from secrets, other actions pinned by commit; and every cloud's
// section has both.
func TestReadmeRecipes(t *testing.T) {
	a, err := LoadAction(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	o := packed(t)
	examples := map[string]any{}
	sections := map[string][2]int{} // heading → workflows, CircleCI configs
	for i, b := range readmeYAML(t) {
		counts := sections[b.heading]
		switch {
		case strings.Contains(b.text, "ferry-dev/ferry@") && strings.Contains(b.text, "\norbs:"):
			var usage map[string]any
			if err := yaml.Unmarshal([]byte(b.text), &usage); err != nil {
				t.Fatalf("README, %s: a CircleCI configuration that is not YAML: %v", b.heading, err)
			}
			examples[fmt.Sprintf("readme-%d", i)] = map[string]any{"description": "README, " + b.heading, "usage": usage}
			checkOrbPinned(t, b)
			counts[1]++
		case strings.Contains(b.text, "uses: ferry-dev/ferry@"):
			checkWorkflowBlock(t, a, b)
			counts[0]++
		}
		sections[b.heading] = counts
	}
	for _, h := range []string{"EKS and ECR", "GKE and Artifact Registry", "AKS and ACR", "Any cluster, with ghcr.io or Docker Hub"} {
		if c := sections[h]; c[0] == 0 || c[1] == 0 {
			t.Errorf("README, %s: %d GitHub workflows and %d CircleCI configurations, want both", h, c[0], c[1])
		}
	}

	// The CircleCI configurations, as examples of the orb: what Validate
	// and CircleCI's parser check of the orb's own examples.
	withReadme := Orb{}
	for k, v := range o {
		withReadme[k] = v
	}
	withReadme["examples"] = examples
	if err := withReadme.Validate(); err != nil {
		t.Errorf("the README's CircleCI configurations:\n%v", err)
	}
	if err := CheckWithCircleCI(t.Context(), "../..", withReadme); err != nil {
		t.Errorf("CircleCI's parser on the README's CircleCI configurations:\n%v", err)
	}
}

// checkOrbPinned: a configuration names one release of the orb.
func checkOrbPinned(t *testing.T, b yamlBlock) {
	t.Helper()
	if !regexp.MustCompile(`ferry-dev/ferry@\d+\.\d+\.\d+\n`).MatchString(b.text) {
		t.Errorf("README, %s: the orb is not pinned to a release (ferry-dev/ferry@X.Y.Z):\n%s", b.heading, b.text)
	}
}

// checkWorkflowBlock checks a workflow, or a list of steps.
func checkWorkflowBlock(t *testing.T, a Action, b yamlBlock) {
	t.Helper()
	for _, m := range pinnedUsesRe.FindAllStringSubmatch(b.text, -1) {
		if m[1] != "ferry-dev/ferry" && !regexp.MustCompile(`^[0-9a-f]{40}$`).MatchString(m[2]) {
			t.Errorf("README, %s: %s@%s is not pinned by commit", b.heading, m[1], m[2])
		}
	}
	var wf workflow
	if strings.HasPrefix(strings.TrimSpace(b.text), "-") {
		var steps []workflowStep
		if err := yaml.Unmarshal([]byte(b.text), &steps); err != nil {
			t.Fatalf("README, %s: steps that are not YAML: %v", b.heading, err)
		}
		wf.Jobs = map[string]workflowJob{"snippet": {Steps: steps, Permissions: "snippet"}}
	} else {
		// YAML 1.1 reads the key on as true.
		var raw map[string]any
		err := yaml.Unmarshal([]byte(b.text), &raw)
		if err == nil {
			err = yaml.Unmarshal([]byte(b.text), &wf)
		}
		if _, on := raw["true"]; err != nil || !on || len(wf.Jobs) == 0 {
			t.Fatalf("README, %s: a workflow that is not one (%v):\n%s", b.heading, err, b.text)
		}
	}
	for name, j := range wf.Jobs {
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, "ferry-dev/ferry@") {
				checkFerryStep(t, a, b.heading+", job "+name, s, grantsIDToken(wf.Permissions, j.Permissions))
			}
		}
	}
}

// grantsIDToken reports whether a job may ask for an OIDC token ("snippet"
// for a list of steps, which says nothing of permissions).
func grantsIDToken(workflowPerms, jobPerms any) bool {
	perms := jobPerms
	if perms == nil {
		perms = workflowPerms
	}
	if perms == "snippet" {
		return true
	}
	m, _ := perms.(map[string]any)
	return m["id-token"] == "write"
}

func checkFerryStep(t *testing.T, a Action, at string, s workflowStep, idToken bool) {
	t.Helper()
	if _, err := a.Env(s.With); err != nil {
		t.Errorf("README, %s: %v", at, err)
	}
	for _, in := range federation {
		_, federated := s.With[in]
		if in == "azure-client-id" && s.With["azure-client-secret"] != "" {
			federated = false // a client secret signs in instead
		}
		if federated && !idToken {
			t.Errorf("README, %s: %s without permissions: id-token: write", at, in)
		}
	}
	for _, v := range config.Vars() {
		if val, ok := s.With[v.Input]; ok && v.Secret && !strings.HasPrefix(val, "${{ secrets.") && val != "${{ github.token }}" {
			t.Errorf("README, %s: the secret input %s is %q, not a secret", at, v.Input, val)
		}
	}
	for k, val := range s.Env {
		if !strings.HasPrefix(k, config.AppKeyPrefix) || !strings.HasPrefix(val, "${{ secrets.") {
			t.Errorf("README, %s: env %s=%q; ferry's settings are inputs, only an app's Heroku key (a secret) goes in env", at, k, val)
		}
	}
}
