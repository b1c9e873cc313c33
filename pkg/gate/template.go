package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// TemplateRef names an Argo Rollouts AnalysisTemplate (or, with
// clusterScope, a ClusterAnalysisTemplate) in a cluster, and the values
// of its args. Its prometheus and web metrics become gates named
// TEMPLATE/METRIC; any other provider is refused as unsupported.
type TemplateRef struct {
	// Name is the template's name.
	Name string `json:"name"`
	// ClusterScope reads a ClusterAnalysisTemplate (as in a Rollout's
	// templates[].clusterScope).
	ClusterScope bool `json:"clusterScope,omitempty"`
	// Namespace of an AnalysisTemplate (required for one).
	Namespace string `json:"namespace,omitempty"`
	// Context is the kubeconfig context of the cluster that holds it;
	// default the current context.
	Context string `json:"context,omitempty"`
	// Args are the values of the template's args.
	Args []Arg `json:"args,omitempty"`
}

// Arg is a value for a template's arg.
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Kind is the template's kind.
func (r TemplateRef) Kind() string {
	if r.ClusterScope {
		return "ClusterAnalysisTemplate"
	}
	return "AnalysisTemplate"
}

func (r TemplateRef) String() string {
	if r.ClusterScope {
		return r.Kind() + " " + r.Name
	}
	return r.Kind() + " " + r.Namespace + "/" + r.Name
}

// templateEntry is a FERRY_GATES entry naming a template.
type templateEntry struct {
	TemplateRef TemplateRef `json:"templateRef"`
}

var dnsName = regexp.MustCompile(`^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$`)

func parseTemplateRef(raw []byte) (TemplateRef, error) {
	var e templateEntry
	if err := yaml.UnmarshalStrict(raw, &e); err != nil {
		return TemplateRef{}, fmt.Errorf("templateRef: %s", firstLine(err.Error()))
	}
	r := e.TemplateRef
	var errs []error
	if !dnsName.MatchString(r.Name) {
		errs = append(errs, fmt.Errorf("templateRef name %q is not a Kubernetes name: write name: success-rate", r.Name))
	}
	if r.ClusterScope && r.Namespace != "" {
		errs = append(errs, fmt.Errorf("templateRef %s is cluster-scoped and has a namespace: remove namespace", r.Name))
	}
	if !r.ClusterScope && r.Namespace == "" {
		errs = append(errs, fmt.Errorf("templateRef %s has no namespace: add namespace: shop (or clusterScope: true for a ClusterAnalysisTemplate)", r.Name))
	}
	if r.Namespace != "" && !dnsName.MatchString(r.Namespace) {
		errs = append(errs, fmt.Errorf("templateRef namespace %q is not a Kubernetes name", r.Namespace))
	}
	seen := map[string]bool{}
	for _, a := range r.Args {
		if a.Name == "" || seen[a.Name] {
			errs = append(errs, fmt.Errorf("templateRef %s: arg %q is empty or given twice", r.Name, a.Name))
		}
		seen[a.Name] = true
	}
	return r, errors.Join(errs...)
}

// templateSpec is the part of an AnalysisTemplate's spec ferry reads.
type templateSpec struct {
	Args []struct {
		Name      string          `json:"name"`
		Value     *string         `json:"value,omitempty"`
		ValueFrom json.RawMessage `json:"valueFrom,omitempty"`
	} `json:"args"`
	Metrics []json.RawMessage `json:"metrics"`
	// DryRun (metrics whose failures do not count) would change verdicts:
	// refused.
	DryRun json.RawMessage `json:"dryRun,omitempty"`
}

var argRef = regexp.MustCompile(`\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}`)

// FromTemplate makes the gates of a template whose spec (the object's
// .spec, as read from the cluster) is spec: its args filled from ref's
// values and the template's defaults, every metric checked as FERRY_GATES'
// are. A metric with another provider than prometheus or web is an
// [UnsupportedError]; an arg without a value, or with valueFrom, is an
// error.
func FromTemplate(ref TemplateRef, spec map[string]any, getenv func(string) string) ([]*Gate, error) {
	raw, err := json.Marshal(spec)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	var ts templateSpec
	if err := json.Unmarshal(raw, &ts); err != nil {
		return nil, fmt.Errorf("%s: reading its spec: %w", ref, err)
	}
	vals, err := argValues(ref, ts)
	if err != nil {
		return nil, err
	}
	ms, err := filledMetrics(ref, ts, vals)
	if err != nil {
		return nil, err
	}
	gs, err := Compile(ms, getenv, ref.Name+"/")
	if err != nil {
		var out []error
		for _, e := range Problems(err) {
			out = append(out, fmt.Errorf("%s: %w", ref, e))
		}
		return nil, errors.Join(out...)
	}
	return gs, nil
}

// argValues are the template's args: its defaults, overridden by ref's.
func argValues(ref TemplateRef, ts templateSpec) (map[string]string, error) {
	vals := map[string]string{}
	declared := map[string]bool{}
	var errs []error
	for _, a := range ts.Args {
		declared[a.Name] = true
		switch {
		case a.Value != nil:
			vals[a.Name] = *a.Value
		case len(a.ValueFrom) > 0 && !hasArg(ref, a.Name):
			vals[a.Name] = ""
			errs = append(errs, fmt.Errorf("%s: arg %q takes its value from a secret or field (valueFrom), which ferry does not read: give it a value in templateRef args", ref, a.Name))
		}
	}
	for _, a := range ref.Args {
		if !declared[a.Name] {
			errs = append(errs, fmt.Errorf("%s has no arg %q: its args are %s", ref, a.Name, argNames(ts)))
			continue
		}
		vals[a.Name] = a.Value
	}
	for _, a := range ts.Args {
		if _, ok := vals[a.Name]; !ok {
			errs = append(errs, fmt.Errorf("%s: arg %q has no value: give it in templateRef args", ref, a.Name))
		}
	}
	if len(ts.Metrics) == 0 {
		errs = append(errs, fmt.Errorf("%s has no metrics", ref))
	}
	if len(ts.DryRun) > 0 && string(ts.DryRun) != "null" && string(ts.DryRun) != "[]" {
		errs = append(errs, fmt.Errorf("%s uses dryRun, which ferry does not support: every metric of a gate counts", ref))
	}
	return vals, errors.Join(errs...)
}

// filledMetrics are the template's metrics with {{args.NAME}} filled in.
func filledMetrics(ref TemplateRef, ts templateSpec, vals map[string]string) ([]Metric, error) {
	var (
		ms   []Metric
		errs []error
	)
	for i, m := range ts.Metrics {
		var subErr error
		filled := argRef.ReplaceAllStringFunc(string(m), func(s string) string {
			name := argRef.FindStringSubmatch(s)[1]
			v, ok := vals[name]
			if !ok {
				subErr = fmt.Errorf("%s: metric %d uses {{args.%s}}, which the template does not declare", ref, i+1, name)
				return s
			}
			b, _ := json.Marshal(v)
			return strings.Trim(string(b), `"`) // inside a JSON string already
		})
		if subErr != nil {
			errs = append(errs, subErr)
			continue
		}
		var met Metric
		if err := lenient(filled, &met); err != nil {
			errs = append(errs, fmt.Errorf("%s: metric %d: %s", ref, i+1, firstLine(err.Error())))
			continue
		}
		ms = append(ms, met)
	}
	return ms, errors.Join(errs...)
}

// lenient reads a metric of a template, which may carry Argo Rollouts
// fields ferry does not act on; those that change a verdict are refused.
func lenient(s string, m *Metric) error {
	var all map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s), &all); err != nil {
		return err
	}
	for _, k := range []string{"consecutiveSuccessLimit", "dryRun"} {
		if _, ok := all[k]; ok {
			return fmt.Errorf("uses %s, which ferry does not support", k)
		}
	}
	return json.Unmarshal([]byte(s), m)
}

func hasArg(ref TemplateRef, name string) bool {
	for _, a := range ref.Args {
		if a.Name == name {
			return true
		}
	}
	return false
}

func argNames(ts templateSpec) string {
	var n []string
	for _, a := range ts.Args {
		n = append(n, a.Name)
	}
	if len(n) == 0 {
		return "none"
	}
	return strings.Join(n, ", ")
}
