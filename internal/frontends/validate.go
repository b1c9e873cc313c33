package frontends

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Keys each part of an orb may hold (CircleCI's config schema for version
// 2.1, as published in CircleCI-Public/circleci-yaml-language-server).
var (
	orbKeys      = []string{"version", "description", "display", "orbs", "commands", "jobs", "executors", "examples"}
	displayKeys  = []string{"home_url", "source_url"}
	commandKeys  = []string{"description", "parameters", "steps"}
	jobKeys      = []string{"description", "parameters", "executor", "docker", "machine", "macos", "steps", "environment", "working_directory", "shell", "parallelism", "resource_class", "circleci_ip_ranges", "retention"}
	executorKeys = []string{"description", "parameters", "docker", "machine", "macos", "resource_class", "shell", "working_directory", "environment"}
	exampleKeys  = []string{"description", "usage", "result"}
	dockerKeys   = []string{"image", "name", "entrypoint", "command", "user", "environment", "auth", "aws_auth"}
	runKeys      = []string{"name", "command", "shell", "environment", "background", "working_directory", "no_output_timeout", "when", "max_auto_reruns", "auto_rerun_delay"}
	// environments are the keys naming where a job runs; exactly one.
	environments = []string{"executor", "docker", "machine", "macos"}
	// builtinSteps are CircleCI's own steps.
	builtinSteps = []string{"run", "checkout", "setup_remote_docker", "save_cache", "restore_cache", "store_artifacts", "store_test_results", "persist_to_workspace", "attach_workspace", "add_ssh_keys", "when", "unless"}
	// workflowJobKeys are what a workflow's job invocation may carry besides
	// the job's parameters.
	workflowJobKeys = []string{"requires", "context", "filters", "name", "matrix", "pre-steps", "post-steps", "type", "serial-group", "override-with"}
)

// Validate checks what CircleCI's own parser ([CheckWithCircleCI]) does
// not: keys each part may hold, names, the orb development kit's review
// rules (descriptions, display.source_url, named run steps), that every
// parameter an element declares is used in it and every parameter it uses
// is declared, that no parameter is spliced into a shell command, that
// steps and executor parameters are used where they fit, an enum's default
// among its values, and the names and types of the arguments every
// invocation (in the orb and in its examples) passes. Parameter types,
// default types, enum values, run steps and docker images are left to
// CircleCI's parser. It returns every problem found, joined; nil when
// there is none.
func (o Orb) Validate() error {
	v := &validator{orb: o}
	v.orbLevel()
	sort.Strings(v.problems)
	errs := make([]error, len(v.problems))
	for i, p := range v.problems {
		errs[i] = errors.New(p)
	}
	return errors.Join(errs...)
}

type validator struct {
	orb      Orb
	problems []string
}

func (v *validator) addf(at, format string, args ...any) {
	v.problems = append(v.problems, at+": "+fmt.Sprintf(format, args...))
}

func (v *validator) keys(at string, m map[string]any, allowed []string) {
	for _, k := range sortedKeys(m) {
		if !contains(allowed, k) {
			v.addf(at, "unknown key %q (allowed: %s)", k, strings.Join(allowed, ", "))
		}
	}
}

func (v *validator) description(at string, m map[string]any) {
	if s, _ := m["description"].(string); strings.TrimSpace(s) == "" {
		v.addf(at, "needs a description")
	}
}

func (v *validator) orbLevel() {
	o := v.orb
	v.keys("orb", o, orbKeys)
	if ver := Scalar(o["version"]); ver != "2.1" {
		v.addf("orb", "version must be 2.1, not %q", ver)
	}
	v.description("orb", o)
	v.display(o["display"])
	if orbs, ok := o["orbs"]; ok {
		v.imports(orbs)
	}
	for _, section := range orbSections {
		if raw, ok := o[section]; ok {
			v.section(section, raw)
		}
	}
}

// display checks the orb's display section: source_url required, both
// URLs https.
func (v *validator) display(d any) {
	dm, isMap := d.(map[string]any)
	if !isMap {
		v.addf("display", "must be a map with source_url (the orb development kit's review, RC001)")
		return
	}
	if _, ok := dm["source_url"]; !ok {
		v.addf("display", "needs source_url (the orb development kit's review, RC001)")
	}
	v.keys("display", dm, displayKeys)
	for _, k := range displayKeys {
		if s, ok := dm[k]; ok {
			if u, _ := s.(string); !strings.HasPrefix(u, "https://") {
				v.addf("display."+k, "must be an https URL, not %v", s)
			}
		}
	}
}

// imports checks the orbs the orb imports: namespace/name@version each.
func (v *validator) imports(orbs any) {
	om, _ := orbs.(map[string]any)
	for _, k := range sortedKeys(om) {
		if s, _ := om[k].(string); !strings.Contains(s, "/") || !strings.Contains(s, "@") {
			v.addf("orbs."+k, "must be namespace/name@version, not %v", om[k])
		}
	}
}

// section checks one of commands, jobs, executors and examples: names,
// and each element by its kind.
func (v *validator) section(section string, raw any) {
	m, isMap := raw.(map[string]any)
	if !isMap {
		v.addf(section, "must be a map")
		return
	}
	check := map[string]func(at string, el map[string]any){
		"commands":  v.command,
		"jobs":      v.job,
		"executors": v.executor,
		"examples":  v.example,
	}[section]
	for _, name := range sortedKeys(m) {
		at := section + "." + name
		if !nameRe.MatchString(name) {
			v.addf(at, "name must be lower-case letters, digits, - and _, starting with a letter")
		}
		el, isMap := m[name].(map[string]any)
		if !isMap {
			v.addf(at, "must be a map")
			continue
		}
		check(at, el)
	}
}

func (v *validator) command(at string, c map[string]any) {
	v.keys(at, c, commandKeys)
	v.description(at, c)
	params := v.params(at, c)
	v.stepList(at+".steps", c["steps"], params, true)
	v.usage(at, c, params)
}

func (v *validator) job(at string, j map[string]any) {
	v.keys(at, j, jobKeys)
	v.description(at, j)
	params := v.params(at, j)
	v.oneEnvironment(at, j)
	if e, ok := j["executor"]; ok {
		v.executorRef(at+".executor", e, params)
	}
	if d, ok := j["docker"]; ok {
		v.docker(at+".docker", d)
	}
	v.environment(at+".environment", j["environment"])
	v.stepList(at+".steps", j["steps"], params, true)
	v.usage(at, j, params)
}

func (v *validator) executor(at string, e map[string]any) {
	v.keys(at, e, executorKeys)
	v.description(at, e)
	params := v.params(at, e)
	v.oneEnvironment(at, e)
	if _, ok := e["executor"]; ok {
		v.addf(at, "an executor cannot name another executor")
	}
	if d, ok := e["docker"]; ok {
		v.docker(at+".docker", d)
	}
	v.environment(at+".environment", e["environment"])
	v.usage(at, e, params)
}

func (v *validator) oneEnvironment(at string, m map[string]any) {
	var have []string
	for _, k := range environments {
		if _, ok := m[k]; ok {
			have = append(have, k)
		}
	}
	if len(have) != 1 {
		v.addf(at, "needs exactly one of %s, has %d", strings.Join(environments, ", "), len(have))
	}
}

func (v *validator) docker(at string, d any) {
	list, ok := d.([]any)
	if !ok || len(list) == 0 {
		v.addf(at, "must be a non-empty list of images")
		return
	}
	for i, item := range list {
		iat := fmt.Sprintf("%s[%d]", at, i)
		m, ok := item.(map[string]any)
		if !ok {
			v.addf(iat, "must be a map")
			continue
		}
		v.keys(iat, m, dockerKeys)
		v.environment(iat+".environment", m["environment"])
	}
}

func (v *validator) environment(at string, e any) {
	if e == nil {
		return
	}
	m, ok := e.(map[string]any)
	if !ok {
		v.addf(at, "must be a map of variables")
		return
	}
	for _, k := range sortedKeys(m) {
		if !envVarNameRe.MatchString(k) {
			v.addf(at, "%q is not a variable name", k)
		}
		switch m[k].(type) {
		case string, bool, float64, nil:
		default:
			v.addf(at+"."+k, "must be a string, number or boolean")
		}
	}
}

func (v *validator) example(at string, e map[string]any) {
	v.keys(at, e, exampleKeys)
	v.description(at, e)
	usage, ok := e["usage"].(map[string]any)
	if !ok {
		v.addf(at, "needs a usage map")
		return
	}
	if ver := Scalar(usage["version"]); ver != "2.1" {
		v.addf(at+".usage", "version must be 2.1, not %q", ver)
	}
	orbs, _ := usage["orbs"].(map[string]any)
	if len(orbs) == 0 {
		v.addf(at+".usage", "must import the orb under orbs")
	}
	aliases := map[string]bool{}
	for k := range orbs {
		aliases[k] = true
	}
	// The example's own jobs may call the orb's commands and executors.
	jobs, _ := usage["jobs"].(map[string]any)
	for _, name := range sortedKeys(jobs) {
		j, _ := jobs[name].(map[string]any)
		jat := at + ".usage.jobs." + name
		if e, ok := j["executor"]; ok {
			v.exampleRef(jat+".executor", "executors", e, aliases)
		}
		steps, _ := j["steps"].([]any)
		for i, s := range steps {
			sat := fmt.Sprintf("%s.steps[%d]", jat, i)
			switch s := s.(type) {
			case string:
				v.exampleRef(sat, "commands", s, aliases)
			case map[string]any:
				for k, args := range s {
					v.exampleRef(sat, "commands", map[string]any{"name": k, "args": args}, aliases)
				}
			}
		}
	}
	workflows, _ := usage["workflows"].(map[string]any)
	if len(workflows) == 0 {
		v.addf(at+".usage", "needs a workflow that shows the orb in use")
	}
	for _, wname := range sortedKeys(workflows) {
		w, _ := workflows[wname].(map[string]any)
		list, _ := w["jobs"].([]any)
		for i, item := range list {
			iat := fmt.Sprintf("%s.usage.workflows.%s.jobs[%d]", at, wname, i)
			switch item := item.(type) {
			case string:
				v.workflowJob(iat, item, nil, aliases, jobs)
			case map[string]any:
				for name, args := range item {
					am, _ := args.(map[string]any)
					v.workflowJob(iat, name, am, aliases, jobs)
				}
			}
		}
	}
}

// workflowJob checks a job invocation of an example's workflow.
func (v *validator) workflowJob(at, name string, args map[string]any, aliases map[string]bool, own map[string]any) {
	alias, local, ok := strings.Cut(name, "/")
	if !ok {
		if args["type"] == "approval" {
			return // an approval job needs no definition
		}
		if _, ok := own[name]; !ok {
			v.addf(at, "job %q is neither the example's own nor the orb's", name)
		}
		return
	}
	if !aliases[alias] {
		v.addf(at, "%q: orb %q is not imported", name, alias)
		return
	}
	job, ok := v.orb.Section("jobs")[local].(map[string]any)
	if !ok {
		v.addf(at, "the orb has no job %q", local)
		return
	}
	rest := map[string]any{}
	for k, a := range args {
		if !contains(workflowJobKeys, k) {
			rest[k] = a
		}
	}
	if _, err := bind(name, paramMap(job), rest); err != nil {
		v.addf(at, "%v", err)
	}
}

// exampleRef checks a reference to the orb's command or executor from an
// example: "alias/name", or {name: "alias/name", args...}.
func (v *validator) exampleRef(at, section string, ref any, aliases map[string]bool) {
	var name string
	args := map[string]any{}
	switch r := ref.(type) {
	case string:
		name = r
	case map[string]any:
		name, _ = r["name"].(string)
		if a, ok := r["args"]; ok { // a step: {cmd: args}
			am, _ := a.(map[string]any)
			args = am
		} else {
			for k, x := range r {
				if k != "name" {
					args[k] = x
				}
			}
		}
	}
	alias, local, ok := strings.Cut(name, "/")
	if !ok || !aliases[alias] {
		return // a built-in step, or the example's own
	}
	el, ok := v.orb.Section(section)[local].(map[string]any)
	if !ok {
		v.addf(at, "the orb has no %s %q", strings.TrimSuffix(section, "s"), local)
		return
	}
	if _, err := bind(name, paramMap(el), args); err != nil {
		v.addf(at, "%v", err)
	}
}

// params checks the parameter declarations of an element and returns them.
func (v *validator) params(at string, el map[string]any) map[string]Param {
	raw, ok := el["parameters"]
	if !ok {
		return map[string]Param{}
	}
	m, isMap := raw.(map[string]any)
	if !isMap {
		v.addf(at+".parameters", "must be a map")
		return map[string]Param{}
	}
	for _, name := range sortedKeys(m) {
		pat := at + ".parameters." + name
		if !nameRe.MatchString(name) {
			v.addf(pat, "name must be lower-case letters, digits, - and _, starting with a letter")
		}
		spec, isMap := m[name].(map[string]any)
		if !isMap {
			v.addf(pat, "must be a map")
			continue
		}
		v.description(pat, spec)
	}
	params := paramMap(el)
	for _, name := range sortedKeys(params) {
		p := params[name]
		pat := at + ".parameters." + name
		if !p.HasDefault {
			continue
		}
		if s, ok := p.Default.(string); ok && paramRefRe.MatchString(s) {
			v.addf(pat, "a default cannot refer to a parameter")
			continue
		}
		// CircleCI's parser checks a default's type, not an enum's
		// default against its values.
		if p.Type == TypeEnum && len(p.Enum) > 0 {
			if msg := p.checkValue(p.Default); msg != "" {
				v.addf(pat, "default: %s", msg)
			}
		}
		switch p.Type {
		case TypeSteps:
			v.stepList(pat+".default", p.Default, params, false)
		case TypeExecutor:
			v.executorRef(pat+".default", p.Default, nil)
		}
	}
	return params
}

// executorRef checks a job's executor: the orb's executor by name, with
// arguments, or an executor-typed parameter.
func (v *validator) executorRef(at string, e any, params map[string]Param) {
	var name string
	args := map[string]any{}
	switch e := e.(type) {
	case string:
		if m := wholeRefRe.FindStringSubmatch(e); m != nil {
			if p, ok := params[m[1]]; ok && p.Type != TypeExecutor {
				v.addf(at, "parameter %q is a %s, not an executor", m[1], p.Type)
			}
			return
		}
		name = e
	case map[string]any:
		name, _ = e["name"].(string)
		for k, x := range e {
			if k != "name" {
				args[k] = x
			}
		}
	default:
		v.addf(at, "must name an executor")
		return
	}
	ex, ok := v.orb.Section("executors")[name].(map[string]any)
	if !ok {
		v.addf(at, "the orb has no executor %q", name)
		return
	}
	if _, err := bind("executor "+name, paramMap(ex), args); err != nil {
		v.addf(at, "%v", err)
	}
}

func (v *validator) stepList(at string, s any, params map[string]Param, nonEmpty bool) {
	list, ok := s.([]any)
	if !ok || (nonEmpty && len(list) == 0) {
		v.addf(at, "must be a non-empty list of steps")
		return
	}
	for i, step := range list {
		v.step(fmt.Sprintf("%s[%d]", at, i), step, params)
	}
}

func (v *validator) step(at string, s any, params map[string]Param) {
	switch s := s.(type) {
	case string:
		if contains(builtinSteps, s) {
			return
		}
		if c, ok := v.orb.Section("commands")[s].(map[string]any); ok {
			if _, err := bind("command "+s, paramMap(c), nil); err != nil {
				v.addf(at, "%v", err)
			}
			return
		}
		v.addf(at, "%q is neither a built-in step nor a command of the orb", s)
	case map[string]any:
		if len(s) != 1 {
			v.addf(at, "a step is a map with one key, not %d", len(s))
			return
		}
		for k, arg := range s {
			v.stepCall(at, k, arg, params)
		}
	default:
		v.addf(at, "a step is a string or a map")
	}
}

func (v *validator) stepCall(at, name string, arg any, params map[string]Param) {
	switch name {
	case "run":
		v.run(at+".run", arg)
	case "steps":
		ref, _ := arg.(string)
		m := wholeRefRe.FindStringSubmatch(ref)
		if m == nil {
			v.stepList(at+".steps", arg, params, false)
			return
		}
		if p, ok := params[m[1]]; ok && p.Type != TypeSteps {
			v.addf(at, "parameter %q is a %s, not steps", m[1], p.Type)
		}
	case "when", "unless":
		m, _ := arg.(map[string]any)
		v.keys(at+"."+name, m, []string{"condition", "steps"})
		if _, ok := m["condition"]; !ok {
			v.addf(at+"."+name, "needs a condition")
		}
		v.stepList(at+"."+name+".steps", m["steps"], params, true)
	default:
		if contains(builtinSteps, name) {
			return
		}
		c, ok := v.orb.Section("commands")[name].(map[string]any)
		if !ok {
			v.addf(at, "%q is neither a built-in step nor a command of the orb", name)
			return
		}
		args := map[string]any{}
		if arg != nil {
			m, ok := arg.(map[string]any)
			if !ok {
				v.addf(at, "arguments of %s must be a map", name)
				return
			}
			args = m
		}
		if _, err := bind("command "+name, paramMap(c), args); err != nil {
			v.addf(at, "%v", err)
		}
	}
}

func (v *validator) run(at string, r any) {
	switch r := r.(type) {
	case string:
		if paramRefRe.MatchString(r) {
			v.addf(at, "uses a parameter inside the shell command; pass it through environment instead")
		}
	case map[string]any:
		v.keys(at, r, runKeys)
		if name, _ := r["name"].(string); strings.TrimSpace(name) == "" {
			v.addf(at, "needs a name (the orb development kit's review, RC008)")
		}
		if cmd, _ := r["command"].(string); paramRefRe.MatchString(cmd) {
			v.addf(at+".command", "uses a parameter inside the shell command; pass it through environment instead")
		}
		v.environment(at+".environment", r["environment"])
	default:
		v.addf(at, "must be a command string or a map")
	}
}

// usage checks that el uses every parameter it declares and declares
// every parameter it uses, and that steps and executor parameters are used
// only where such values fit.
func (v *validator) usage(at string, el map[string]any, params map[string]Param) {
	used := map[string]bool{}
	for k, x := range el {
		if k == "parameters" {
			continue
		}
		walkStrings(x, k, func(key, s string) {
			for _, m := range paramRefRe.FindAllStringSubmatch(s, -1) {
				name := m[1]
				used[name] = true
				p, ok := params[name]
				if !ok {
					v.addf(at, "uses << parameters.%s >>, which it does not declare", name)
					continue
				}
				whole := wholeRefRe.MatchString(s)
				switch {
				case p.Type == TypeSteps && (!whole || key != "steps"):
					v.addf(at, "steps parameter %q must be used as `- steps: << parameters.%s >>`", name, name)
				case p.Type == TypeExecutor && (!whole || key != "executor"):
					v.addf(at, "executor parameter %q must be used as `executor: << parameters.%s >>`", name, name)
				}
			}
		})
	}
	for _, name := range sortedKeys(params) {
		if !used[name] {
			v.addf(at, "declares parameter %q but never uses it", name)
		}
	}
}

// walkStrings calls f with every string under x and the map key it sits
// under.
func walkStrings(x any, key string, f func(key, s string)) {
	switch x := x.(type) {
	case map[string]any:
		for k, y := range x {
			walkStrings(y, k, f)
		}
	case []any:
		for _, y := range x {
			walkStrings(y, key, f)
		}
	case string:
		f(key, x)
	}
}
