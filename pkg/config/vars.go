package config

import (
	"reflect"
	"strings"
)

// Var describes one variable.
type Var struct {
	// Name is the variable's name: "FERRY_KUBECONFIG_DATA".
	Name string
	// Input is the GitHub Actions input: "kubeconfig-data" (the runner
	// passes it as INPUT_KUBECONFIG-DATA). Empty for FERRY_MODE, which is
	// not an input.
	Input string
	// Alias is the ecosystem's own name read when Name is unset
	// ("KUBECONFIG"), or empty.
	Alias string
	// Default is the value used when the variable is unset or empty.
	Default string
	// Description says what the variable does, in one or two sentences.
	Description string
	// Example is a good value; empty for secrets.
	Example string
	// Secret is true for values that must never be shown.
	Secret bool
}

// field is what the tags of one Config field say.
type field struct {
	index   int
	goName  string
	key     string // "KUBECONFIG_DATA"
	alias   string
	def     string
	desc    string
	example string
	secret  bool
	typ     reflect.Type
}

// fields are the Config fields read from the environment, in order.
var fields = configFields()

func configFields() []field {
	var out []field
	t := reflect.TypeFor[Settings]()
	for i := range t.NumField() {
		sf := t.Field(i)
		key, _, _ := strings.Cut(sf.Tag.Get("env"), ",")
		if key == "" || key == "-" {
			continue
		}
		out = append(out, field{
			index:   i,
			goName:  sf.Name,
			key:     key,
			alias:   sf.Tag.Get("alias"),
			def:     sf.Tag.Get("envDefault"),
			desc:    sf.Tag.Get("desc"),
			example: sf.Tag.Get("example"),
			secret:  sf.Tag.Get("secret") == "true",
			typ:     sf.Type,
		})
	}
	return out
}

func fieldNamed(goName string) (field, bool) {
	for _, f := range fields {
		if f.goName == goName {
			return f, true
		}
	}
	return field{}, false
}

func fieldKeyed(key string) field {
	for _, f := range fields {
		if f.key == key {
			return f
		}
	}
	panic("config: no field " + key)
}

// input is the Actions input name: "kubeconfig-data".
func (f field) input() string { return strings.ToLower(strings.ReplaceAll(f.key, "_", "-")) }

// inputVar is the variable the runner sets for the input:
// "INPUT_KUBECONFIG-DATA".
func (f field) inputVar() string { return "INPUT_" + strings.ToUpper(f.input()) }

// sources are the variables f is read from, lowest precedence first.
func (f field) sources(m Mode) []string {
	var s []string
	if f.alias != "" {
		s = append(s, f.alias)
	}
	s = append(s, Prefix+f.key)
	if m == ModeGitHub {
		s = append(s, f.inputVar())
	}
	return s
}

// Vars describes every variable ferry reads, in a stable order, from the
// tags of [Settings]; FERRY_MODE comes last.
func Vars() []Var {
	out := make([]Var, 0, len(fields)+1)
	for _, f := range fields {
		v := Var{
			Name:        Prefix + f.key,
			Input:       f.input(),
			Alias:       f.alias,
			Default:     f.def,
			Description: f.desc,
			Example:     f.example,
			Secret:      f.secret,
		}
		if f.secret {
			v.Example = ""
		}
		out = append(out, v)
	}
	return append(out, Var{
		Name:        Prefix + "MODE",
		Description: "Where ferry runs: github, circleci or local. Detected from GITHUB_ACTIONS=true and CIRCLECI=true; in github mode the step's inputs (INPUT_*) override FERRY_* variables.",
		Example:     string(ModeLocal),
	})
}
