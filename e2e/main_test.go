package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-dev/ferry/internal/testenv"
	"github.com/ferry-dev/ferry/internal/testenv/herokuemu"
	"github.com/ferry-dev/ferry/internal/testenv/images"
	"github.com/ferry-dev/ferry/pkg/promote"
)

var (
	ferryBin   string
	staging    *testenv.Cluster
	production *testenv.Cluster
	// kubeconfigPath holds contexts "staging", "production" and an EKS
	// style ARN naming production again.
	kubeconfigPath string
	kubeconfigData []byte

	// registryHost is a real registry (go-containerregistry's, on
	// loopback) holding the images promoted from plain references and
	// copied to Heroku.
	registryHost string
	// emu is the Heroku emulator (Platform API and registry).
	emu *herokuemu.Emulator
	// herokuKey is the API key ferry uses against emu.
	herokuKey = "hk-" + rand.Text()
	// secrets must never appear in anything ferry prints.
	secrets []string
)

// prodARN is a context name with ':' '/' and '@'-free EKS shape; gkeName
// is a GKE-style one. Both point at the production cluster.
const (
	prodARN = "arn:aws:eks:eu-west-1:123456789012:cluster/prod-eu"
	prodAt  = "ferry@prod-us"
)

func TestMain(m *testing.M) {
	if spec := os.Getenv(sandboxEnv); spec != "" {
		os.Exit(sandboxMain(spec)) // this binary as the action's container
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ferry-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	ferryBin = filepath.Join(dir, "ferry")
	build := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", ferryBin, "../cmd/ferry")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building ferry: %v\n", err)
		return 1
	}

	stagingOpts, prodOpts, err := startCloud()
	if lab != nil {
		defer lab.Close()
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the cloud lab: %v\n", err)
		return 1
	}
	start := time.Now()
	staging, production, err = testenv.StartPairWith(ctx, stagingOpts, prodOpts)
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the test clusters: %v\n", err)
		return 1
	}
	fmt.Fprintf(os.Stderr, "e2e: staging and production control planes ready in %s\n", time.Since(start).Round(time.Millisecond))

	kubeconfigData = testenv.Kubeconfig(map[string]*testenv.Cluster{
		"staging":    staging,
		"production": production,
		prodARN:      production,
		prodAt:       production,
	})
	kubeconfigPath = filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfigPath, kubeconfigData, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}

	var stopRegistry func()
	registryHost, stopRegistry, err = images.StartRegistry()
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the registry: %v\n", err)
		return 1
	}
	defer stopRegistry()
	emu, err = herokuemu.New(herokuemu.Options{ReleasePhase: 500 * time.Millisecond, BootTime: 300 * time.Millisecond})
	if err != nil {
		fmt.Fprintf(os.Stderr, "e2e: starting the Heroku emulator: %v\n", err)
		return 1
	}
	defer emu.Close()
	emu.AddKey(herokuKey)

	cfg, err := clientcmd.Load(kubeconfigData)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	secrets = []string{herokuKey, b64(kubeconfigData)}
	for _, a := range cfg.AuthInfos {
		secrets = append(secrets, a.Token)
	}

	code := m.Run()
	if err := stopArgoRollouts(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the argo rollouts controllers: %v\n", err)
		code = 1
	}
	if code != 0 {
		staging.KeepLogs()
		production.KeepLogs()
		fmt.Fprintf(os.Stderr, "e2e: control plane logs kept in %s and %s\n", staging.Dir, production.Dir)
	}
	if err := errors.Join(staging.Stop(), production.Stop()); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: stopping the clusters: %v\n", err)
		code = 1
	}
	return code
}

// result is one run of the ferry binary.
type result struct {
	code           int
	stdout, stderr string
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s\n--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// report decodes the JSON report on stdout.
func (r result) report(t *testing.T) promote.Report {
	t.Helper()
	var rep promote.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("stdout is not a JSON report: %v\n%s", err, r)
	}
	return rep
}

// env is the environment of one ferry run: nothing of the test process's
// own environment leaks in but PATH.
type env map[string]string

// baseEnv points ferry at the kubeconfig file and asks for JSON.
func baseEnv() env {
	return env{"KUBECONFIG": kubeconfigPath, "FERRY_OUTPUT": "json", "FERRY_TIMEOUT": "90s"}
}

func (e env) with(kv ...string) env {
	out := env{}
	for k, v := range e {
		out[k] = v
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out[kv[i]] = kv[i+1]
	}
	return out
}

func (e env) list(home string) []string {
	out := []string{"PATH=" + os.Getenv("PATH"), "HOME=" + home}
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	return out
}

// ferry runs the binary with env and args and waits for it.
func ferry(t *testing.T, e env, args ...string) result {
	t.Helper()
	cmd, out, errb := ferryCmd(t, e, args...)
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	return wait(t, cmd, out, errb)
}

func ferryCmd(t *testing.T, e env, args ...string) (*exec.Cmd, *bytes.Buffer, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(ferryBin, args...)
	cmd.Env = e.list(t.TempDir())
	var out bytes.Buffer
	errb := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &out, errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, &out, errb
}

// startUntil starts cmd and waits until its stderr (errb) says phrase.
// If it does not within timeout, ferry is killed and the test fails with
// what it printed.
func startUntil(t *testing.T, cmd *exec.Cmd, errb *syncBuffer, phrase string, timeout time.Duration) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if !errb.waitFor(phrase, timeout) {
		_ = cmd.Process.Kill()
		t.Fatalf("ferry never printed %q within %s:\n%s", phrase, timeout, errb.String())
	}
}

// wait waits for a started ferry and fails the test if a secret reached its
// output.
func wait(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, errb *syncBuffer) result {
	t.Helper()
	r := waitRaw(t, cmd, out, errb)
	for _, s := range secrets {
		if s != "" && strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("a secret (%d bytes) appears in ferry's output", len(s))
		}
	}
	return r
}

// waitRaw waits for a started ferry, at most 4 minutes, and logs what it
// printed.
func waitRaw(t *testing.T, cmd *exec.Cmd, out *bytes.Buffer, errb *syncBuffer) result {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("ferry did not finish in 4m\n%s", result{-1, out.String(), errb.String()})
	}
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		t.Fatalf("running ferry: %v", err)
	}
	t.Logf("ferry %s: %s", strings.Join(cmd.Args[1:], " "), r)
	return r
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }
