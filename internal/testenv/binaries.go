package testenv

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
)

const (
	// BinEnv names the environment variable that points at a folder holding
	// prebuilt binaries; when it is unset, hack/build-testenv.sh provides them.
	BinEnv = "FERRY_TESTENV_BIN"

	modulePath  = "github.com/ferry-dev/ferry"
	buildScript = "hack/build-testenv.sh"
)

// components lists the binaries a cluster runs, in start order.
var components = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

var built struct {
	sync.Mutex
	dir string
}

// BinDir returns the folder holding etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler and kwok: $FERRY_TESTENV_BIN when
// set, else the folder printed by <repo root>/hack/build-testenv.sh, which
// builds the binaries once per machine (about ten minutes the first time;
// its progress goes to this process's stderr). A missing binary is an error.
func BinDir(ctx context.Context) (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		if err := checkBinaries(dir); err != nil {
			return "", fmt.Errorf("%s=%s: %w", BinEnv, dir, err)
		}
		return dir, nil
	}
	built.Lock()
	defer built.Unlock()
	if built.dir != "" {
		return built.dir, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	dir, err := runBuildScript(ctx, filepath.Join(root, buildScript))
	if err != nil {
		return "", err
	}
	if err := checkBinaries(dir); err != nil {
		return "", fmt.Errorf("%s printed %s: %w", buildScript, dir, err)
	}
	built.dir = dir
	return dir, nil
}

func runBuildScript(ctx context.Context, script string) (string, error) {
	// Test binaries of several packages may get here at once on a cold
	// machine; the script is not safe to run concurrently, so take turns.
	lock, err := os.OpenFile(filepath.Join(os.TempDir(), "ferry-testenv-build.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return "", fmt.Errorf("locking %s: %w", script, err)
	}
	defer lock.Close() // releases the lock
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("locking %s: %w", script, err)
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Dir = filepath.Dir(filepath.Dir(script))
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("running %s: %w", script, err)
	}
	var dir string
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			dir = line
		}
	}
	if dir == "" {
		return "", fmt.Errorf("running %s: printed no folder", script)
	}
	return dir, nil
}

func checkBinaries(dir string) error {
	var errs []error
	for _, name := range components {
		fi, err := os.Stat(filepath.Join(dir, name))
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("missing binary %s: %w", name, err))
		case fi.IsDir() || fi.Mode().Perm()&0o111 == 0:
			errs = append(errs, fmt.Errorf("binary %s is not executable", name))
		}
	}
	return errors.Join(errs...)
}

// repoRoot walks up from the working directory to the go.mod of ferry's
// main module.
func repoRoot() (string, error) {
	wd, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("finding repository root: %w", err)
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if moduleOf(filepath.Join(dir, "go.mod")) == modulePath {
			return dir, nil
		}
		if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("finding repository root: no go.mod of module %s above %s", modulePath, wd)
		}
	}
}

// moduleOf returns the module path declared in a go.mod file, or "".
func moduleOf(gomod string) string {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return ""
	}
	for line := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(strings.TrimSpace(line), "module"); ok {
			return strings.Trim(strings.TrimSpace(rest), `"`)
		}
	}
	return ""
}

// BuildTool returns the path of the tool hack/tools/NAME pins, built once
// and cached by hack/build-tool.sh (which prints the path); an error
// carries what the script printed on stderr.
func BuildTool(ctx context.Context, name string) (string, error) {
	root, err := repoRoot()
	if err != nil {
		return "", err
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, filepath.Join(root, "hack", "build-tool.sh"), name)
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/build-tool.sh %s: %w\n%s", name, err, errb.String())
	}
	return strings.TrimSpace(out.String()), nil
}
