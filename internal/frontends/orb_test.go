package frontends

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/ferry-dev/ferry/pkg/config"
)

const orbDir = "../../orb/src"

func packed(t *testing.T) Orb {
	t.Helper()
	o, err := PackOrb(orbDir)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func TestOrbIsValid(t *testing.T) {
	o := packed(t)
	if err := o.Validate(); err != nil {
		t.Fatalf("the orb is not valid:\n%v", err)
	}
	if err := CheckWithCircleCI(t.Context(), "../..", o); err != nil {
		t.Fatalf("CircleCI's parser finds problems in the orb:\n%v", err)
	}
	for _, want := range []string{"commands", "jobs", "executors", "examples"} {
		if len(o.Section(want)) == 0 {
			t.Errorf("the packed orb has no %s", want)
		}
	}
	for _, ex := range []string{"kubernetes", "heroku", "eks-oidc", "gke-oidc"} {
		if _, ok := o.Section("examples")[ex]; !ok {
			t.Errorf("no example %q", ex)
		}
	}
	// The script is inlined, and it is the one in scripts/.
	script, err := os.ReadFile(filepath.Join(orbDir, "scripts", "ferry.sh"))
	if err != nil {
		t.Fatal(err)
	}
	steps, err := o.ExpandCommand("status", nil)
	if err != nil {
		t.Fatal(err)
	}
	r, ok := AsRun(steps[0])
	if len(steps) != 1 || !ok || r.Command != string(script) {
		t.Fatalf("the status command does not run scripts/ferry.sh inlined: %#v", steps)
	}
}

// settingTypes maps a FERRY_* key ("PARALLELISM") to its Go type, from the
// env tags of config.Settings.
func settingTypes() map[string]reflect.Type {
	out := map[string]reflect.Type{}
	ct := reflect.TypeFor[config.Settings]()
	for i := range ct.NumField() {
		f := ct.Field(i)
		if key, _, _ := strings.Cut(f.Tag.Get("env"), ","); key != "" && key != "-" {
			out[key] = f.Type
		}
	}
	return out
}

// orbOnly are parameters that are no ferry setting.
var orbOnly = map[string]string{
	"no-output-timeout": TypeString, // CircleCI's no_output_timeout
	// CircleCI deploy markers, logged by the orb itself.
	"deploy-environment": TypeString,
	"deploy-component":   TypeString,
	"deploy-version":     TypeString,
	"executor":           TypeExecutor,
	"before-promote":     TypeSteps,
	"after-promote":      TypeSteps,
}

// mirror is what an orb parameter must look like for a ferry setting.
type mirror struct {
	v     config.Var
	param string // parameter name
	env   string // variable of the run step that carries it
}

func mirrors() map[string]mirror {
	out := map[string]mirror{}
	for _, v := range config.Vars() {
		if v.Input == "" || v.Input == "command" {
			continue // FERRY_MODE is detected; the command is the orb command
		}
		m := mirror{v: v, param: v.Input, env: v.Name}
		if v.Secret {
			m.param = v.Input + "-var"
			m.env = "PARAM_" + strings.TrimPrefix(v.Name, config.Prefix) + "_VAR"
		}
		out[m.param] = m
	}
	return out
}

// validates reports whether value is a valid value of setting v for ferry.
func validates(t *testing.T, v config.Var, value string) bool {
	t.Helper()
	c, err := config.Load([]string{v.Name + "=" + value, "FERRY_TARGETS=k8s:shop/web"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Check(config.CommandStatus)
	var ve *config.ValidationError
	if err != nil && !errors.As(err, &ve) {
		t.Fatal(err)
	}
	if ve != nil {
		for _, p := range ve.Problems {
			if strings.Contains(p.Var, v.Name) {
				return false
			}
		}
	}
	return true
}

// ferryCommands are the orb's commands that run ferry (scripts/ferry.sh);
// the only other command is install (TestOrbInstall).
var ferryCommands = []string{"plan", "promote", "recover", "rollback", "status"}

// TestOrbParametersMirrorSettings holds every command's and job's
// parameters to pkg/config: the name, type, default and description of the
// setting; secrets as env_var_name parameters naming where the secret is;
// and the run step's environment carrying each to its FERRY_* variable.
func TestOrbParametersMirrorSettings(t *testing.T) {
	o := packed(t)
	ms := mirrors()
	commands := o.Section("commands")
	if got, want := sortedKeys(commands), []string{"install", "plan", "promote", "recover", "rollback", "status"}; !reflect.DeepEqual(got, want) {
		t.Errorf("the orb's commands are %v, want %v (a new command that runs ferry joins ferryCommands)", got, want)
	}
	for _, name := range ferryCommands {
		at := "command " + name
		c := asMap(t, commands[name], at)
		checkMirroredParams(t, at, Params(c), ms)
		checkRunStepCarries(t, at, name, c, ms)
	}

	// promote takes every setting but the rollback-only one, rollback
	// takes that one.
	promote := asMap(t, commands["promote"], "command promote")
	have := paramMap(promote)
	for _, name := range sortedKeys(ms) {
		if _, ok := have[name]; !ok && name != "to-revision" {
			t.Errorf("command promote lacks parameter %s", name)
		}
	}
	if _, ok := paramMap(asMap(t, commands["rollback"], "command rollback"))["to-revision"]; !ok {
		t.Errorf("command rollback lacks to-revision")
	}

	// The job takes what the command takes and hands it all on.
	job := asMap(t, o.Section("jobs")["promote"], "job promote")
	checkMirroredParams(t, "job promote", Params(job), ms)
	checkJobPassesOn(t, job, Params(promote))
}

// checkMirroredParams checks each parameter against the setting it
// mirrors (or the orb's own parameters).
func checkMirroredParams(t *testing.T, at string, params []Param, ms map[string]mirror) {
	t.Helper()
	types := settingTypes()
	for _, p := range params {
		if want, ok := orbOnly[p.Name]; ok {
			if p.Type != want {
				t.Errorf("%s: parameter %s is a %s, want %s", at, p.Name, p.Type, want)
			}
			continue
		}
		m, ok := ms[p.Name]
		switch {
		case !ok:
			t.Errorf("%s: parameter %s is no ferry setting", at, p.Name)
		case m.v.Secret:
			checkSecretParam(t, at, p, m.v)
		default:
			checkSettingParam(t, at, p, m.v, types[strings.TrimPrefix(m.v.Name, config.Prefix)])
		}
	}
}

// checkSecretParam: a secret is an env_var_name parameter defaulting to
// the variable ferry reads it from.
func checkSecretParam(t *testing.T, at string, p Param, v config.Var) {
	t.Helper()
	def := v.Name
	if v.Alias != "" {
		def = v.Alias
	}
	if p.Type != TypeEnvVarName || Scalar(p.Default) != def || !strings.HasSuffix(p.Description, v.Description) {
		t.Errorf("%s: secret parameter %s: type %s default %v; want env_var_name defaulting to %s, described as %q", at, p.Name, p.Type, p.Default, def, v.Description)
	}
}

// checkSettingParam: any other setting has its description and default,
// and the type of its Go field (an enum only when ferry refuses other
// values, and offering only values ferry takes).
func checkSettingParam(t *testing.T, at string, p Param, v config.Var, typ reflect.Type) {
	t.Helper()
	if p.Description != v.Description {
		t.Errorf("%s: parameter %s: description\n  %q\nwant (pkg/config)\n  %q", at, p.Name, p.Description, v.Description)
	}
	if !p.HasDefault || Scalar(p.Default) != v.Default {
		t.Errorf("%s: parameter %s: default %v, want %q (pkg/config)", at, p.Name, p.Default, v.Default)
	}
	if want := paramTypeFor(typ, p.Type); p.Type != want {
		t.Errorf("%s: parameter %s is a %s, the setting (%s) wants %s", at, p.Name, p.Type, typ, want)
	}
	if p.Type != TypeEnum {
		return
	}
	for _, e := range p.Enum {
		if !validates(t, v, e) {
			t.Errorf("%s: parameter %s offers %q, which ferry refuses", at, p.Name, e)
		}
	}
	if validates(t, v, "not-"+strings.Join(p.Enum, "-")) {
		t.Errorf("%s: ferry takes any value of %s; it should be a string, not an enum", at, v.Name)
	}
}

// paramTypeFor is the parameter type a setting of Go type typ takes; a
// string setting may be an enum (have is the declared type).
func paramTypeFor(typ reflect.Type, have string) string {
	switch {
	case typ == reflect.TypeFor[time.Duration]():
		return TypeString
	case typ.Kind() == reflect.Int:
		return TypeInteger
	case typ.Kind() == reflect.Bool:
		return TypeBoolean
	case have == TypeEnum:
		return TypeEnum
	}
	return TypeString
}

// checkRunStepCarries checks that a command is one run step whose
// environment carries every setting parameter to its variable, and the
// command to FERRY_COMMAND.
func checkRunStepCarries(t *testing.T, at, name string, c map[string]any, ms map[string]mirror) {
	t.Helper()
	steps, _ := c["steps"].([]any)
	if name == "promote" {
		steps = ferrySteps(t, steps)
	}
	if len(steps) != 1 {
		t.Errorf("%s: %d steps, want the one run step", at, len(steps))
		return
	}
	r, ok := AsRun(steps[0])
	if !ok {
		t.Errorf("%s: the step is not a run step", at)
		return
	}
	want := map[string]string{"FERRY_COMMAND": name}
	for _, p := range Params(c) {
		if m, ok := ms[p.Name]; ok {
			want[m.env] = "<< parameters." + p.Name + " >>"
		}
	}
	if !reflect.DeepEqual(r.Environment, want) {
		t.Errorf("%s: the run step's environment\n  %v\nwant\n  %v", at, r.Environment, want)
	}
}

// checkJobPassesOn checks that the job declares every parameter of the
// promote command as the command does, and passes each on to it.
func checkJobPassesOn(t *testing.T, job map[string]any, command []Param) {
	t.Helper()
	jp := paramMap(job)
	for _, p := range command {
		if q, ok := jp[p.Name]; !ok || !reflect.DeepEqual(q, p) {
			t.Errorf("job promote: parameter %s is not the command's (%+v)", p.Name, q)
		}
	}
	steps, _ := job["steps"].([]any)
	for _, s := range steps {
		sm, _ := s.(map[string]any)
		call, ok := sm["promote"].(map[string]any)
		if !ok {
			continue
		}
		for _, p := range command {
			if call[p.Name] != "<< parameters."+p.Name+" >>" {
				t.Errorf("job promote does not pass %s on to the command: %v", p.Name, call[p.Name])
			}
		}
		return
	}
	t.Errorf("job promote does not call the promote command")
}

// asMap returns v as a map, failing the test when it is not one.
func asMap(t testing.TB, v any, what string) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is a %T, not a map", what, v)
	}
	return m
}

// dig walks a decoded YAML document: a string indexes a map, an int a
// list. It fails the test when the path is not there.
func dig(t testing.TB, doc any, path ...any) any {
	t.Helper()
	if o, ok := doc.(Orb); ok {
		doc = map[string]any(o)
	}
	for i, key := range path {
		switch k := key.(type) {
		case string:
			m, ok := doc.(map[string]any)
			if !ok {
				t.Fatalf("%v: %T is not a map", path[:i+1], doc)
			}
			if doc, ok = m[k]; !ok {
				t.Fatalf("%v: no key %q", path[:i+1], k)
			}
		case int:
			l, ok := doc.([]any)
			if !ok || k >= len(l) {
				t.Fatalf("%v: %T is not a list with an item %d", path[:i+1], doc, k)
			}
			doc = l[k]
		}
	}
	return doc
}

// digMap and digList are dig for a map and a list.
func digMap(t testing.TB, doc any, path ...any) map[string]any {
	t.Helper()
	return asMap(t, dig(t, doc, path...), pathString(path))
}

func pathString(path []any) string { return fmt.Sprintf("%v", path) }

func digList(t testing.TB, doc any, path ...any) []any {
	t.Helper()
	l, ok := dig(t, doc, path...).([]any)
	if !ok {
		t.Fatalf("%s is not a list", pathString(path))
	}
	return l
}

func TestExpandJob(t *testing.T) {
	o := packed(t)
	j, err := o.ExpandJob("promote", map[string]any{
		"executor":       map[string]any{"name": "default", "resource-class": "medium"},
		"source":         "k8s:shop/web?context=staging",
		"targets":        "k8s:shop/web?context=prod&container=app",
		"parallelism":    float64(2),
		"resolve-tags":   true,
		"before-promote": []any{map[string]any{"run": "echo before"}},
		"after-promote":  []any{map[string]any{"run": map[string]any{"name": "after", "command": "echo after"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if docker := digList(t, j.Executor, "docker"); len(docker) != 1 || dig(t, docker, 0, "image") != "ghcr.io/ferry-dev/ferry:v0-shell" || j.Executor["resource_class"] != "medium" {
		t.Errorf("executor %v", j.Executor)
	}
	var names []string
	for _, s := range j.Steps {
		r, ok := AsRun(s)
		if !ok {
			t.Fatalf("step %v is not a run step", s)
		}
		names = append(names, r.Name)
		if r.Name != "ferry promote" {
			continue
		}
		for k, want := range map[string]string{
			"FERRY_COMMAND":             "promote",
			"FERRY_SOURCE":              "k8s:shop/web?context=staging",
			"FERRY_TARGETS":             "k8s:shop/web?context=prod&container=app",
			"FERRY_PARALLELISM":         "2",
			"FERRY_RESOLVE_TAGS":        "true",
			"FERRY_TIMEOUT":             "5m",
			"FERRY_HEALTH_BODY":         "",
			"PARAM_KUBECONFIG_DATA_VAR": "FERRY_KUBECONFIG_DATA",
			"PARAM_HEROKU_API_KEY_VAR":  "HEROKU_API_KEY",
		} {
			if got, ok := r.Environment[k]; !ok || got != want {
				t.Errorf("%s=%q, want %q", k, got, want)
			}
		}
	}
	if want := []string{"echo before", "ferry deploy marker (plan)", "ferry promote", "ferry deploy marker (success)", "ferry deploy marker (failed)", "after"}; !reflect.DeepEqual(names, want) {
		t.Errorf("steps %q, want %q", names, want)
	}

	for _, c := range []struct {
		args map[string]any
		want string
	}{
		{map[string]any{"sauce": "x"}, `unknown parameter "sauce"`},
		{map[string]any{"parallelism": "four"}, `"parallelism": four is not an integer`},
		{map[string]any{"output": "yaml"}, `"output": yaml is not one of text, json`},
		{map[string]any{"kubeconfig-data-var": "MY-VAR"}, "not an environment variable name"},
		{map[string]any{"executor": map[string]any{"name": "default", "tagg": "v1"}}, `unknown parameter "tagg"`},
	} {
		if _, err := o.ExpandJob("promote", c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("args %v: err %v, want %q", c.args, err, c.want)
		}
	}
}

// writeOrb writes files (path → content) as an orb source tree.
func writeOrb(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		f := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

const validOrb = `
version: 2.1
description: an orb
display:
  home_url: https://example.com
  source_url: https://example.com/src
commands:
  greet:
    description: says hello
    parameters:
      to: {type: string, default: world, description: whom}
      loud: {type: boolean, default: false, description: shout}
      key-var: {type: env_var_name, default: API_KEY, description: where the key is}
    steps:
      - run:
          name: greet
          environment:
            TO: << parameters.to >>
            LOUD: << parameters.loud >>
            KEY_VAR: << parameters.key-var >>
          command: echo "hello $TO"
executors:
  default:
    description: an image
    parameters:
      tag: {type: string, default: "1", description: the tag}
    docker:
      - image: busybox:<< parameters.tag >>
jobs:
  hello:
    description: greets
    executor: << parameters.executor >>
    parameters:
      executor: {type: executor, default: default, description: where}
      pre: {type: steps, default: [], description: steps first}
      to: {type: string, default: world, description: whom}
      times: {type: integer, default: 1, description: how often}
      mood: {type: enum, enum: [happy, sad], default: happy, description: how}
    environment:
      TIMES: << parameters.times >>
      MOOD: << parameters.mood >>
    steps:
      - steps: << parameters.pre >>
      - greet:
          to: << parameters.to >>
examples:
  use:
    description: use it
    usage:
      version: 2.1
      orbs:
        x: ns/x@1.0
      workflows:
        w:
          jobs:
            - x/hello:
                to: you
                requires: [build]
`

// validOrbDoc is validOrb, decoded.
func validOrbDoc(t *testing.T) Orb {
	t.Helper()
	var o Orb
	if err := yaml.Unmarshal([]byte(validOrb), &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// Parts of validOrb that the tests below break.
func greetCommand(t *testing.T, o Orb) map[string]any { return digMap(t, o, "commands", "greet") }
func helloJob(t *testing.T, o Orb) map[string]any     { return digMap(t, o, "jobs", "hello") }
func greetRun(t *testing.T, o Orb) map[string]any {
	return digMap(t, o, "commands", "greet", "steps", 0, "run")
}
func exampleWorkflow(t *testing.T, o Orb) map[string]any {
	return digMap(t, o, "examples", "use", "usage", "workflows", "w")
}
func paramSpec(t *testing.T, el map[string]any, name string) map[string]any {
	return digMap(t, el, "parameters", name)
}

// TestValidateFindsProblems breaks a valid orb one way at a time and checks
// that Validate names the problem.
func TestValidateFindsProblems(t *testing.T) {
	if err := validOrbDoc(t).Validate(); err != nil {
		t.Fatalf("the valid orb is not valid: %v", err)
	}
	cases := []struct {
		name   string
		break_ func(t *testing.T, o Orb)
		want   string
	}{
		{"unknown top-level key", func(t *testing.T, o Orb) { o["job"] = map[string]any{} }, `orb: unknown key "job"`},
		{"wrong version", func(t *testing.T, o Orb) { o["version"] = 2.0 }, "version must be 2.1"},
		{"no description", func(t *testing.T, o Orb) { delete(o, "description") }, "orb: needs a description"},
		{"display not https", func(t *testing.T, o Orb) { o["display"] = map[string]any{"home_url": "example.com"} }, "display.home_url: must be an https URL"},
		{"no source_url", func(t *testing.T, o Orb) { delete(o, "display") }, "display: must be a map with source_url"},
		{"run without name", func(t *testing.T, o Orb) { delete(greetRun(t, o), "name") }, "needs a name"},
		{"bad name", func(t *testing.T, o Orb) { o.Section("commands")["Greet"] = greetCommand(t, o) }, "commands.Greet: name must be lower-case"},
		{"declared, not used", func(t *testing.T, o Orb) { delete(digMap(t, greetRun(t, o), "environment"), "LOUD") }, `commands.greet: declares parameter "loud" but never uses it`},
		{"used, not declared", func(t *testing.T, o Orb) { digMap(t, greetRun(t, o), "environment")["X"] = "<< parameters.x >>" }, "commands.greet: uses << parameters.x >>, which it does not declare"},
		{"parameter in the shell command", func(t *testing.T, o Orb) { greetRun(t, o)["command"] = "echo << parameters.to >>" }, "pass it through environment instead"},
		{"enum default outside", func(t *testing.T, o Orb) { paramSpec(t, helloJob(t, o), "mood")["default"] = "angry" }, "default: angry is not one of happy, sad"},
		{"parameter without description", func(t *testing.T, o Orb) { delete(paramSpec(t, greetCommand(t, o), "to"), "description") }, "parameters.to: needs a description"},
		{"unknown command", func(t *testing.T, o Orb) {
			helloJob(t, o)["steps"] = append(digList(t, o, "jobs", "hello", "steps"), "greeet")
		}, `"greeet" is neither a built-in step nor a command of the orb`},
		{"unknown command argument", func(t *testing.T, o Orb) {
			digMap(t, o, "jobs", "hello", "steps", 1, "greet")["too"] = "x"
		}, `command greet: unknown parameter "too"`},
		{"unknown executor", func(t *testing.T, o Orb) { paramSpec(t, helloJob(t, o), "executor")["default"] = "other" }, `the orb has no executor "other"`},
		{"job without environment", func(t *testing.T, o Orb) { delete(helloJob(t, o), "executor") }, "needs exactly one of executor, docker, machine, macos"},
		{"steps parameter misused", func(t *testing.T, o Orb) { digMap(t, helloJob(t, o), "environment")["PRE"] = "<< parameters.pre >>" }, `steps parameter "pre" must be used as`},
		{"executor parameter misused", func(t *testing.T, o Orb) { digMap(t, helloJob(t, o), "environment")["E"] = "<< parameters.executor >>" }, `executor parameter "executor" must be used as`},
		{"executor parameter unused", func(t *testing.T, o Orb) {
			digMap(t, o, "executors", "default")["docker"] = []any{map[string]any{"image": "busybox"}}
		}, `executors.default: declares parameter "tag" but never uses it`},
		{"example job unknown", func(t *testing.T, o Orb) {
			exampleWorkflow(t, o)["jobs"] = []any{"x/bye"}
		}, `the orb has no job "bye"`},
		{"example argument unknown", func(t *testing.T, o Orb) {
			exampleWorkflow(t, o)["jobs"] = []any{map[string]any{"x/hello": map[string]any{"too": "you"}}}
		}, `x/hello: unknown parameter "too"`},
		{"example orb not imported", func(t *testing.T, o Orb) {
			exampleWorkflow(t, o)["jobs"] = []any{"y/hello"}
		}, `orb "y" is not imported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := validOrbDoc(t)
			c.break_(t, o)
			err := o.Validate()
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a problem containing %q, got:\n%v", c.want, err)
			}
		})
	}
}

// TestCircleCIParserFindsProblems breaks a valid orb one way at a time and
// checks that CircleCI's parser (CheckWithCircleCI) names the problem: what
// Validate leaves to it.
func TestCircleCIParserFindsProblems(t *testing.T) {
	if err := CheckWithCircleCI(t.Context(), "../..", validOrbDoc(t)); err != nil {
		t.Fatalf("the valid orb is not valid for CircleCI's parser: %v", err)
	}
	for _, c := range []struct {
		name   string
		break_ func(t *testing.T, o Orb)
		want   string
	}{
		{"unknown parameter type", func(t *testing.T, o Orb) { paramSpec(t, greetCommand(t, o), "to")["type"] = "text" }, "commands.greet.parameters.to.type: must be equal to one of the allowed values"},
		{"default of the wrong type", func(t *testing.T, o Orb) { paramSpec(t, greetCommand(t, o), "loud")["default"] = "no" }, "commands.greet.parameters.loud.default: must be boolean"},
		{"integer default", func(t *testing.T, o Orb) { paramSpec(t, helloJob(t, o), "times")["default"] = 1.5 }, "jobs.hello.parameters.times.default: must be integer"},
		{"enum without values", func(t *testing.T, o Orb) { delete(paramSpec(t, helloJob(t, o), "mood"), "enum") }, "jobs.hello.parameters.mood: must have required property 'enum'"},
		{"env_var_name default", func(t *testing.T, o Orb) { paramSpec(t, greetCommand(t, o), "key-var")["default"] = "API KEY" }, "commands.greet.parameters.key-var.default: must match pattern"},
		{"unknown parameter key", func(t *testing.T, o Orb) { paramSpec(t, greetCommand(t, o), "to")["required"] = true }, "commands.greet.parameters.to: must NOT have additional properties"},
		{"run without command", func(t *testing.T, o Orb) { delete(greetRun(t, o), "command") }, "commands.greet.steps.0.run: must have required property 'command'"},
		{"docker without image", func(t *testing.T, o Orb) {
			digMap(t, o, "executors", "default")["docker"] = []any{map[string]any{"user": "root"}}
		}, "reusable_executor:default/docker_executor"},
		{"unknown command", func(t *testing.T, o Orb) {
			helloJob(t, o)["steps"] = append(digList(t, o, "jobs", "hello", "steps"), "greeet")
		}, "Custom Command greeet not found"},
		{"unknown executor", func(t *testing.T, o Orb) { paramSpec(t, helloJob(t, o), "executor")["default"] = "other" }, "Reusable executor other not found"},
		{"job without steps", func(t *testing.T, o Orb) { delete(helloJob(t, o), "steps") }, "jobs.hello: must have required property 'steps'"},
		{"example job unknown", func(t *testing.T, o Orb) {
			exampleWorkflow(t, o)["jobs"] = []any{"x/bye"}
		}, "Job x/bye not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := validOrbDoc(t)
			c.break_(t, o)
			err := CheckWithCircleCI(t.Context(), "../..", o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want a problem containing %q, got:\n%v", c.want, err)
			}
		})
	}
}

func TestPackOrb(t *testing.T) {
	orbYML := "version: 2.1\ndescription: x\n"
	cmd := "description: c\nsteps:\n  - run:\n      command: <<include(scripts/hi.sh)>>\n"
	t.Run("layout and includes", func(t *testing.T) {
		dir := writeOrb(t, map[string]string{
			"@orb.yml":           orbYML,
			"commands/hi.yml":    cmd,
			"jobs/j.yaml":        "description: j\ndocker: [{image: busybox}]\nsteps: [hi]\n",
			"scripts/hi.sh":      "echo hi\n",
			"README.md":          "not packed",
			"scripts/README.txt": "not packed",
		})
		o, err := PackOrb(dir)
		if err != nil {
			t.Fatal(err)
		}
		r, _ := AsRun(dig(t, o, "commands", "hi", "steps", 0))
		if r.Command != "echo hi\n" {
			t.Errorf("include not inlined: %q", r.Command)
		}
		if _, ok := o.Section("jobs")["j"]; !ok {
			t.Errorf("jobs/j.yaml not packed as j: %v", o)
		}
		var keys []string
		for k := range o {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		if want := []string{"commands", "description", "jobs", "version"}; !reflect.DeepEqual(keys, want) {
			t.Errorf("packed keys %v, want %v", keys, want)
		}
	})
	for _, c := range []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"include inside a string", map[string]string{"@orb.yml": orbYML, "commands/hi.yml": strings.Replace(cmd, "<<include", "sh <<include", 1), "scripts/hi.sh": "x"}, "an include must be the entire string"},
		{"two includes", map[string]string{"@orb.yml": orbYML, "commands/hi.yml": strings.Replace(cmd, "<<include(scripts/hi.sh)>>", "<<include(scripts/hi.sh)>> <<include(scripts/hi.sh)>>", 1), "scripts/hi.sh": "x"}, "an include must be the entire string"},
		{"missing include", map[string]string{"@orb.yml": orbYML, "commands/hi.yml": cmd}, "hi.sh"},
		{"include outside", map[string]string{"@orb.yml": orbYML, "commands/hi.yml": strings.Replace(cmd, "scripts/hi.sh", "../x.sh", 1)}, "leaves the orb source"},
		{"unknown folder", map[string]string{"@orb.yml": orbYML, "command/hi.yml": cmd}, "command/: YAML in a folder"},
		{"nested folder", map[string]string{"@orb.yml": orbYML, "commands/more/hi.yml": cmd}, "nested folders are not packed"},
		{"same name twice", map[string]string{"@orb.yml": orbYML, "commands/hi.yml": cmd, "commands/hi.yaml": cmd, "scripts/hi.sh": "x"}, `two files define "hi"`},
		{"no @orb.yml", map[string]string{"commands/hi.yml": cmd}, "@orb.yml"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := PackOrb(writeOrb(t, c.files))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("want an error containing %q, got %v", c.want, err)
			}
		})
	}
}

// TestOrbScript runs the orb's script with sh, the way the run step does,
// with a stand-in ferry on the PATH that prints what it got.
func TestOrbScript(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	bin := t.TempDir()
	fake := `#!/bin/sh
echo "args=$#"
echo "data=${FERRY_KUBECONFIG_DATA-unset}"
echo "key=${FERRY_HEROKU_API_KEY-unset}"
echo "azure=${FERRY_AZURE_CLIENT_SECRET-unset}"
echo "github=${FERRY_GITHUB_TOKEN-unset}"
echo "params=${PARAM_KUBECONFIG_DATA_VAR-unset}${PARAM_HEROKU_API_KEY_VAR-unset}${PARAM_AZURE_CLIENT_SECRET_VAR-unset}${PARAM_GITHUB_TOKEN_VAR-unset}"
`
	if err := os.WriteFile(filepath.Join(bin, "ferry"), []byte(fake), 0o755); err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(orbDir, "scripts", "ferry.sh")
	if out, err := exec.Command(sh, "-n", script).CombinedOutput(); err != nil {
		t.Fatalf("sh -n %s: %v\n%s", script, err, out)
	}
	runScript := func(t *testing.T, path string, env ...string) (string, int) {
		t.Helper()
		return runShell(t, []string{sh, "-e", script}, append([]string{"PATH=" + path}, env...))
	}
	path := bin + ":/usr/bin:/bin"
	const unset4 = "params=unsetunsetunsetunset\n"
	for _, c := range []struct {
		name string
		env  []string
		want string
	}{
		{"named variables", []string{"PARAM_KUBECONFIG_DATA_VAR=PROD_KUBECONFIG", "PROD_KUBECONFIG=a2lu", "PARAM_HEROKU_API_KEY_VAR=HK", "HK=hk-1",
			"PARAM_AZURE_CLIENT_SECRET_VAR=AZ", "AZ=az-1", "PARAM_GITHUB_TOKEN_VAR=GH", "GH=gh-1"},
			"args=0\ndata=a2lu\nkey=hk-1\nazure=az-1\ngithub=gh-1\n" + unset4},
		// status and rollback pass no github-token-var: the default name.
		{"default names", []string{"PARAM_KUBECONFIG_DATA_VAR=FERRY_KUBECONFIG_DATA", "FERRY_KUBECONFIG_DATA=a2lu", "PARAM_HEROKU_API_KEY_VAR=HEROKU_API_KEY",
			"PARAM_AZURE_CLIENT_SECRET_VAR=AZURE_CLIENT_SECRET", "AZURE_CLIENT_SECRET=az-2", "GITHUB_TOKEN=gh-2"},
			"args=0\ndata=a2lu\nkey=\nazure=az-2\ngithub=gh-2\n" + unset4},
		{"values that look like code stay values", []string{"PARAM_KUBECONFIG_DATA_VAR=K", "K=$(echo pwned) `id` ;x", "PARAM_HEROKU_API_KEY_VAR=H"},
			"args=0\ndata=$(echo pwned) `id` ;x\nkey=\nazure=\ngithub=\n" + unset4},
	} {
		t.Run(c.name, func(t *testing.T) {
			out, code := runScript(t, path, c.env...)
			if code != 0 || out != c.want {
				t.Fatalf("exit %d\n%s\nwant exit 0\n%s", code, out, c.want)
			}
		})
	}
	for _, v := range []string{"PARAM_KUBECONFIG_DATA_VAR", "PARAM_HEROKU_API_KEY_VAR", "PARAM_AZURE_CLIENT_SECRET_VAR", "PARAM_GITHUB_TOKEN_VAR"} {
		t.Run("not a variable name in "+v, func(t *testing.T) {
			env := []string{v + "=X;rm -rf /"}
			for _, other := range []string{"PARAM_KUBECONFIG_DATA_VAR=K", "PARAM_HEROKU_API_KEY_VAR=H"} {
				if !strings.HasPrefix(other, v+"=") {
					env = append(env, other)
				}
			}
			out, code := runScript(t, path, env...)
			if code != 2 || !strings.Contains(out, "is not an environment variable name") || strings.Contains(out, "args=") {
				t.Fatalf("exit %d\n%s\nwant exit 2 before ferry runs", code, out)
			}
		})
	}
	t.Run("no ferry", func(t *testing.T) {
		out, code := runScript(t, "/usr/bin:/bin", "PARAM_KUBECONFIG_DATA_VAR=K", "PARAM_HEROKU_API_KEY_VAR=H")
		if code != 2 || !strings.Contains(out, "ferry is not on the PATH") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})
}

// runShell runs argv with exactly env and returns its combined output and
// exit code.
func runShell(t *testing.T, argv, env []string) (string, int) {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatal(err)
	}
	code := 0
	if ee != nil {
		code = ee.ExitCode()
	}
	return string(out), code
}

// ferrySteps leaves out promote's deploy marker steps (scripts/marker.sh,
// checked by TestOrbDeployMarkers).
func ferrySteps(t *testing.T, steps []any) []any {
	t.Helper()
	var out []any
	for _, s := range steps {
		if r, ok := AsRun(s); ok && strings.HasPrefix(r.Name, "ferry deploy marker") {
			continue
		}
		out = append(out, s)
	}
	return out
}
