package frontends

import (
	"errors"
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
	for _, ex := range []string{"kubernetes", "heroku"} {
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
	"executor":          TypeExecutor,
	"before-promote":    TypeSteps,
	"after-promote":     TypeSteps,
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

// TestOrbParametersMirrorSettings holds every command's and job's
// parameters to pkg/config: the name, type, default and description of the
// setting; secrets as env_var_name parameters naming where the secret is;
// and the run step's environment carrying each to its FERRY_* variable.
func TestOrbParametersMirrorSettings(t *testing.T) {
	o := packed(t)
	types := settingTypes()
	ms := mirrors()
	checkParams := func(at string, params []Param) {
		for _, p := range params {
			if want, ok := orbOnly[p.Name]; ok {
				if p.Type != want {
					t.Errorf("%s: parameter %s is a %s, want %s", at, p.Name, p.Type, want)
				}
				continue
			}
			m, ok := ms[p.Name]
			if !ok {
				t.Errorf("%s: parameter %s is no ferry setting", at, p.Name)
				continue
			}
			v := m.v
			if v.Secret {
				def := v.Name
				if v.Alias != "" {
					def = v.Alias
				}
				if p.Type != TypeEnvVarName || Scalar(p.Default) != def || !strings.HasSuffix(p.Description, v.Description) {
					t.Errorf("%s: secret parameter %s: type %s default %v; want env_var_name defaulting to %s, described as %q", at, p.Name, p.Type, p.Default, def, v.Description)
				}
				continue
			}
			if p.Description != v.Description {
				t.Errorf("%s: parameter %s: description\n  %q\nwant (pkg/config)\n  %q", at, p.Name, p.Description, v.Description)
			}
			if !p.HasDefault || Scalar(p.Default) != v.Default {
				t.Errorf("%s: parameter %s: default %v, want %q (pkg/config)", at, p.Name, p.Default, v.Default)
			}
			typ := types[strings.TrimPrefix(v.Name, config.Prefix)]
			want := TypeString
			switch {
			case typ == reflect.TypeFor[time.Duration]():
			case typ.Kind() == reflect.Int:
				want = TypeInteger
			case typ.Kind() == reflect.Bool:
				want = TypeBoolean
			case p.Type == TypeEnum:
				want = TypeEnum
			}
			if p.Type != want {
				t.Errorf("%s: parameter %s is a %s, the setting (%s) wants %s", at, p.Name, p.Type, typ, want)
			}
			if p.Type == TypeEnum {
				for _, e := range p.Enum {
					if !validates(t, v, e) {
						t.Errorf("%s: parameter %s offers %q, which ferry refuses", at, p.Name, e)
					}
				}
				if validates(t, v, "not-"+strings.Join(p.Enum, "-")) {
					t.Errorf("%s: ferry takes any value of %s; it should be a string, not an enum", at, v.Name)
				}
			}
		}
	}

	commands := o.Section("commands")
	for _, name := range sortedKeys(commands) {
		at := "command " + name
		c := commands[name].(map[string]any)
		params := Params(c)
		checkParams(at, params)
		steps, _ := c["steps"].([]any)
		if len(steps) != 1 {
			t.Errorf("%s: %d steps, want the one run step", at, len(steps))
			continue
		}
		r, ok := AsRun(steps[0])
		if !ok {
			t.Errorf("%s: the step is not a run step", at)
			continue
		}
		want := map[string]string{"FERRY_COMMAND": name}
		for _, p := range params {
			if m, ok := ms[p.Name]; ok {
				want[m.env] = "<< parameters." + p.Name + " >>"
			}
		}
		if !reflect.DeepEqual(r.Environment, want) {
			t.Errorf("%s: the run step's environment\n  %v\nwant\n  %v", at, r.Environment, want)
		}
	}

	// promote takes every setting but the rollback-only one, rollback
	// takes that one.
	promote, _ := commands["promote"].(map[string]any)
	have := map[string]bool{}
	for _, p := range Params(promote) {
		have[p.Name] = true
	}
	for name := range ms {
		if !have[name] && name != "to-revision" {
			t.Errorf("command promote lacks parameter %s", name)
		}
	}
	rollback, _ := commands["rollback"].(map[string]any)
	if _, ok := paramMap(rollback)["to-revision"]; !ok {
		t.Errorf("command rollback lacks to-revision")
	}

	// The job takes what the command takes and hands it all on.
	job, _ := o.Section("jobs")["promote"].(map[string]any)
	checkParams("job promote", Params(job))
	jp := paramMap(job)
	for _, p := range Params(promote) {
		if q, ok := jp[p.Name]; !ok || !reflect.DeepEqual(q, p) {
			t.Errorf("job promote: parameter %s is not the command's (%+v)", p.Name, q)
		}
	}
	for _, s := range job["steps"].([]any) {
		call, ok := s.(map[string]any)["promote"].(map[string]any)
		if !ok {
			continue
		}
		for _, p := range Params(promote) {
			if call[p.Name] != "<< parameters."+p.Name+" >>" {
				t.Errorf("job promote does not pass %s on to the command: %v", p.Name, call[p.Name])
			}
		}
		return
	}
	t.Errorf("job promote does not call the promote command")
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
	docker, _ := j.Executor["docker"].([]any)
	if len(docker) != 1 || docker[0].(map[string]any)["image"] != "ghcr.io/ferry-dev/ferry:v0-shell" || j.Executor["resource_class"] != "medium" {
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
	if want := []string{"echo before", "ferry promote", "after"}; !reflect.DeepEqual(names, want) {
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

// TestValidateFindsProblems breaks a valid orb one way at a time and checks
// that Validate names the problem.
func TestValidateFindsProblems(t *testing.T) {
	base := func(t *testing.T) Orb {
		t.Helper()
		var o Orb
		if err := yaml.Unmarshal([]byte(validOrb), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if err := base(t).Validate(); err != nil {
		t.Fatalf("the valid orb is not valid: %v", err)
	}
	cmd := func(o Orb) map[string]any { return o.Section("commands")["greet"].(map[string]any) }
	job := func(o Orb) map[string]any { return o.Section("jobs")["hello"].(map[string]any) }
	param := func(el map[string]any, name string) map[string]any {
		return el["parameters"].(map[string]any)[name].(map[string]any)
	}
	run := func(o Orb) map[string]any {
		return cmd(o)["steps"].([]any)[0].(map[string]any)["run"].(map[string]any)
	}
	cases := []struct {
		name   string
		break_ func(o Orb)
		want   string
	}{
		{"unknown top-level key", func(o Orb) { o["job"] = map[string]any{} }, `orb: unknown key "job"`},
		{"wrong version", func(o Orb) { o["version"] = 2.0 }, "version must be 2.1"},
		{"no description", func(o Orb) { delete(o, "description") }, "orb: needs a description"},
		{"display not https", func(o Orb) { o["display"] = map[string]any{"home_url": "example.com"} }, "display.home_url: must be an https URL"},
		{"no source_url", func(o Orb) { delete(o, "display") }, "display: must be a map with source_url"},
		{"run without name", func(o Orb) { delete(run(o), "name") }, "needs a name"},
		{"bad name", func(o Orb) { o.Section("commands")["Greet"] = cmd(o) }, "commands.Greet: name must be lower-case"},
		{"declared, not used", func(o Orb) { delete(run(o)["environment"].(map[string]any), "LOUD") }, `commands.greet: declares parameter "loud" but never uses it`},
		{"used, not declared", func(o Orb) { run(o)["environment"].(map[string]any)["X"] = "<< parameters.x >>" }, "commands.greet: uses << parameters.x >>, which it does not declare"},
		{"parameter in the shell command", func(o Orb) { run(o)["command"] = "echo << parameters.to >>" }, "pass it through environment instead"},
		{"enum default outside", func(o Orb) { param(job(o), "mood")["default"] = "angry" }, "default: angry is not one of happy, sad"},
		{"parameter without description", func(o Orb) { delete(param(cmd(o), "to"), "description") }, "parameters.to: needs a description"},
		{"unknown command", func(o Orb) { job(o)["steps"] = append(job(o)["steps"].([]any), "greeet") }, `"greeet" is neither a built-in step nor a command of the orb`},
		{"unknown command argument", func(o Orb) {
			job(o)["steps"].([]any)[1].(map[string]any)["greet"].(map[string]any)["too"] = "x"
		}, `command greet: unknown parameter "too"`},
		{"unknown executor", func(o Orb) { param(job(o), "executor")["default"] = "other" }, `the orb has no executor "other"`},
		{"job without environment", func(o Orb) { delete(job(o), "executor") }, "needs exactly one of executor, docker, machine, macos"},
		{"steps parameter misused", func(o Orb) { job(o)["environment"].(map[string]any)["PRE"] = "<< parameters.pre >>" }, `steps parameter "pre" must be used as`},
		{"executor parameter misused", func(o Orb) { job(o)["environment"].(map[string]any)["E"] = "<< parameters.executor >>" }, `executor parameter "executor" must be used as`},
		{"executor parameter unused", func(o Orb) {
			o.Section("executors")["default"].(map[string]any)["docker"] = []any{map[string]any{"image": "busybox"}}
		}, `executors.default: declares parameter "tag" but never uses it`},
		{"example job unknown", func(o Orb) {
			wf := o.Section("examples")["use"].(map[string]any)["usage"].(map[string]any)["workflows"].(map[string]any)["w"].(map[string]any)
			wf["jobs"] = []any{"x/bye"}
		}, `the orb has no job "bye"`},
		{"example argument unknown", func(o Orb) {
			wf := o.Section("examples")["use"].(map[string]any)["usage"].(map[string]any)["workflows"].(map[string]any)["w"].(map[string]any)
			wf["jobs"] = []any{map[string]any{"x/hello": map[string]any{"too": "you"}}}
		}, `x/hello: unknown parameter "too"`},
		{"example orb not imported", func(o Orb) {
			wf := o.Section("examples")["use"].(map[string]any)["usage"].(map[string]any)["workflows"].(map[string]any)["w"].(map[string]any)
			wf["jobs"] = []any{"y/hello"}
		}, `orb "y" is not imported`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := base(t)
			c.break_(o)
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
	base := func(t *testing.T) Orb {
		t.Helper()
		var o Orb
		if err := yaml.Unmarshal([]byte(validOrb), &o); err != nil {
			t.Fatal(err)
		}
		return o
	}
	if err := CheckWithCircleCI(t.Context(), "../..", base(t)); err != nil {
		t.Fatalf("the valid orb is not valid for CircleCI's parser: %v", err)
	}
	cmd := func(o Orb) map[string]any { return o.Section("commands")["greet"].(map[string]any) }
	job := func(o Orb) map[string]any { return o.Section("jobs")["hello"].(map[string]any) }
	param := func(el map[string]any, name string) map[string]any {
		return el["parameters"].(map[string]any)[name].(map[string]any)
	}
	run := func(o Orb) map[string]any {
		return cmd(o)["steps"].([]any)[0].(map[string]any)["run"].(map[string]any)
	}
	for _, c := range []struct {
		name   string
		break_ func(o Orb)
		want   string
	}{
		{"unknown parameter type", func(o Orb) { param(cmd(o), "to")["type"] = "text" }, "commands.greet.parameters.to.type: must be equal to one of the allowed values"},
		{"default of the wrong type", func(o Orb) { param(cmd(o), "loud")["default"] = "no" }, "commands.greet.parameters.loud.default: must be boolean"},
		{"integer default", func(o Orb) { param(job(o), "times")["default"] = 1.5 }, "jobs.hello.parameters.times.default: must be integer"},
		{"enum without values", func(o Orb) { delete(param(job(o), "mood"), "enum") }, "jobs.hello.parameters.mood: must have required property 'enum'"},
		{"env_var_name default", func(o Orb) { param(cmd(o), "key-var")["default"] = "API KEY" }, "commands.greet.parameters.key-var.default: must match pattern"},
		{"unknown parameter key", func(o Orb) { param(cmd(o), "to")["required"] = true }, "commands.greet.parameters.to: must NOT have additional properties"},
		{"run without command", func(o Orb) { delete(run(o), "command") }, "commands.greet.steps.0.run: must have required property 'command'"},
		{"docker without image", func(o Orb) {
			o.Section("executors")["default"].(map[string]any)["docker"] = []any{map[string]any{"user": "root"}}
		}, "reusable_executor:default/docker_executor"},
		{"unknown command", func(o Orb) { job(o)["steps"] = append(job(o)["steps"].([]any), "greeet") }, "Custom Command greeet not found"},
		{"unknown executor", func(o Orb) { param(job(o), "executor")["default"] = "other" }, "Reusable executor other not found"},
		{"job without steps", func(o Orb) { delete(job(o), "steps") }, "jobs.hello: must have required property 'steps'"},
		{"example job unknown", func(o Orb) {
			wf := o.Section("examples")["use"].(map[string]any)["usage"].(map[string]any)["workflows"].(map[string]any)["w"].(map[string]any)
			wf["jobs"] = []any{"x/bye"}
		}, "Job x/bye not found"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := base(t)
			c.break_(o)
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
		r, _ := AsRun(o.Section("commands")["hi"].(map[string]any)["steps"].([]any)[0])
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
