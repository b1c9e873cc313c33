package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/ferry-dev/ferry/internal/frontends"
)

// orbStep is one run step of an orb job, as run here.
type orbStep struct {
	name           string
	code           int
	stdout, stderr string
}

// runOrbJob runs the built-in steps of an expanded orb job the way
// CircleCI's docker executor does: each run step through the shell, with
// the job's environment and the step's own, in order, the later ones
// skipped after a failure unless they run `when: always`. jobEnv is the
// project's and the context's variables plus CircleCI's own. ferry is
// found on the PATH, as in the orb's image (/ko-app/ferry).
func runOrbJob(t *testing.T, job frontends.Job, jobEnv env) []orbStep {
	t.Helper()
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	var out []orbStep
	failed := false
	for _, s := range job.Steps {
		r, ok := frontends.AsRun(s)
		if !ok {
			t.Fatalf("step %v is not a run step; this runner runs only those", s)
		}
		if (failed && r.When != "always" && r.When != "on_fail") || (!failed && r.When == "on_fail") {
			continue
		}
		e := env{
			"PATH":     filepath.Dir(ferryBin) + ":/usr/bin:/bin",
			"CI":       "true",
			"CIRCLECI": "true",
		}
		for k, v := range jobEnv {
			e[k] = v
		}
		for k, v := range r.Environment {
			e[k] = v
		}
		cmd := exec.Command(sh, "-e", "-c", r.Command)
		cmd.Env = []string{"HOME=" + t.TempDir()}
		for k, v := range e {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		st := orbStep{name: r.Name, stdout: stdout.String(), stderr: stderr.String()}
		if ee, ok := err.(*exec.ExitError); ok {
			st.code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("step %s: %v", r.Name, err)
		}
		t.Logf("step %q: exit %d\n--- stdout\n%s--- stderr\n%s", st.name, st.code, st.stdout, st.stderr)
		failed = failed || st.code != 0
		out = append(out, st)
	}
	return out
}

func packOrb(t *testing.T) frontends.Orb {
	t.Helper()
	o, err := frontends.PackOrb("../orb/src")
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// TestCircleCIOrbPromotes runs the orb's promote job, expanded from the
// packed orb with the parameters a config would give, the secret coming
// from a context variable named by kubeconfig-data-var.
func TestCircleCIOrbPromotes(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v8")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	stepsLog := filepath.Join(t.TempDir(), "steps")

	job, err := packOrb(t).ExpandJob("promote", map[string]any{
		"executor":            map[string]any{"name": "default", "resource-class": "medium"},
		"source":              "k8s:" + sns + "/web?context=staging",
		"targets":             target(pns, "web", prodAt) + "&container=app",
		"kubeconfig-data-var": "PROD_KUBECONFIG",
		"timeout":             "90s",
		"before-promote":      []any{map[string]any{"run": map[string]any{"name": "before", "command": `echo before >> "$STEPS_LOG"`}}},
		"after-promote":       []any{map[string]any{"run": map[string]any{"name": "after", "command": `echo after >> "$STEPS_LOG"`}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	docker, _ := job.Executor["docker"].([]any)
	var executorImage string
	if len(docker) == 1 {
		first, _ := docker[0].(map[string]any)
		executorImage, _ = first["image"].(string)
	}
	if len(docker) != 1 || !strings.HasPrefix(executorImage, "ghcr.io/ferry-dev/ferry:") || job.Executor["resource_class"] != "medium" {
		t.Fatalf("executor %v: want ferry's shell image in the resource class given", job.Executor)
	}
	steps := runOrbJob(t, job, env{
		"PROD_KUBECONFIG":  b64(kubeconfigData), // a context's secret
		"CIRCLE_BUILD_URL": "https://circleci.com/gh/acme/shop/77",
		"CIRCLE_SHA1":      "c0ffee0000000000000000000000000000000000",
		"STEPS_LOG":        stepsLog,
	})
	steps = withoutMarkers(steps)
	if len(steps) != 3 {
		t.Fatalf("ran %d steps, want before, promote, after", len(steps))
	}
	r := steps[1]
	if r.name != "ferry promote" || r.code != 0 {
		t.Fatalf("step %q: exit %d, want ferry promote to exit 0", r.name, r.code)
	}
	if b, err := os.ReadFile(stepsLog); err != nil || string(b) != "before\nafter\n" {
		t.Errorf("before-promote and after-promote ran as %q (%v)", b, err)
	}
	for _, s := range steps {
		assertNoSecrets(t, "step "+s.name, s.stdout+s.stderr, kubeSecrets(t))
		if strings.Contains(s.stdout+s.stderr, "::") {
			t.Errorf("step %s prints GitHub workflow commands outside GitHub Actions", s.name)
		}
	}
	image := "registry.test/shop@" + digest
	if !strings.Contains(r.stdout, "promote promoted: "+image) {
		t.Errorf("the text report does not say promoted %s", image)
	}
	golden(t, "circleci-promote.stdout.golden", normalize(r.stdout, map[string]string{sns: "STAGING_NS", pns: "PROD_NS"}))

	d := get(t, production, pns, "web")
	if imageOf(d, "app") != image {
		t.Errorf("production runs %s, want %s", imageOf(d, "app"), image)
	}
	if cause := d.Annotations["kubernetes.io/change-cause"]; !strings.Contains(cause, "https://circleci.com/gh/acme/shop/77") || !strings.Contains(cause, "c0ffee") {
		t.Errorf("change-cause %q does not name the CircleCI build and commit", cause)
	}

	// The orb's status command reads the same way: JSON asked for by a
	// parameter, the kubeconfig from the default variable name.
	cmdSteps, err := packOrb(t).ExpandCommand("status", map[string]any{"targets": target(pns, "web", "production"), "output": "json"})
	if err != nil {
		t.Fatal(err)
	}
	st := runOrbJob(t, frontends.Job{Steps: cmdSteps}, env{"FERRY_KUBECONFIG_DATA": string(kubeconfigData)})
	if len(st) != 1 || st[0].code != 0 {
		t.Fatalf("status: %+v", st)
	}
	rep := result{stdout: st[0].stdout}.report(t)
	if rep.Command != "status" || len(rep.Targets) != 1 || rep.Targets[0].Before == nil || rep.Targets[0].Before.Image != image {
		t.Errorf("status report %+v: want production on %s", rep, image)
	}
}

// TestCircleCIOrbFailureStopsTheJob checks that a failed promotion fails
// the step with ferry's exit code and skips after-promote.
func TestCircleCIOrbFailureStopsTheJob(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	stepsLog := filepath.Join(t.TempDir(), "steps")
	job, err := packOrb(t).ExpandJob("promote", map[string]any{
		"source":        "registry.test/shop-crash@" + fakeDigest(t.Name()),
		"targets":       target(pns, "web", "production"),
		"timeout":       "90s",
		"after-promote": []any{map[string]any{"run": map[string]any{"name": "after", "command": `echo after >> "$STEPS_LOG"`}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	steps := withoutMarkers(runOrbJob(t, job, env{"FERRY_KUBECONFIG_DATA": b64(kubeconfigData), "STEPS_LOG": stepsLog}))
	if len(steps) != 1 || steps[0].code != 1 || !strings.Contains(steps[0].stdout, "restored") {
		t.Fatalf("want only ferry promote, exit 1 with the target restored: %+v", steps)
	}
	if _, err := os.Stat(stepsLog); !os.IsNotExist(err) {
		t.Errorf("after-promote ran after a failed promotion")
	}
	assertRestored(t, before, rs)
}

// withoutMarkers leaves out the deploy marker steps, which log nothing
// without deploy-environment (TestCircleCIOrbDeployMarkers).
func withoutMarkers(steps []orbStep) []orbStep {
	var out []orbStep
	for _, s := range steps {
		if strings.HasPrefix(s.name, "ferry deploy marker") {
			if s.code != 0 || s.stdout+s.stderr != "" {
				panic(fmt.Sprintf("step %s without deploy-environment: exit %d, %q", s.name, s.code, s.stdout+s.stderr))
			}
			continue
		}
		out = append(out, s)
	}
	return out
}

// circleciCLI is a stand-in for the CircleCI CLI of a job's environment,
// for its deploy marker commands only, as CircleCI documents them
// (circleci.com/docs/guides/deploy/configure-deploy-markers): `circleci
// run release plan NAME --environment-name=E --component-name=C
// --target-version=V [--namespace=N] [--rollback]` and `circleci run
// release update NAME --status=STATUS [--failure-reason=R]`. Anything else
// is refused with exit 1, as the CLI refuses unknown commands and flags;
// each accepted call is appended to the file in $MARKER_LOG. It does not
// reach CircleCI's API, which is not reachable from here.
const circleciCLI = `#!/bin/sh
set -eu
[ "$1 $2" = "run release" ] || { echo "unknown command $*" >&2; exit 1; }
sub=$3; name=$4; shift 4
case $name in ''|-*) echo "a deploy name is required" >&2; exit 1;; esac
case $sub in
  plan)
    env= comp= ver=
    for a in "$@"; do
      case $a in
        --environment-name=?*) env=1 ;;
        --component-name=?*) comp=1 ;;
        --target-version=?*) ver=1 ;;
        --namespace=?*|--rollback) ;;
        *) echo "unknown flag $a" >&2; exit 1 ;;
      esac
    done
    [ -n "$env" ] && [ -n "$comp" ] && [ -n "$ver" ] || { echo "plan needs --environment-name, --component-name and --target-version" >&2; exit 1; }
    ;;
  update)
    st=
    for a in "$@"; do
      case $a in
        --status=RUNNING|--status=SUCCESS|--status=FAILED|--status=CANCELED) st=1 ;;
        --failure-reason=*) ;;
        *) echo "unknown flag $a" >&2; exit 1 ;;
      esac
    done
    [ -n "$st" ] || { echo "update needs --status" >&2; exit 1; }
    ;;
  *) echo "unknown command release $sub" >&2; exit 1 ;;
esac
echo "$sub $name $*" >> "$MARKER_LOG"
`

// TestCircleCIOrbDeployMarkers: with deploy-environment, the orb's promote
// job plans a deploy marker before ferry runs, sets it RUNNING, and ends
// it SUCCESS, or FAILED when the promotion failed (and was restored).
func TestCircleCIOrbDeployMarkers(t *testing.T) {
	t.Parallel()
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "circleci"), []byte(circleciCLI), 0o755); err != nil {
		t.Fatal(err)
	}
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	for _, c := range []struct {
		image string
		code  int
		want  []string
	}{
		{"registry.test/shop@" + fakeDigest(t.Name()+"good"), 0, []string{
			"plan promote --environment-name=production --component-name=shop --target-version=c0ffee0000000000000000000000000000000000",
			"update promote --status=RUNNING", "update promote --status=SUCCESS"}},
		{"registry.test/shop-crash@" + fakeDigest(t.Name()+"bad"), 1, []string{
			"plan promote --environment-name=production --component-name=shop --target-version=c0ffee0000000000000000000000000000000000",
			"update promote --status=RUNNING", "update promote --status=FAILED --failure-reason=ferry failed, see the log of the job"}},
	} {
		log := filepath.Join(t.TempDir(), "markers")
		job, err := packOrb(t).ExpandJob("promote", map[string]any{
			"source":             c.image,
			"targets":            target(pns, "web", "production"),
			"timeout":            "90s",
			"deploy-environment": "production",
		})
		if err != nil {
			t.Fatal(err)
		}
		steps := runOrbJob(t, job, env{
			"FERRY_KUBECONFIG_DATA":   b64(kubeconfigData),
			"PATH":                    bin + ":" + filepath.Dir(ferryBin) + ":/usr/bin:/bin",
			"CIRCLE_JOB":              "promote",
			"CIRCLE_PROJECT_REPONAME": "shop",
			"CIRCLE_SHA1":             "c0ffee0000000000000000000000000000000000",
			"MARKER_LOG":              log,
		})
		for _, s := range steps {
			if s.name == "ferry promote" && s.code != c.code {
				t.Errorf("%s: ferry promote exit %d, want %d", c.image, s.code, c.code)
			}
			if strings.HasPrefix(s.name, "ferry deploy marker") && s.code != 0 {
				t.Errorf("%s: step %s exit %d: %s", c.image, s.name, s.code, s.stderr)
			}
		}
		b, err := os.ReadFile(log)
		if err != nil {
			t.Fatalf("%s: no deploy marker logged: %v", c.image, err)
		}
		if got := strings.Split(strings.TrimSpace(string(b)), "\n"); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: deploy marker calls\n  %q\nwant\n  %q", c.image, got, c.want)
		}
	}
}
