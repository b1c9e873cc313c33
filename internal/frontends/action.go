package frontends

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Action is a GitHub Action's metadata file, action.yml.
type Action struct {
	Name        string            `json:"name"`
	Description string            `json:"description"`
	Author      string            `json:"author"`
	Branding    map[string]string `json:"branding"`
	Inputs      map[string]Input  `json:"inputs"`
	Outputs     map[string]Output `json:"outputs"`
	Runs        Runs              `json:"runs"`
}

// Input is one input of an action.
type Input struct {
	Description string `json:"description"`
	// Default is nil when the input has none. YAML may give it as a
	// string, a number or a boolean; the runner passes its text.
	Default            any    `json:"default"`
	Required           any    `json:"required"`
	DeprecationMessage string `json:"deprecationMessage"`
}

// DefaultText is the value the runner passes when the workflow gives none:
// the default's text, or "".
func (i Input) DefaultText() string { return Scalar(i.Default) }

// Output is one output of an action.
type Output struct {
	Description string `json:"description"`
	Value       string `json:"value"`
}

// Runs says how an action runs.
type Runs struct {
	Using      string            `json:"using"`
	Image      string            `json:"image"`
	Args       []string          `json:"args"`
	Entrypoint string            `json:"entrypoint"`
	Env        map[string]string `json:"env"`
}

// LoadAction reads an action.yml, refusing keys GitHub does not know.
func LoadAction(file string) (Action, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Action{}, err
	}
	var a Action
	if err := yaml.UnmarshalStrict(b, &a); err != nil {
		return Action{}, fmt.Errorf("%s: %w", file, err)
	}
	return a, nil
}

// InputNames returns the names of a's inputs in sorted order.
func (a Action) InputNames() []string {
	out := make([]string, 0, len(a.Inputs))
	for k := range a.Inputs {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// InputVar is the variable the runner sets for an input of a docker
// action: INPUT_ and the name upper-cased with spaces turned into
// underscores. Hyphens stay: input kubeconfig-data arrives as
// INPUT_KUBECONFIG-DATA.
func InputVar(name string) string {
	return "INPUT_" + strings.ToUpper(strings.ReplaceAll(name, " ", "_"))
}

// Env returns the INPUT_* variables the runner gives a docker action's
// container for a step with the given `with:` values: every declared input,
// set to its value in with or else to its default (empty when it has none).
// An input in with that the action does not declare is an error, as the
// runner warns about it and passes it anyway.
func (a Action) Env(with map[string]string) ([]string, error) {
	var unknown []string
	for k := range with {
		if _, ok := a.Inputs[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("unexpected inputs %s", strings.Join(unknown, ", "))
	}
	var out []string
	for _, name := range a.InputNames() {
		v, ok := with[name]
		if !ok {
			v = a.Inputs[name].DefaultText()
		}
		out = append(out, InputVar(name)+"="+v)
	}
	return out, nil
}
