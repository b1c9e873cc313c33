package frontends

import (
	"fmt"
)

// Job is a job of the orb expanded for one invocation: where it runs and
// the built-in steps it runs, in order.
type Job struct {
	// Executor is the resolved executor: its docker (or machine) section
	// and options, parameters substituted.
	Executor map[string]any
	// Steps are built-in steps only (run, checkout, ...): orb commands and
	// steps parameters are expanded in place.
	Steps []any
}

// Run is a run step.
type Run struct {
	Name        string
	Command     string
	Shell       string
	When        string // always, on_success or on_fail
	Environment map[string]string
}

// AsRun returns step as a run step, or false when it is another kind.
func AsRun(step any) (Run, bool) {
	m, ok := step.(map[string]any)
	if !ok || len(m) != 1 {
		return Run{}, false
	}
	switch r := m["run"].(type) {
	case string:
		return Run{Name: r, Command: r, When: "on_success"}, true
	case map[string]any:
		out := Run{When: "on_success", Environment: map[string]string{}}
		out.Name, _ = r["name"].(string)
		out.Command, _ = r["command"].(string)
		out.Shell, _ = r["shell"].(string)
		if w, ok := r["when"].(string); ok {
			out.When = w
		}
		env, _ := r["environment"].(map[string]any)
		for k, v := range env {
			out.Environment[k] = Scalar(v)
		}
		return out, true
	}
	return Run{}, false
}

// ExpandJob expands the orb's job name invoked with args (as a workflow
// passes them, without requires, context and the like).
func (o Orb) ExpandJob(name string, args map[string]any) (Job, error) {
	raw, ok := o.Section("jobs")[name].(map[string]any)
	if !ok {
		return Job{}, fmt.Errorf("the orb has no job %q", name)
	}
	values, err := bind("job "+name, paramMap(raw), args)
	if err != nil {
		return Job{}, err
	}
	body, err := substitute(withoutParams(raw), values)
	if err != nil {
		return Job{}, fmt.Errorf("job %s: %w", name, err)
	}
	j, ok := body.(map[string]any)
	if !ok {
		return Job{}, fmt.Errorf("job %s: not a map", name)
	}
	var out Job
	if e, ok := j["executor"]; ok {
		out.Executor, err = o.expandExecutor(e)
		if err != nil {
			return Job{}, fmt.Errorf("job %s: %w", name, err)
		}
	} else {
		out.Executor = map[string]any{}
		for _, k := range environments[1:] {
			if x, ok := j[k]; ok {
				out.Executor[k] = x
			}
		}
	}
	steps, _ := j["steps"].([]any)
	out.Steps, err = o.expandSteps(steps, 0)
	if err != nil {
		return Job{}, fmt.Errorf("job %s: %w", name, err)
	}
	return out, nil
}

// ExpandCommand returns the built-in steps that invoking the orb's command
// name with args runs.
func (o Orb) ExpandCommand(name string, args map[string]any) ([]any, error) {
	return o.expandCommand(name, args, 0)
}

func (o Orb) expandCommand(name string, args map[string]any, depth int) ([]any, error) {
	if depth > 20 {
		return nil, fmt.Errorf("command %s: commands call each other in a loop", name)
	}
	raw, ok := o.Section("commands")[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the orb has no command %q", name)
	}
	values, err := bind("command "+name, paramMap(raw), args)
	if err != nil {
		return nil, err
	}
	body, err := substitute(raw["steps"], values)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", name, err)
	}
	steps, _ := body.([]any)
	out, err := o.expandSteps(steps, depth+1)
	if err != nil {
		return nil, fmt.Errorf("command %s: %w", name, err)
	}
	return out, nil
}

func (o Orb) expandExecutor(e any) (map[string]any, error) {
	var name string
	args := map[string]any{}
	switch e := e.(type) {
	case string:
		name = e
	case map[string]any:
		name, _ = e["name"].(string)
		for k, v := range e {
			if k != "name" {
				args[k] = v
			}
		}
	default:
		return nil, fmt.Errorf("executor %v: not a name or a map", e)
	}
	raw, ok := o.Section("executors")[name].(map[string]any)
	if !ok {
		return nil, fmt.Errorf("the orb has no executor %q", name)
	}
	values, err := bind("executor "+name, paramMap(raw), args)
	if err != nil {
		return nil, err
	}
	body, err := substitute(withoutParams(raw), values)
	if err != nil {
		return nil, fmt.Errorf("executor %s: %w", name, err)
	}
	m, ok := body.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("executor %s: not a map", name)
	}
	delete(m, "description")
	return m, nil
}

// expandSteps replaces orb commands and `steps:` lists by the steps they
// stand for; steps are already substituted.
func (o Orb) expandSteps(steps []any, depth int) ([]any, error) {
	var out []any
	for _, s := range steps {
		switch s := s.(type) {
		case string:
			if _, ok := o.Section("commands")[s]; ok {
				more, err := o.expandCommand(s, nil, depth)
				if err != nil {
					return nil, err
				}
				out = append(out, more...)
				continue
			}
			out = append(out, s)
		case map[string]any:
			if len(s) != 1 {
				return nil, fmt.Errorf("a step is a map with one key, not %d", len(s))
			}
			for k, arg := range s {
				more, err := o.expandCall(k, arg, depth)
				if err != nil {
					return nil, err
				}
				out = append(out, more...)
			}
		default:
			return nil, fmt.Errorf("step %v is neither a string nor a map", s)
		}
	}
	return out, nil
}

func (o Orb) expandCall(name string, arg any, depth int) ([]any, error) {
	switch name {
	case "steps":
		list, ok := arg.([]any)
		if !ok && arg != nil {
			return nil, fmt.Errorf("steps: %v is not a list of steps", arg)
		}
		return o.expandSteps(list, depth)
	case "when", "unless":
		m, _ := arg.(map[string]any)
		if truthy(m["condition"]) != (name == "when") {
			return nil, nil
		}
		list, _ := m["steps"].([]any)
		return o.expandSteps(list, depth)
	}
	if _, ok := o.Section("commands")[name]; ok {
		args, _ := arg.(map[string]any)
		return o.expandCommand(name, args, depth)
	}
	return []any{map[string]any{name: arg}}, nil
}

// truthy is how CircleCI reads a literal when/unless condition.
func truthy(v any) bool {
	switch v := v.(type) {
	case nil:
		return false
	case bool:
		return v
	case string:
		return v != ""
	case float64:
		return v != 0
	}
	return true
}

func withoutParams(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != "parameters" {
			out[k] = v
		}
	}
	return out
}
