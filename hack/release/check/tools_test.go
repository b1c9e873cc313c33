package check

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// root is the repository's root, from this package's folder.
var root = func() string {
	r, err := filepath.Abs("../../..")
	if err != nil {
		panic(err)
	}
	return r
}()

// tool returns the path of a pinned release tool: $ENV when set, else
// what hack/build-tool.sh builds (or finds cached).
func tool(t *testing.T, name, env string) string {
	t.Helper()
	if p := os.Getenv(env); p != "" {
		return p
	}
	out, err := exec.Command(filepath.Join(root, "hack", "build-tool.sh"), name).Output()
	if err != nil {
		t.Fatalf("building %s with hack/build-tool.sh: %v%s", name, err, stderrOf(err))
	}
	return strings.TrimSpace(string(out))
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok && len(ee.Stderr) > 0 {
		return "\n" + string(ee.Stderr)
	}
	return ""
}

// cmdResult is what a command did.
type cmdResult struct {
	code           int
	stdout, stderr string
}

// runCmd runs name with args in dir, with the test's environment plus env,
// and returns what happened; it fails the test only when the command could
// not start.
func runCmd(t *testing.T, dir string, env []string, name string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := cmdResult{stdout: stdout.String(), stderr: stderr.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	t.Logf("%s %s: exit %d in %s", filepath.Base(name), strings.Join(args, " "), r.code, time.Since(start).Round(time.Millisecond))
	return r
}

// mustRun is runCmd that fails the test unless the command exits 0.
func mustRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	r := runCmd(t, dir, env, name, args...)
	if r.code != 0 {
		t.Fatalf("%s %s: exit %d\n--- stdout\n%s--- stderr\n%s", filepath.Base(name), strings.Join(args, " "), r.code, tail(r.stdout), tail(r.stderr))
	}
	return r.stdout
}

// tail is the end of a long output.
func tail(s string) string {
	const max = 8000
	if len(s) > max {
		return "…" + s[len(s)-max:]
	}
	return s
}

// pathWith is a PATH entry with the folders of the binaries first.
func pathWith(bins ...string) string {
	var dirs []string
	for _, b := range bins {
		dirs = append(dirs, filepath.Dir(b))
	}
	return "PATH=" + strings.Join(append(dirs, os.Getenv("PATH")), string(os.PathListSeparator))
}
