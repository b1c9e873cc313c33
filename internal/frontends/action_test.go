package frontends

import (
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/pkg/config"
)

var update = flag.Bool("update", false, "rewrite the generated part of action.yml")

const (
	actionFile  = "../../action.yml"
	releaseFile = "../../.github/workflows/release.yml"
	exampleFile = "../../.github/workflows/example-promote.yml"
	beginInputs = "  # BEGIN INPUTS"
	endInputs   = "  # END INPUTS"
)

// inputVars are the settings that are action inputs, in Vars order.
func inputVars() []config.Var {
	var out []config.Var
	for _, v := range config.Vars() {
		if v.Input != "" {
			out = append(out, v)
		}
	}
	return out
}

// inputsBlock is action.yml's generated inputs.
func inputsBlock() string {
	var b strings.Builder
	for _, v := range inputVars() {
		b.WriteString("  " + v.Input + ":\n    description: >-\n")
		b.WriteString(wrap(v.Description, "      ", 80) + "\n")
		b.WriteString("    required: false\n")
		if v.Default != "" {
			b.WriteString("    default: " + strconv.Quote(v.Default) + "\n")
		}
	}
	return b.String()
}

// wrap folds s into lines of at most width characters (words permitting),
// each starting with indent, for a YAML folded scalar.
func wrap(s, indent string, width int) string {
	var lines []string
	cur := ""
	for _, w := range strings.Fields(s) {
		switch {
		case cur == "":
			cur = w
		case len(indent)+len(cur)+1+len(w) > width:
			lines = append(lines, cur)
			cur = w
		default:
			cur += " " + w
		}
	}
	lines = append(lines, cur)
	return indent + strings.Join(lines, "\n"+indent)
}

// TestActionInputs fails when action.yml's inputs and the settings of
// pkg/config differ: names, descriptions, defaults, required. With -update
// it rewrites the generated block.
func TestActionInputs(t *testing.T) {
	b, err := os.ReadFile(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	i, j := strings.Index(s, beginInputs), strings.Index(s, endInputs)
	if i < 0 || j < i {
		t.Fatalf("action.yml lacks the %q ... %q markers", beginInputs, endInputs)
	}
	i += strings.Index(s[i:], "\n") + 1
	if *update {
		s = s[:i] + inputsBlock() + s[j:]
		if err := os.WriteFile(actionFile, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
		j = strings.Index(s, endInputs)
	}

	a, err := LoadAction(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]config.Var{}
	for _, v := range inputVars() {
		want[v.Input] = v
	}
	for _, name := range a.InputNames() {
		if _, ok := want[name]; !ok {
			t.Errorf("input %q is no setting of pkg/config", name)
		}
	}
	for _, name := range sortedKeys(want) {
		v := want[name]
		in, ok := a.Inputs[name]
		if !ok {
			t.Errorf("setting %s has no input %q", v.Name, name)
			continue
		}
		if in.Description != v.Description {
			t.Errorf("input %q: description\n  %q\nwant (pkg/config)\n  %q", name, in.Description, v.Description)
		}
		if _, isString := in.Default.(string); in.Default != nil && !isString {
			t.Errorf("input %q: default %v is not a string; quote it", name, in.Default)
		}
		if got := in.DefaultText(); got != v.Default {
			t.Errorf("input %q: default %q, want %q (pkg/config)", name, got, v.Default)
		}
		if in.Required != false {
			t.Errorf("input %q: required %v; ferry checks what each command needs, so no input is required", name, in.Required)
		}
	}
	if got := s[i:j]; got != inputsBlock() {
		t.Errorf("action.yml's generated inputs are not what pkg/config gives; run go test ./internal/frontends -run TestActionInputs -update")
	}
}

// setOutputs are the outputs pkg/report's GitHub writer sets:
// the literal first arguments of SetOutput calls in github.go.
func setOutputs(t *testing.T) []string {
	t.Helper()
	f, err := parser.ParseFile(token.NewFileSet(), "../../pkg/report/github.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok || sel.Sel.Name != "SetOutput" || len(call.Args) != 2 {
			return true
		}
		lit, ok := call.Args[0].(*ast.BasicLit)
		if !ok || lit.Kind != token.STRING {
			t.Errorf("SetOutput with a name that is not a string literal at %v; this test cannot follow it", call.Pos())
			return true
		}
		name, _ := strconv.Unquote(lit.Value)
		out = append(out, name)
		return true
	})
	sort.Strings(out)
	return out
}

// outcomes are the values of promote.Outcome, read from its source.
func outcomes(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("../../pkg/promote/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			if id, ok := vs.Type.(*ast.Ident); !ok || id.Name != "Outcome" {
				return true
			}
			for _, v := range vs.Values {
				if lit, ok := v.(*ast.BasicLit); ok {
					s, _ := strconv.Unquote(lit.Value)
					out = append(out, s)
				}
			}
			return true
		})
	}
	if len(out) == 0 {
		t.Fatal("found no Outcome constants in pkg/promote")
	}
	return out
}

func TestActionOutputs(t *testing.T) {
	a, err := LoadAction(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	var declared []string
	for name, o := range a.Outputs {
		declared = append(declared, name)
		if strings.TrimSpace(o.Description) == "" {
			t.Errorf("output %q has no description", name)
		}
		if o.Value != "" {
			t.Errorf("output %q has a value; a docker action's outputs come from GITHUB_OUTPUT", name)
		}
	}
	sort.Strings(declared)
	if set := setOutputs(t); !reflect.DeepEqual(declared, set) {
		t.Errorf("action.yml declares outputs %v, pkg/report sets %v", declared, set)
	}
	for _, o := range outcomes(t) {
		if !strings.Contains(a.Outputs["result"].Description, o) {
			t.Errorf("output result's description does not name the outcome %q", o)
		}
	}
}

var majorTagRe = regexp.MustCompile(`^docker://ghcr\.io/ferry-dev/ferry:(v\d+)$`)

func TestActionRunsTheReleasedImage(t *testing.T) {
	a, err := LoadAction(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	if a.Name == "" || a.Description == "" || a.Branding["icon"] == "" || a.Branding["color"] == "" {
		t.Errorf("name %q description %q branding %v: the Marketplace needs all three", a.Name, a.Description, a.Branding)
	}
	if a.Runs.Using != "docker" {
		t.Errorf("runs.using %q, want docker", a.Runs.Using)
	}
	// main names the moving major tag; a release's commit names its image
	// by digest (hack/release/pin, run by release.yml, tested there).
	if !majorTagRe.MatchString(a.Runs.Image) {
		t.Errorf("runs.image %q is not docker://ghcr.io/ferry-dev/ferry:vN (the moving major tag, on main)", a.Runs.Image)
	}
	// ferry reads its command and settings from INPUT_*; arguments would
	// override them.
	if a.Runs.Args == nil || len(a.Runs.Args) != 0 || a.Runs.Entrypoint != "" || len(a.Runs.Env) != 0 {
		t.Errorf("runs args %q entrypoint %q env %v: want args: [] and nothing else", a.Runs.Args, a.Runs.Entrypoint, a.Runs.Env)
	}
	rel, err := os.ReadFile(releaseFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"IMAGE_REPO: ghcr.io/ferry-dev/ferry",                     // where images.sh pushes
		`major=${VERSION%%.*}`,                                    // the moving major tag
		`hack/release/images.sh "$VERSION" ${MOVING:+"$MOVING"}`,  // pushes :vN too
		`go run ./hack/release/pin -action-image "$ACTION_IMAGE"`, // the release pins its image
		`go run ./hack/release/pin -check`,
		`git tag --force "$MAJOR"`, // uses: ferry-dev/ferry@vN moves
	} {
		if !strings.Contains(string(rel), want) {
			t.Errorf("release.yml does not contain %q: a release would not pin the action's image or move the tags users follow", want)
		}
	}
}

func TestActionEnv(t *testing.T) {
	a := Action{Inputs: map[string]Input{
		"kubeconfig-data": {},
		"timeout":         {Default: "5m"},
		"parallelism":     {Default: float64(4)},
	}}
	env, err := a.Env(map[string]string{"kubeconfig-data": "a2luZDogQ29uZmln"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"INPUT_KUBECONFIG-DATA=a2luZDogQ29uZmln", "INPUT_PARALLELISM=4", "INPUT_TIMEOUT=5m"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("env %q, want %q", env, want)
	}
	if _, err := a.Env(map[string]string{"kubeconfig_data": "x"}); err == nil || !strings.Contains(err.Error(), "kubeconfig_data") {
		t.Errorf("an undeclared input: err %v", err)
	}
	if got := InputVar("a b-c"); got != "INPUT_A_B-C" {
		t.Errorf("InputVar: %s", got)
	}
}

func TestLoadActionRefusesUnknownKeys(t *testing.T) {
	f := t.TempDir() + "/action.yml"
	if err := os.WriteFile(f, []byte("name: x\ninputs:\n  a:\n    kind: string\nruns:\n  using: docker\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAction(f); err == nil || !strings.Contains(err.Error(), "kind") {
		t.Fatalf("want an error naming the unknown key, got %v", err)
	}
}

// TestExampleWorkflowUsesTheAction checks the example workflow against
// action.yml: the same major version, declared inputs, declared outputs.
func TestExampleWorkflowUsesTheAction(t *testing.T) {
	a, err := LoadAction(actionFile)
	if err != nil {
		t.Fatal(err)
	}
	major := majorTagRe.FindStringSubmatch(a.Runs.Image)
	if major == nil {
		t.Fatalf("runs.image %q", a.Runs.Image)
	}
	b, err := os.ReadFile(exampleFile)
	if err != nil {
		t.Fatal(err)
	}
	var wf struct {
		Jobs map[string]struct {
			Steps []struct {
				ID   string            `json:"id"`
				Uses string            `json:"uses"`
				With map[string]string `json:"with"`
			} `json:"steps"`
		} `json:"jobs"`
	}
	if err := yaml.Unmarshal(b, &wf); err != nil {
		t.Fatal(err)
	}
	uses := 0
	for _, j := range wf.Jobs {
		for _, s := range j.Steps {
			if !strings.HasPrefix(s.Uses, "ferry-dev/ferry@") {
				continue
			}
			uses++
			if want := "ferry-dev/ferry@" + major[1]; s.Uses != want {
				t.Errorf("the example uses %s, action.yml runs the image of %s", s.Uses, want)
			}
			if _, err := a.Env(s.With); err != nil {
				t.Errorf("the example's with: %v", err)
			}
			if _, ok := s.With["kubeconfig-data"]; ok && !strings.Contains(s.With["kubeconfig-data"], "secrets.") {
				t.Errorf("the example passes kubeconfig-data from somewhere other than secrets: %q", s.With["kubeconfig-data"])
			}
		}
	}
	if uses == 0 {
		t.Fatal("the example workflow does not use ferry-dev/ferry")
	}
	for _, m := range regexp.MustCompile(`steps\.ferry\.outputs\.([A-Za-z0-9_-]+)`).FindAllStringSubmatch(string(b), -1) {
		if _, ok := a.Outputs[m[1]]; !ok {
			t.Errorf("the example reads output %q, which action.yml does not declare", m[1])
		}
	}
}
