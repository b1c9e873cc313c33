package e2e

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/ferry-dev/ferry/internal/frontends"
	"github.com/ferry-dev/ferry/pkg/promote"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of the front-end tests under testdata/")

// actionRun is one run of ferry the way the Actions runner runs the docker
// action: no arguments (runs.args is empty), the step's inputs as INPUT_*
// (every input of action.yml, defaults included), the runner's variables,
// and file commands.
type actionRun struct {
	code int
	// log is standard output and standard error in the order they were
	// written, as the job log shows them.
	log     string
	outputs map[string]string
	summary string
}

func (r actionRun) String() string {
	return "exit " + strconv.Itoa(r.code) + "\n--- log\n" + r.log + "\n--- outputs\n" + dumpOutputs(r.outputs) + "--- summary\n" + r.summary
}

// runAction runs ferry as the action with the given `with:` values, plus
// extra environment (a step's env:), in a fresh runner (see runner).
func runAction(t *testing.T, with map[string]string, extra env) actionRun {
	t.Helper()
	return newRunner(t).action(t, with, extra)
}

// runner is one job's folders on the runner machine, laid out as GitHub's
// runner lays them out: RUNNER_WORKSPACE is ROOT/work/shop, the job's
// workspace ROOT/work/shop/shop, RUNNER_TEMP ROOT/work/_temp with
// _github_home, _github_workflow and _runner_file_commands in it. Earlier
// steps of a job write into them (a Docker config, a key file); the
// action sees them only where the runner mounts them.
type runner struct {
	temp, runnerWorkspace, workspace, home, workflow, fileCommands string
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	root := t.TempDir()
	rn := &runner{
		temp:            filepath.Join(root, "work", "_temp"),
		runnerWorkspace: filepath.Join(root, "work", "shop"),
	}
	rn.workspace = filepath.Join(rn.runnerWorkspace, "shop")
	rn.home = filepath.Join(rn.temp, "_github_home")
	rn.workflow = filepath.Join(rn.temp, "_github_workflow")
	rn.fileCommands = filepath.Join(rn.temp, "_runner_file_commands")
	for _, d := range []string{rn.workspace, rn.home, rn.workflow, rn.fileCommands} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return rn
}

// write writes data to a path on the runner (an earlier step's file).
func (rn *runner) write(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

// action runs ferry the way the runner runs the docker action: no
// arguments (runs.args is empty), the step's inputs as INPUT_* (every
// input of action.yml, defaults included), the runner's variables with
// HOME /github/home, and file commands, in the sandbox (sandbox_test.go)
// that mounts the runner's folders where a container sees them.
func (rn *runner) action(t *testing.T, with map[string]string, extra env) actionRun {
	t.Helper()
	a, err := frontends.LoadAction("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	inputs, err := a.Env(with)
	if err != nil {
		t.Fatal(err)
	}
	outFile := filepath.Join(rn.fileCommands, "set_output_5f1b")
	sumFile := filepath.Join(rn.fileCommands, "step_summary_5f1b")
	for _, f := range []string{outFile, sumFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	e := env{
		"CI":                  "true",
		"GITHUB_ACTIONS":      "true",
		"GITHUB_OUTPUT":       "/github/file_commands/set_output_5f1b",
		"GITHUB_STEP_SUMMARY": "/github/file_commands/step_summary_5f1b",
		"GITHUB_RUN_ID":       "4242",
		"GITHUB_RUN_ATTEMPT":  "1",
		"GITHUB_REPOSITORY":   "acme/shop",
		"GITHUB_SERVER_URL":   "https://github.com",
		"GITHUB_SHA":          "c0ffee0000000000000000000000000000000000",
		"GITHUB_WORKFLOW":     "promote",
		"GITHUB_ACTION":       "ferry",
		"GITHUB_WORKSPACE":    "/github/workspace",
		"GITHUB_EVENT_PATH":   "/github/workflow/event.json",
		"HOME":                "/github/home",
		"RUNNER_OS":           "Linux",
		"RUNNER_TEMP":         rn.temp,
		"RUNNER_WORKSPACE":    rn.runnerWorkspace,
		// The image's PATH: none of its folders exists in the container.
		"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	for k, v := range extra {
		e[k] = v
	}
	for _, kv := range inputs {
		k, v, _ := strings.Cut(kv, "=")
		e[k] = v
	}
	vars := make([]string, 0, len(e))
	for k, v := range e {
		vars = append(vars, k+"="+v)
	}
	cmd, err := sandboxCmd(sandboxSpec{
		Root: t.TempDir(),
		Binds: []bind{
			{Host: ferryBin, Inside: "/ko-app/ferry"},
			{Host: lab.Net.CAFile(), Inside: "/etc/ssl/certs/ca-certificates.crt"},
			{Host: rn.workspace, Inside: "/github/workspace"},
			{Host: rn.home, Inside: "/github/home"},
			{Host: rn.workflow, Inside: "/github/workflow"},
			{Host: rn.fileCommands, Inside: "/github/file_commands"},
		},
		Dir:  "/github/workspace",
		Argv: []string{"/ko-app/ferry"},
	}, vars)
	if err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log // one stream, as the runner reads it
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting ferry: %v", err)
	}
	r := actionRun{code: waitExit(t, cmd, log)}
	if r.code == 125 {
		t.Fatalf("the action sandbox did not start (it needs root and mount namespaces):\n%s", log.String())
	}
	r.log = log.String()
	b, err := os.ReadFile(outFile)
	if err != nil {
		t.Fatal(err)
	}
	r.outputs, err = parseOutputs(string(b))
	if err != nil {
		t.Fatalf("GITHUB_OUTPUT is not what the runner can read: %v\n%s", err, b)
	}
	s, err := os.ReadFile(sumFile)
	if err != nil {
		t.Fatal(err)
	}
	r.summary = string(s)
	return r
}

// waitExit waits for cmd and returns its exit code. (wait would fail the
// test on the ::add-mask:: lines, which must hold the secrets they mask;
// assertMasksFirst checks the log instead.)
func waitExit(t *testing.T, cmd *exec.Cmd, log *syncBuffer) int {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var err error
	select {
	case err = <-done:
	case <-time.After(4 * time.Minute):
		_ = cmd.Process.Kill()
		<-done
		t.Fatalf("ferry did not finish in 4m\n%s", log.String())
	}
	t.Logf("ferry as %s: %v\n%s", strings.Join(cmd.Args, " "), err, log.String())
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return ee.ExitCode()
	}
	t.Fatalf("running ferry: %v", err)
	return -1
}

// parseOutputs reads a GITHUB_OUTPUT file as the runner does: NAME=VALUE
// lines and NAME<<DELIMITER blocks. A repeated name keeps the last value.
func parseOutputs(s string) (map[string]string, error) {
	out := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		l := strings.TrimSuffix(lines[i], "\r")
		if l == "" {
			continue
		}
		if name, delim, ok := strings.Cut(l, "<<"); ok && !strings.Contains(name, "=") {
			var val []string
			j := i + 1
			for ; j < len(lines) && strings.TrimSuffix(lines[j], "\r") != delim; j++ {
				val = append(val, strings.TrimSuffix(lines[j], "\r"))
			}
			if j == len(lines) {
				return nil, fmt.Errorf("output %q: no closing delimiter %q", name, delim)
			}
			out[name] = strings.Join(val, "\n")
			i = j
			continue
		}
		name, val, ok := strings.Cut(l, "=")
		if !ok {
			return nil, fmt.Errorf("line %q is neither NAME=VALUE nor NAME<<DELIMITER", l)
		}
		out[name] = val
	}
	return out, nil
}

func dumpOutputs(m map[string]string) string {
	var b strings.Builder
	for _, k := range sortedNames(m) {
		b.WriteString(k + "=" + m[k] + "\n")
	}
	return b.String()
}

func sortedNames(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// kubeSecrets are the credentials in the harness's kubeconfig, and the
// base64 form CI secrets carry it in.
func kubeSecrets(t *testing.T) []string {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfigData)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range cfg.AuthInfos {
		if a.Token != "" {
			out = append(out, a.Token)
		}
	}
	if len(out) == 0 {
		t.Fatal("the harness's kubeconfig holds no token to look for")
	}
	return append(out, b64(kubeconfigData))
}

// assertMasksFirst checks that the log starts with ::add-mask:: commands,
// one of them for each of masked, and shows no secret (masked or any of
// the harness's) anywhere else.
func assertMasksFirst(t *testing.T, log string, masked []string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(log, "\n"), "\n")
	masks := map[string]bool{}
	i := 0
	for ; i < len(lines) && strings.HasPrefix(lines[i], "::add-mask::"); i++ {
		masks[strings.TrimPrefix(lines[i], "::add-mask::")] = true
	}
	if i == 0 {
		t.Fatalf("the log does not start with ::add-mask::\n%s", log)
	}
	for _, l := range lines[i:] {
		if strings.HasPrefix(l, "::add-mask::") {
			t.Errorf("::add-mask:: after other output: %q", l)
		}
	}
	for _, s := range masked {
		if !masks[s] {
			t.Errorf("no ::add-mask:: for a secret of %d characters", len(s))
		}
	}
	for _, s := range append(masked, secrets...) {
		for n, l := range lines[i:] {
			if strings.Contains(l, s) {
				t.Errorf("log line %d shows a secret", i+n+1)
			}
		}
	}
}

func assertNoSecrets(t *testing.T, what, s string, masked []string) {
	t.Helper()
	for _, sec := range append(masked, secrets...) {
		if strings.Contains(s, sec) {
			t.Errorf("%s shows a secret", what)
		}
	}
}

var (
	digestRe   = regexp.MustCompile(`sha256:[0-9a-f]{64}`)
	mdTimeRe   = regexp.MustCompile(`\| (\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s) \|$`)
	textTimeRe = regexp.MustCompile(`\s(\d+h)?(\d+m)?\d+(\.\d+)?(ns|µs|ms|s)$`)
	podRe      = regexp.MustCompile(`\b(web-[a-z]*-?)[0-9a-f]{6,10}-[a-z0-9]{5}\b`)
	// The kubelet's words after the reason vary from run to run (restart
	// count, back-off, pod name and uid).
	crashRe  = regexp.MustCompile(`CrashLoopBackOff \(.*$`)
	spacesRe = regexp.MustCompile(` {2,}`)
)

// normalize makes a report comparable across runs: the test's namespaces
// become names, digests sha256:DIGEST, durations DURATION, pod names
// web-POD, what the kubelet adds to CrashLoopBackOff (DETAILS), and runs of
// spaces (tabwriter's alignment) one space.
func normalize(s string, names map[string]string) string {
	for from, to := range names {
		s = strings.ReplaceAll(s, from, to)
	}
	s = digestRe.ReplaceAllString(s, "sha256:DIGEST")
	s = podRe.ReplaceAllString(s, "${1}POD")
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		l = mdTimeRe.ReplaceAllString(l, "| DURATION |")
		l = textTimeRe.ReplaceAllString(l, " DURATION")
		l = crashRe.ReplaceAllString(l, "CrashLoopBackOff (DETAILS)")
		lines[i] = spacesRe.ReplaceAllString(l, " ")
	}
	return strings.Join(lines, "\n")
}

// golden compares got with testdata/name, or writes it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	file := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run with -update to accept):\n--- got\n%s\n--- want\n%s", file, got, want)
	}
}

func TestGitHubActionPromotes(t *testing.T) {
	t.Parallel()
	sns, digest := stagingApp(t, "registry.test/shop", "v7")
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	dst := target(pns, "web", prodARN)
	masked := kubeSecrets(t)

	r := runAction(t, map[string]string{
		"command":         "promote",
		"source":          "k8s:" + sns + "/web?context=staging",
		"targets":         dst,
		"kubeconfig-data": b64(kubeconfigData),
		"timeout":         "90s",
	}, env{
		// A step's env: the inputs win over FERRY_* in the Action.
		"FERRY_TARGETS": "k8s:nowhere/web?context=nowhere",
		"FERRY_TIMEOUT": "soon",
	})
	if r.code != 0 {
		t.Fatalf("want exit 0\n%s", r)
	}
	image := "registry.test/shop@" + digest
	want := map[string]string{"digest": digest, "source-image": image, "result": "promoted", "rolled-back": ""}
	for k, v := range want {
		if r.outputs[k] != v {
			t.Errorf("output %s=%q, want %q", k, r.outputs[k], v)
		}
	}
	assertDeclaredOutputs(t, r.outputs)
	var rep promote.Report
	if err := json.Unmarshal([]byte(r.outputs["report"]), &rep); err != nil {
		t.Fatalf("output report is not JSON: %v", err)
	}
	if rep.Command != "promote" || rep.Outcome != promote.OutcomePromoted || rep.Digest != digest || len(rep.Targets) != 1 || rep.Targets[0].Status != promote.StatusPromoted || rep.Targets[0].Target != dst {
		t.Errorf("output report %+v", rep)
	}
	if !strings.Contains(r.log, "::notice::promoted "+image) || strings.Contains(r.log, "::error") {
		t.Errorf("want a notice naming the image and no error annotation\n%s", r.log)
	}
	assertMasksFirst(t, r.log, masked)
	assertNoSecrets(t, "the outputs", dumpOutputs(r.outputs), masked)
	assertNoSecrets(t, "the step summary", r.summary, masked)
	golden(t, "github-promote.summary.golden", normalize(r.summary, map[string]string{sns: "STAGING_NS", pns: "PROD_NS"}))

	d := get(t, production, pns, "web")
	if imageOf(d, "app") != image {
		t.Errorf("production runs %s, want %s", imageOf(d, "app"), image)
	}
	if cause := d.Annotations["kubernetes.io/change-cause"]; !strings.Contains(cause, "https://github.com/acme/shop/actions/runs/4242") {
		t.Errorf("change-cause %q does not link the workflow run", cause)
	}
}

func TestGitHubActionRestoresAfterCrash(t *testing.T) {
	t.Parallel()
	src := "registry.test/shop-crash@" + fakeDigest(t.Name())
	pns := namespace(t, production)
	before := create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	rs := activeReplicaSet(t, production.Admin, before).Name
	dst := target(pns, "web", "production")
	masked := kubeSecrets(t)

	r := runAction(t, map[string]string{
		"command":         "promote",
		"source":          src,
		"targets":         dst,
		"kubeconfig-data": b64(kubeconfigData),
		"timeout":         "90s",
	}, nil)
	if r.code != 1 {
		t.Fatalf("want exit 1 (failed, restored)\n%s", r)
	}
	want := map[string]string{"digest": fakeDigest(t.Name()), "source-image": src, "result": "failed", "rolled-back": dst}
	for k, v := range want {
		if r.outputs[k] != v {
			t.Errorf("output %s=%q, want %q", k, r.outputs[k], v)
		}
	}
	assertDeclaredOutputs(t, r.outputs)
	var rep promote.Report
	if err := json.Unmarshal([]byte(r.outputs["report"]), &rep); err != nil {
		t.Fatalf("output report is not JSON: %v", err)
	}
	if rep.Outcome != promote.OutcomeFailed || len(rep.Targets) != 1 || rep.Targets[0].Status != promote.StatusRestored {
		t.Errorf("output report %+v", rep)
	}
	var annotation string
	for _, l := range strings.Split(r.log, "\n") {
		if strings.HasPrefix(l, "::error") {
			annotation = l
		}
	}
	if !strings.HasPrefix(annotation, "::error::ferry promote: failed: ") || !strings.Contains(annotation, "CrashLoopBackOff") {
		t.Errorf("error annotation %q: want ::error:: saying promote failed with CrashLoopBackOff", annotation)
	}
	assertMasksFirst(t, r.log, masked)
	assertNoSecrets(t, "the outputs", dumpOutputs(r.outputs), masked)
	assertNoSecrets(t, "the step summary", r.summary, masked)
	golden(t, "github-crash.summary.golden", normalize(r.summary, map[string]string{pns: "PROD_NS"}))
	assertRestored(t, before, rs)
}

// TestGitHubActionBadInput runs the action with a target that is no
// address: exit 2, nothing changed, and the problem named by its input.
func TestGitHubActionBadInput(t *testing.T) {
	t.Parallel()
	pns := namespace(t, production)
	create(t, production, pns, deploy{name: "web", containers: []corev1.Container{container("app", "registry.test/shop:v6")}})
	r := runAction(t, map[string]string{
		"command":         "promote",
		"source":          "registry.test/shop@" + fakeDigest(t.Name()),
		"targets":         "k8:" + pns + "/web",
		"kubeconfig-data": b64(kubeconfigData),
	}, nil)
	if r.code != 2 || !strings.Contains(r.log, `input "targets"`) {
		t.Fatalf("want exit 2 naming the targets input\n%s", r)
	}
	// Masks come first even here, and the step still gets its result.
	assertMasksFirst(t, r.log, kubeSecrets(t))
	if r.outputs["result"] != "bad-input" || !strings.Contains(r.log, "::error::") {
		t.Errorf("want output result=bad-input and an error annotation; outputs %v", r.outputs)
	}
	if m := mutations(t, production, pns); len(m) != 0 {
		t.Fatalf("bad input wrote to production: %v", m)
	}
}

// assertDeclaredOutputs checks that ferry set exactly the outputs
// action.yml declares.
func assertDeclaredOutputs(t *testing.T, got map[string]string) {
	t.Helper()
	a, err := frontends.LoadAction("../action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for k := range a.Outputs {
		declared = append(declared, k)
	}
	sort.Strings(declared)
	if set := sortedNames(got); strings.Join(set, " ") != strings.Join(declared, " ") {
		t.Errorf("ferry set outputs %v, action.yml declares %v", set, declared)
	}
}
