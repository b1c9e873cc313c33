package gate

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/jsonpath"
	"sigs.k8s.io/yaml"
)

// Metric is one metric as an Argo Rollouts AnalysisTemplate writes it
// (spec.metrics[]), the fields ferry supports.
type Metric struct {
	Name                  string              `json:"name"`
	Interval              string              `json:"interval,omitempty"`
	InitialDelay          string              `json:"initialDelay,omitempty"`
	Count                 *intstr.IntOrString `json:"count,omitempty"`
	FailureLimit          *intstr.IntOrString `json:"failureLimit,omitempty"`
	InconclusiveLimit     *intstr.IntOrString `json:"inconclusiveLimit,omitempty"`
	ConsecutiveErrorLimit *intstr.IntOrString `json:"consecutiveErrorLimit,omitempty"`
	SuccessCondition      string              `json:"successCondition,omitempty"`
	FailureCondition      string              `json:"failureCondition,omitempty"`
	// Provider holds one provider, by name; only prometheus and web are
	// supported.
	Provider map[string]json.RawMessage `json:"provider"`
}

// Header is an extra request header. ValueEnv, a ferry addition, names
// an environment variable that holds the value (a secret, say).
type Header struct {
	Key      string `json:"key"`
	Value    string `json:"value,omitempty"`
	ValueEnv string `json:"valueEnv,omitempty"`
}

// TLS and credentials shared by both providers. Insecure is Argo's;
// the rest are ferry's additions. Secrets come from environment
// variables, never from FERRY_GATES itself.
type connection struct {
	Insecure bool     `json:"insecure,omitempty"`
	Headers  []Header `json:"headers,omitempty"`
	// CAFile is a PEM file of CAs trusted besides the system's.
	CAFile string `json:"caFile,omitempty"`
	// BearerTokenEnv names a variable holding a bearer token.
	BearerTokenEnv string `json:"bearerTokenEnv,omitempty"`
	// BasicAuth is a user name and the variable holding its password.
	BasicAuth *BasicAuth `json:"basicAuth,omitempty"`
}

// BasicAuth is HTTP basic authentication.
type BasicAuth struct {
	Username    string `json:"username"`
	PasswordEnv string `json:"passwordEnv"`
}

// PrometheusProvider is Argo's prometheus provider.
type PrometheusProvider struct {
	Address    string      `json:"address"`
	Query      string      `json:"query"`
	Timeout    int         `json:"timeout,omitempty"` // seconds
	RangeQuery *RangeQuery `json:"rangeQuery,omitempty"`
	connection
}

// RangeQuery makes a prometheus metric a range query: start and end are
// expr-lang expressions giving times (now(), duration("10m")), step a
// duration.
type RangeQuery struct {
	Start string `json:"start"`
	End   string `json:"end"`
	Step  string `json:"step"`
}

// WebProvider is Argo's web provider.
type WebProvider struct {
	URL            string          `json:"url"`
	Method         string          `json:"method,omitempty"`
	Body           string          `json:"body,omitempty"`
	JSONBody       json.RawMessage `json:"jsonBody,omitempty"`
	TimeoutSeconds int             `json:"timeoutSeconds,omitempty"`
	JSONPath       string          `json:"jsonPath,omitempty"`
	connection
}

// Example is a good FERRY_GATES value, for error messages.
const Example = `- name: error-rate
  interval: 30s
  count: 5
  successCondition: result[0] < 0.01
  provider:
    prometheus:
      address: http://prometheus:9090
      query: sum(rate(http_requests_total{code=~"5.."}[1m])) / sum(rate(http_requests_total[1m]))`

// Spec is what FERRY_GATES says: metrics to measure, and
// AnalysisTemplates to read from clusters (see [TemplateRef]).
type Spec struct {
	Gates     []*Gate
	Templates []TemplateRef
}

// Parse reads FERRY_GATES: a YAML list whose entries are metrics (see
// [Metric]) or references to Argo Rollouts AnalysisTemplates (an entry
// with templateRef, see [TemplateRef]). getenv reads the variables that
// credentials name. It checks everything — durations, limits,
// conditions, queries, URLs, credentials — and reports every problem at
// once, one error per problem (see [Problems]).
func Parse(src string, getenv func(string) string) (Spec, error) {
	var entries []json.RawMessage
	if err := yaml.Unmarshal([]byte(src), &entries); err != nil {
		return Spec{}, fmt.Errorf("not a YAML list of metrics: %s", firstLine(err.Error()))
	}
	if len(entries) == 0 {
		return Spec{}, errors.New("no metric given: write a YAML list of metrics")
	}
	var (
		spec Spec
		ms   []Metric
		errs []error
	)
	for i, raw := range entries {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(raw, &probe); err != nil {
			errs = append(errs, fmt.Errorf("entry %d is not a metric (a mapping with name and provider)", i+1))
			continue
		}
		if _, ok := probe["templateRef"]; ok {
			ref, err := parseTemplateRef(raw)
			if err != nil {
				errs = append(errs, fmt.Errorf("entry %d: %w", i+1, err))
				continue
			}
			spec.Templates = append(spec.Templates, ref)
			continue
		}
		var m Metric
		if err := yaml.UnmarshalStrict(raw, &m); err != nil {
			errs = append(errs, fmt.Errorf("entry %d: %s", i+1, firstLine(err.Error())))
			continue
		}
		ms = append(ms, m)
	}
	if len(ms) > 0 {
		gs, err := Compile(ms, getenv, "")
		if err != nil {
			errs = append(errs, Problems(err)...)
		}
		spec.Gates = gs
	}
	if len(errs) > 0 {
		return Spec{}, errors.Join(errs...)
	}
	return spec, nil
}

// Compile checks metrics and makes their gates, named prefix + name.
func Compile(ms []Metric, getenv func(string) string, prefix string) ([]*Gate, error) {
	var (
		gates []*Gate
		errs  []error
		seen  = map[string]bool{}
	)
	for i, m := range ms {
		name := m.Name
		if name == "" {
			errs = append(errs, fmt.Errorf("metric %d has no name: add name: error-rate", i+1))
			name = fmt.Sprintf("#%d", i+1)
		} else if seen[name] {
			errs = append(errs, fmt.Errorf("metric %q is given twice: give each metric its own name", name))
		}
		seen[name] = true
		g, err := compileMetric(m, getenv)
		if err != nil {
			for _, e := range Problems(err) {
				errs = append(errs, fmt.Errorf("metric %q: %w", name, e))
			}
			continue
		}
		g.name = prefix + name
		gates = append(gates, g)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return gates, nil
}

func compileMetric(m Metric, getenv func(string) string) (*Gate, error) {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	g := &Gate{metric: m}
	var err error
	if g.interval, err = duration(m.Interval, 0); err != nil {
		bad("interval %v", err)
	}
	if g.initialDelay, err = duration(m.InitialDelay, 0); err != nil {
		bad("initialDelay %v", err)
	}
	g.limits.Count = count("count", m.Count, 1, 1, bad)
	g.limits.FailureLimit = count("failureLimit", m.FailureLimit, 0, 0, bad)
	g.limits.InconclusiveLimit = count("inconclusiveLimit", m.InconclusiveLimit, 0, 0, bad)
	g.limits.ConsecutiveErrorLimit = count("consecutiveErrorLimit", m.ConsecutiveErrorLimit, DefaultConsecutiveErrorLimit, 0, bad)
	if g.limits.Count > 1 && g.interval <= 0 {
		bad("count %d needs an interval between the measurements: add interval: 30s", g.limits.Count)
	}
	if g.success, err = ParseCondition(m.SuccessCondition); err != nil {
		bad("successCondition %v", err)
	}
	if g.failure, err = ParseCondition(m.FailureCondition); err != nil {
		bad("failureCondition %v", err)
	}
	g.measure, err = provider(m.Provider, getenv, &g.secrets)
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return g, nil
}

// ParseCondition compiles a successCondition or failureCondition; ""
// gives nil (no condition).
func ParseCondition(src string) (*Condition, error) { return compileCondition(src) }

func duration(s string, def time.Duration) (time.Duration, error) {
	if s == "" {
		return def, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > 6*time.Hour {
		return 0, fmt.Errorf("%q is not a duration from 0 to 6h: write a number with a unit (30s, 5m)", s)
	}
	return d, nil
}

func count(field string, v *intstr.IntOrString, def, least int, bad func(string, ...any)) int {
	if v == nil {
		return def
	}
	n := v.IntValue()
	if v.Type == intstr.String && fmt.Sprint(n) != strings.TrimSpace(v.StrVal) {
		bad("%s %q is not a whole number", field, v.StrVal)
		return def
	}
	if n < least || n > 10000 {
		bad("%s %d is out of range: use %d to 10000", field, n, least)
		return def
	}
	return n
}

// providers are the providers ferry measures, for messages.
var providers = []string{"prometheus", "web"}

func provider(p map[string]json.RawMessage, getenv func(string) string, secrets *[]string) (measurer, error) {
	if len(p) != 1 {
		names := make([]string, 0, len(p))
		for k := range p {
			names = append(names, k)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("provider names %d providers (%s): give exactly one, prometheus or web", len(p), strings.Join(names, ", "))
	}
	for name, raw := range p {
		switch name {
		case "prometheus":
			var pp PrometheusProvider
			if err := yaml.UnmarshalStrict(raw, &pp); err != nil {
				return nil, fmt.Errorf("provider prometheus: %s", firstLine(err.Error()))
			}
			return newPrometheus(pp, getenv, secrets)
		case "web":
			var wp WebProvider
			if err := yaml.UnmarshalStrict(raw, &wp); err != nil {
				return nil, fmt.Errorf("provider web: %s", firstLine(err.Error()))
			}
			return newWeb(wp, getenv, secrets)
		}
		return nil, &UnsupportedError{Provider: name}
	}
	return nil, nil
}

// UnsupportedError is a metric whose provider ferry does not measure.
type UnsupportedError struct{ Provider string }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("provider %q is unsupported: ferry measures %s metrics only", e.Provider, strings.Join(providers, " and "))
}

func checkURL(field, s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%s %q is not an http(s) URL: write http://prometheus:9090", field, s)
	}
	if u.User != nil {
		return fmt.Errorf("%s has credentials in it: use basicAuth with passwordEnv instead", field)
	}
	return nil
}

// rangeTimes compiles a range query's start and end.
func compileTime(field, src string) (*vm.Program, error) {
	if src == "" {
		return nil, fmt.Errorf("rangeQuery %s is empty: write an expression such as now() - duration(\"10m\")", field)
	}
	p, err := expr.Compile(src, expr.AsKind(0))
	if err != nil {
		return nil, fmt.Errorf("rangeQuery %s %q does not compile: %s", field, src, firstLine(err.Error()))
	}
	return p, nil
}

// compileJSONPath checks a web provider's JSONPath.
func compileJSONPath(s string) (*jsonpath.JSONPath, error) {
	jp := jsonpath.New("result").AllowMissingKeys(false)
	if err := jp.Parse(s); err != nil {
		return nil, fmt.Errorf("jsonPath %q does not parse: %s", s, firstLine(err.Error()))
	}
	return jp, nil
}

func credential(field, name string, getenv func(string) string, secrets *[]string) (string, error) {
	v := getenv(name)
	if v == "" {
		return "", fmt.Errorf("%s names %s, which is not set: set it, or remove %s", field, name, field)
	}
	*secrets = append(*secrets, v)
	return v, nil
}

// Problems splits an error of [Parse] (or [Compile]) into its problems,
// one each: the errors an [errors.Join] holds, recursively.
func Problems(err error) []error {
	j, ok := err.(interface{ Unwrap() []error })
	if !ok {
		return []error{err}
	}
	var out []error
	for _, e := range j.Unwrap() {
		out = append(out, Problems(e)...)
	}
	return out
}
