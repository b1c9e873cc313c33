package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// A docker action's container sees only what the runner mounts into it:
// the job's workspace at /github/workspace, RUNNER_TEMP/_github_home at
// /github/home, RUNNER_TEMP/_github_workflow at /github/workflow and the
// file-commands folder at /github/file_commands, beside the image's own
// files (ferry at /ko-app/ferry and a CA bundle). The runner's own paths
// do not exist in there, and nothing but ferry is installed. The harness
// runs ferry the same way: in a private mount namespace (as root) whose
// root is a fresh tmpfs holding exactly those mounts, so a variable that
// names a runner path (DOCKER_CONFIG, GOOGLE_APPLICATION_CREDENTIALS) is
// only read if ferry translates it, and no credential plugin can be
// found on PATH. The network is shared: the clusters and emulators on
// loopback are reached as a container on the host network reaches them.

// sandboxEnv carries the sandbox's spec from the harness to the test
// binary re-executed as the sandbox's first process; it never reaches
// ferry.
const sandboxEnv = "E2E_SANDBOX_SPEC"

// sandboxSpec is what the sandbox mounts and runs.
type sandboxSpec struct {
	// Root is an empty folder on the host that becomes the sandbox's /.
	Root string
	// Binds are host paths (files or folders) mounted at paths inside.
	Binds []bind
	// Dir is the working directory inside.
	Dir string
	// Argv is the command inside (Argv[0] an absolute path).
	Argv []string
}

type bind struct{ Host, Inside string }

// sandboxCmd returns a command that runs spec in a private mount
// namespace with env as its whole environment.
func sandboxCmd(spec sandboxSpec, env []string) (*exec.Cmd, error) {
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	b, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self)
	cmd.Env = append(env, sandboxEnv+"="+string(b))
	cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNS, Pdeathsig: syscall.SIGKILL}
	return cmd, nil
}

// sandboxMain is the test binary as the sandbox's first process: it
// builds the mounts, enters the new root and executes the command in
// its place (same process, so signals and the exit code are ferry's).
// Failing here exits 125, which no ferry run returns.
func sandboxMain(raw string) int {
	var spec sandboxSpec
	err := json.Unmarshal([]byte(raw), &spec)
	if err == nil {
		err = enterSandbox(spec)
	}
	if err == nil {
		env := make([]string, 0, len(os.Environ()))
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, sandboxEnv+"=") {
				env = append(env, kv)
			}
		}
		err = syscall.Exec(spec.Argv[0], spec.Argv, env)
	}
	fmt.Fprintf(os.Stderr, "e2e sandbox: %v\n", err)
	return 125
}

func enterSandbox(spec sandboxSpec) error {
	if len(spec.Argv) == 0 || spec.Root == "" {
		return errors.New("spec without a root or a command")
	}
	// Nothing done here may reach the host's mount table.
	if err := syscall.Mount("", "/", "", syscall.MS_REC|syscall.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("making / private: %w", err)
	}
	if err := syscall.Mount("sandbox", spec.Root, "tmpfs", 0, "mode=0755"); err != nil {
		return fmt.Errorf("mounting the root: %w", err)
	}
	for _, d := range []string{"tmp", "proc", "dev"} {
		if err := os.MkdirAll(filepath.Join(spec.Root, d), 0o1777); err != nil {
			return err
		}
	}
	if err := syscall.Mount("tmp", filepath.Join(spec.Root, "tmp"), "tmpfs", 0, "mode=1777"); err != nil {
		return fmt.Errorf("mounting /tmp: %w", err)
	}
	if err := syscall.Mount("proc", filepath.Join(spec.Root, "proc"), "proc", 0, ""); err != nil {
		return fmt.Errorf("mounting /proc: %w", err)
	}
	binds := append([]bind{{Host: "/dev", Inside: "/dev"}}, spec.Binds...)
	for _, b := range binds {
		if err := bindInto(spec.Root, b); err != nil {
			return err
		}
	}
	if err := syscall.Chroot(spec.Root); err != nil {
		return fmt.Errorf("entering the root: %w", err)
	}
	dir := spec.Dir
	if dir == "" {
		dir = "/"
	}
	return os.Chdir(dir)
}

// bindInto mounts b.Host at b.Inside under root, creating the mount
// point (a file or a folder, like the source).
func bindInto(root string, b bind) error {
	st, err := os.Stat(b.Host)
	if err != nil {
		return fmt.Errorf("bind source: %w", err)
	}
	target := filepath.Join(root, b.Inside)
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return err
	}
	if st.IsDir() {
		err = os.MkdirAll(target, 0o755)
	} else {
		err = os.WriteFile(target, nil, 0o644)
	}
	if err != nil {
		return err
	}
	if err := syscall.Mount(b.Host, target, "", syscall.MS_BIND|syscall.MS_REC, ""); err != nil {
		return fmt.Errorf("binding %s at %s: %w", b.Host, b.Inside, err)
	}
	return nil
}
