package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferry-dev/ferry/internal/frontends"
)

const (
	digestA     = "sha256:1111111111111111111111111111111111111111111111111111111111111111"
	digestB     = "sha256:2222222222222222222222222222222222222222222222222222222222222222"
	actionImage = "ghcr.io/ferry-dev/ferry:v1.2.3@" + digestA
	shellImage  = "ghcr.io/ferry-dev/ferry:v1.2.3-shell@" + digestB
)

// copyRelease copies the repository's action.yml and orb source into a
// folder and returns the paths of the copies.
func copyRelease(t *testing.T) (action, orb string) {
	t.Helper()
	dir := t.TempDir()
	action = filepath.Join(dir, "action.yml")
	copyFile(t, "../../../action.yml", action)
	orb = filepath.Join(dir, "orb", "src")
	err := filepath.WalkDir("../../../orb/src", func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel("../../../orb/src", p)
		copyFile(t, p, filepath.Join(orb, rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return action, orb
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func runPin(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, &out, &errb)
	return code, out.String(), errb.String()
}

// changedLines returns the lines of b that differ from a; both must have
// the same number of lines.
func changedLines(t *testing.T, a, b []byte) []string {
	t.Helper()
	al, bl := strings.Split(string(a), "\n"), strings.Split(string(b), "\n")
	if len(al) != len(bl) {
		t.Fatalf("%d lines became %d", len(al), len(bl))
	}
	var out []string
	for i := range al {
		if al[i] != bl[i] {
			out = append(out, bl[i])
		}
	}
	return out
}

// TestPinRewritesTheImageLinesOnly pins copies of the repository's own
// action.yml and orb, and checks that exactly the image lines changed, that
// the files then name the images by digest, and that -check agrees.
func TestPinRewritesTheImageLinesOnly(t *testing.T) {
	action, orb := copyRelease(t)
	executor := filepath.Join(orb, "executors", "default.yml")
	install := filepath.Join(orb, "commands", "install.yml")
	beforeAction, _ := os.ReadFile(action)
	beforeExecutor, _ := os.ReadFile(executor)
	beforeInstall, _ := os.ReadFile(install)

	if code, _, stderr := runPin(t, "-check", "-action", action, "-orb", orb); code != 1 || !strings.Contains(stderr, "is not pinned") {
		t.Fatalf("-check on main's files: exit %d, want 1 saying the image is not pinned\n%s", code, stderr)
	}

	code, stdout, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", actionImage, "-shell-image", shellImage)
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	if !strings.Contains(stdout, "pinned "+action+" to "+actionImage) || !strings.Contains(stdout, "pinned "+install+" to install ferry v1.2.3") {
		t.Errorf("output does not say what was pinned:\n%s", stdout)
	}
	afterAction, _ := os.ReadFile(action)
	afterExecutor, _ := os.ReadFile(executor)
	afterInstall, _ := os.ReadFile(install)
	if got, want := changedLines(t, beforeAction, afterAction), []string{"  image: docker://" + actionImage}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("action.yml changed lines %q, want %q", got, want)
	}
	if got, want := changedLines(t, beforeExecutor, afterExecutor), []string{"  - image: " + shellImage}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("executor changed lines %q, want %q", got, want)
	}
	if got, want := changedLines(t, beforeInstall, afterInstall), []string{"        INSTALL_VERSION: v1.2.3"}; strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("install command changed lines %q, want %q", got, want)
	}

	a, err := frontends.LoadAction(action)
	if err != nil {
		t.Fatal(err)
	}
	if img, err := a.PinnedImage(); err != nil || img != actionImage {
		t.Errorf("the action runs %q (%v), want %q", img, err, actionImage)
	}
	o, err := frontends.PackOrb(orb)
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Validate(); err != nil {
		t.Errorf("the pinned orb is not valid: %v", err)
	}
	j, err := o.ExpandJob("promote", nil)
	if err != nil {
		t.Fatal(err)
	}
	docker, _ := j.Executor["docker"].([]any)
	if len(docker) != 1 || imageOf(docker[0]) != shellImage {
		t.Errorf("the promote job runs %v, want %s", j.Executor, shellImage)
	}
	if v := installs(t, o); v != "v1.2.3" {
		t.Errorf("the install command installs %q, want v1.2.3", v)
	}
	if code, _, stderr := runPin(t, "-check", "-action", action, "-orb", orb); code != 0 {
		t.Errorf("-check after pinning: exit %d\n%s", code, stderr)
	}

	// Pinning again, to the next release, works on a pinned file too.
	next := strings.Replace(actionImage, "v1.2.3", "v1.2.4", 1)
	nextShell := strings.Replace(shellImage, "v1.2.3", "v1.2.4", 1)
	if code, _, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", next, "-shell-image", nextShell); code != 0 {
		t.Fatalf("re-pinning: exit %d\n%s", code, stderr)
	}
	o, err = frontends.PackOrb(orb)
	if err != nil {
		t.Fatal(err)
	}
	if v := installs(t, o); v != "v1.2.4" {
		t.Errorf("re-pinned, the install command installs %q, want v1.2.4", v)
	}
}

// imageOf is the image of a docker entry of an executor, "" when there is
// none.
func imageOf(entry any) string {
	m, _ := entry.(map[string]any)
	s, _ := m["image"].(string)
	return s
}

// installs is the release the orb's install command downloads.
func installs(t *testing.T, o frontends.Orb) string {
	t.Helper()
	steps, err := o.ExpandCommand("install", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := frontends.AsRun(steps[0])
	if len(steps) != 1 || !ok {
		t.Fatalf("the install command is not one run step: %v", steps)
	}
	return r.Environment[frontends.InstallVersionVar]
}

func TestPinRefusesWhatIsNotOneReleasePinnedByDigest(t *testing.T) {
	for _, c := range []struct {
		name          string
		action, shell string
		want          string
	}{
		{"a tag", "ghcr.io/ferry-dev/ferry:v1.2.3", shellImage, "is not pinned"},
		{"a digest without tag", "ghcr.io/ferry-dev/ferry@" + digestA, shellImage, "REPOSITORY:TAG@sha256"},
		{"a short digest", "ghcr.io/ferry-dev/ferry:v1.2.3@sha256:1234", shellImage, "64 lower-case hex"},
		{"upper-case hex", "ghcr.io/ferry-dev/ferry:v1.2.3@" + strings.ToUpper(digestA), shellImage, "64 lower-case hex"},
		{"another algorithm", "ghcr.io/ferry-dev/ferry:v1.2.3@sha512:" + strings.Repeat("1", 128), shellImage, "sha256"},
		{"a parameter", actionImage, "ghcr.io/ferry-dev/ferry:<< parameters.tag >>-shell@" + digestB, "parameter"},
		{"two releases", actionImage, "ghcr.io/ferry-dev/ferry:v1.2.4-shell@" + digestB, "not one release's"},
		{"two repositories", actionImage, "ghcr.io/someone/ferry:v1.2.3-shell@" + digestB, "not one release's"},
		{"one digest for both", actionImage, "ghcr.io/ferry-dev/ferry:v1.2.3-shell@" + digestA, "same digest"},
	} {
		t.Run(c.name, func(t *testing.T) {
			action, orb := copyRelease(t)
			install := filepath.Join(orb, "commands", "install.yml")
			before, _ := os.ReadFile(action)
			beforeInstall, _ := os.ReadFile(install)
			code, _, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", c.action, "-shell-image", c.shell)
			if code != 2 || !strings.Contains(stderr, c.want) {
				t.Fatalf("exit %d, want 2 and %q:\n%s", code, c.want, stderr)
			}
			if after, _ := os.ReadFile(action); !bytes.Equal(before, after) {
				t.Errorf("action.yml was changed on bad input")
			}
			if after, _ := os.ReadFile(install); !bytes.Equal(beforeInstall, after) {
				t.Errorf("the install command was changed on bad input")
			}
		})
	}
	for _, args := range [][]string{nil, {"-action-image", actionImage}, {"-check", "-shell-image", shellImage}, {"-check", "extra"}} {
		if code, _, _ := runPin(t, args...); code != 2 {
			t.Errorf("%q: exit %d, want 2", args, code)
		}
	}
}

// TestCheckRefusesAnExecutorThatCanNameAnotherImage: a pinned image is not
// enough when a parameter lets a user run another one.
func TestCheckRefusesAnExecutorThatCanNameAnotherImage(t *testing.T) {
	action, orb := copyRelease(t)
	if code, _, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", actionImage, "-shell-image", shellImage); code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	executor := filepath.Join(orb, "executors", "default.yml")
	b, _ := os.ReadFile(executor)
	b = bytes.Replace(b, []byte("parameters:\n"), []byte("parameters:\n  tag:\n    type: string\n    default: v1\n    description: which\n"), 1)
	if err := os.WriteFile(executor, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runPin(t, "-check", "-action", action, "-orb", orb); code != 1 || !strings.Contains(stderr, `takes a "tag" parameter`) {
		t.Fatalf("exit %d, want 1 naming the tag parameter\n%s", code, stderr)
	}

	// An image in a job of its own must be pinned too.
	job := filepath.Join(orb, "jobs", "extra.yml")
	if err := os.WriteFile(job, []byte("description: x\ndocker:\n  - image: alpine:3\nsteps:\n  - run: {name: x, command: x}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runPin(t, "-check", "-action", action, "-orb", orb); code != 1 || !strings.Contains(stderr, "jobs.extra.docker[0]") {
		t.Fatalf("exit %d, want 1 naming jobs.extra.docker[0]\n%s", code, stderr)
	}
}

// TestCheckRefusesAnOrbThatInstallsAnotherRelease: a released orb installs
// its own version and nothing a user could choose.
func TestCheckRefusesAnOrbThatInstallsAnotherRelease(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(t *testing.T, orb string)
		want   string
	}{
		{"another version", func(t *testing.T, orb string) {
			replaceIn(t, filepath.Join(orb, "commands", "install.yml"), "INSTALL_VERSION: v1.2.3", "INSTALL_VERSION: v1.2.2")
		}, "installs ferry v1.2.2, not the release's own version v1.2.3"},
		{"the newest", func(t *testing.T, orb string) {
			replaceIn(t, filepath.Join(orb, "commands", "install.yml"), "INSTALL_VERSION: v1.2.3", "INSTALL_VERSION: latest")
		}, "installs ferry latest, not the release's own version v1.2.3"},
		{"a parameter", func(t *testing.T, orb string) {
			replaceIn(t, filepath.Join(orb, "commands", "install.yml"), "INSTALL_VERSION: v1.2.3", "INSTALL_VERSION: << parameters.install-dir >>")
		}, "cannot install what a parameter names"},
		{"a version parameter", func(t *testing.T, orb string) {
			replaceIn(t, filepath.Join(orb, "commands", "install.yml"), "parameters:\n", "parameters:\n  version:\n    type: string\n    default: v1.2.3\n    description: which\n")
		}, `commands.install takes a "version" parameter`},
		{"a second install step", func(t *testing.T, orb string) {
			job := "description: x\ndocker:\n  - image: " + shellImage + "\nsteps:\n  - run:\n      name: x\n      environment:\n        INSTALL_VERSION: v1.2.3\n      command: x\n"
			if err := os.WriteFile(filepath.Join(orb, "jobs", "extra.yml"), []byte(job), 0o644); err != nil {
				t.Fatal(err)
			}
		}, "2 steps of the orb name a release to install"},
		{"no install command", func(t *testing.T, orb string) {
			if err := os.Remove(filepath.Join(orb, "commands", "install.yml")); err != nil {
				t.Fatal(err)
			}
		}, "0 steps of the orb name a release to install"},
	} {
		t.Run(c.name, func(t *testing.T) {
			action, orb := copyRelease(t)
			if code, _, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", actionImage, "-shell-image", shellImage); code != 0 {
				t.Fatalf("exit %d\n%s", code, stderr)
			}
			c.change(t, orb)
			if code, _, stderr := runPin(t, "-check", "-action", action, "-orb", orb); code != 1 || !strings.Contains(stderr, c.want) {
				t.Fatalf("-check: exit %d, want 1 and %q\n%s", code, c.want, stderr)
			}
		})
	}

	// Without an install command there is nothing to pin either.
	action, orb := copyRelease(t)
	if err := os.Remove(filepath.Join(orb, "commands", "install.yml")); err != nil {
		t.Fatal(err)
	}
	if code, _, stderr := runPin(t, "-action", action, "-orb", orb, "-action-image", actionImage, "-shell-image", shellImage); code != 1 || !strings.Contains(stderr, "0 command files name a release to install") {
		t.Fatalf("pinning an orb without an install command: exit %d\n%s", code, stderr)
	}
}

// replaceIn replaces old, which must be in file once, by repl.
func replaceIn(t *testing.T, file, old, repl string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(b, []byte(old)); n != 1 {
		t.Fatalf("%s holds %q %d times, want once", file, old, n)
	}
	if err := os.WriteFile(file, bytes.Replace(b, []byte(old), []byte(repl), 1), 0o644); err != nil {
		t.Fatal(err)
	}
}
