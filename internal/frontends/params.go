package frontends

import (
	"fmt"
	"math"
	"regexp"
	"sort"
	"strings"
)

// Parameter types CircleCI knows.
const (
	TypeString     = "string"
	TypeBoolean    = "boolean"
	TypeInteger    = "integer"
	TypeEnum       = "enum"
	TypeEnvVarName = "env_var_name"
	TypeSteps      = "steps"
	TypeExecutor   = "executor"
)

var (
	// nameRe is what CircleCI allows as the name of a command, job,
	// executor, example or parameter.
	nameRe = regexp.MustCompile(`^[a-z][a-z0-9_-]*$`)
	// envVarNameRe is a POSIX environment variable name, which an
	// env_var_name parameter must hold.
	envVarNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// paramRefRe finds << parameters.NAME >> anywhere in a string.
	paramRefRe = regexp.MustCompile(`<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>`)
	// wholeRefRe matches a string that is exactly one parameter reference;
	// such a string takes the parameter's typed value.
	wholeRefRe = regexp.MustCompile(`^\s*<<\s*parameters\.([A-Za-z0-9_-]+)\s*>>\s*$`)
)

// Param is one declared parameter.
type Param struct {
	Name        string
	Type        string
	Description string
	Default     any // nil when the parameter has no default (required)
	HasDefault  bool
	Enum        []string
}

// Params decodes the parameters of a command, job or executor, in name
// order. Problems are reported by [Orb.Validate]; Params keeps what it can.
func Params(element map[string]any) []Param {
	raw, _ := element["parameters"].(map[string]any)
	var out []Param
	for _, name := range sortedKeys(raw) {
		spec, _ := raw[name].(map[string]any)
		p := Param{Name: name}
		p.Type, _ = spec["type"].(string)
		p.Description, _ = spec["description"].(string)
		p.Default, p.HasDefault = spec["default"]
		if list, ok := spec["enum"].([]any); ok {
			for _, e := range list {
				s, _ := e.(string)
				p.Enum = append(p.Enum, s)
			}
		}
		out = append(out, p)
	}
	return out
}

func paramMap(element map[string]any) map[string]Param {
	out := map[string]Param{}
	for _, p := range Params(element) {
		out[p.Name] = p
	}
	return out
}

// checkValue says what is wrong with v as a value of p; "" when nothing.
// A string that is exactly a parameter reference is taken as valid: its
// type is checked where the referenced parameter is declared.
func (p Param) checkValue(v any) string {
	if s, ok := v.(string); ok && wholeRefRe.MatchString(s) {
		return ""
	}
	switch p.Type {
	case TypeString:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("%v is not a string", v)
		}
	case TypeBoolean:
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("%v is not a boolean", v)
		}
	case TypeInteger:
		f, ok := v.(float64)
		if !ok || f != math.Trunc(f) {
			return fmt.Sprintf("%v is not an integer", v)
		}
	case TypeEnum:
		s, ok := v.(string)
		if !ok || !contains(p.Enum, s) {
			return fmt.Sprintf("%v is not one of %s", v, strings.Join(p.Enum, ", "))
		}
	case TypeEnvVarName:
		s, ok := v.(string)
		if !ok || !envVarNameRe.MatchString(s) {
			return fmt.Sprintf("%v is not an environment variable name", v)
		}
	case TypeSteps:
		if _, ok := v.([]any); !ok {
			return fmt.Sprintf("%v is not a list of steps", v)
		}
	case TypeExecutor:
		switch e := v.(type) {
		case string:
		case map[string]any:
			if _, ok := e["name"].(string); !ok {
				return "an executor given as a map needs a name"
			}
		default:
			return fmt.Sprintf("%v is not an executor", v)
		}
	}
	return ""
}

// bind returns the value of every declared parameter for an invocation with
// args: the argument, else the default. Unknown arguments, missing required
// ones and values of the wrong type are errors.
func bind(what string, params map[string]Param, args map[string]any) (map[string]any, error) {
	var problems []string
	for _, k := range sortedKeys(args) {
		p, ok := params[k]
		if !ok {
			problems = append(problems, fmt.Sprintf("unknown parameter %q", k))
			continue
		}
		if msg := p.checkValue(args[k]); msg != "" {
			problems = append(problems, fmt.Sprintf("parameter %q: %s", k, msg))
		}
	}
	values := map[string]any{}
	for _, p := range params {
		switch v, ok := args[p.Name]; {
		case ok:
			values[p.Name] = v
		case p.HasDefault:
			values[p.Name] = p.Default
		default:
			problems = append(problems, fmt.Sprintf("parameter %q is required", p.Name))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return nil, fmt.Errorf("%s: %s", what, strings.Join(problems, "; "))
	}
	return values, nil
}

// substitute returns a deep copy of v with parameter references replaced:
// a string that is exactly one reference takes the value itself (a list of
// steps, a boolean...); references inside longer strings are replaced by
// the value's text.
func substitute(v any, values map[string]any) (any, error) {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, x := range v {
			nx, err := substitute(x, values)
			if err != nil {
				return nil, err
			}
			out[k] = nx
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, x := range v {
			nx, err := substitute(x, values)
			if err != nil {
				return nil, err
			}
			out[i] = nx
		}
		return out, nil
	case string:
		if m := wholeRefRe.FindStringSubmatch(v); m != nil {
			val, ok := values[m[1]]
			if !ok {
				return nil, fmt.Errorf("<< parameters.%s >> is not declared", m[1])
			}
			return substitute(val, nil)
		}
		var err error
		s := paramRefRe.ReplaceAllStringFunc(v, func(ref string) string {
			name := paramRefRe.FindStringSubmatch(ref)[1]
			val, ok := values[name]
			if !ok {
				err = fmt.Errorf("<< parameters.%s >> is not declared", name)
				return ref
			}
			return Scalar(val)
		})
		return s, err
	}
	return v, nil
}

// Scalar is the text CircleCI makes of a parameter value or an environment
// value: true, 4, or the string itself.
func Scalar(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return v
	case bool:
		if v {
			return "true"
		}
		return "false"
	case float64:
		if v == math.Trunc(v) {
			return fmt.Sprintf("%d", int64(v))
		}
		return fmt.Sprint(v)
	}
	return fmt.Sprint(v)
}
