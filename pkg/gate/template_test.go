package gate

import (
	"errors"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

const successRate = `
args:
  - name: service-name
  - name: prometheus
    value: http://prometheus:9090
metrics:
  - name: success-rate
    interval: 1m
    count: 5
    failureLimit: 2
    successCondition: result[0] >= 0.95
    provider:
      prometheus:
        address: "{{args.prometheus}}"
        query: sum(rate(http_requests_total{service="{{ args.service-name }}",code!~"5.."}[5m])) / sum(rate(http_requests_total{service="{{args.service-name}}"}[5m]))
`

func spec(t *testing.T, y string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(y), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestFromTemplate(t *testing.T) {
	ref := TemplateRef{Name: "success-rate", Namespace: "shop", Args: []Arg{{Name: "service-name", Value: "web"}}}
	gs, err := FromTemplate(ref, spec(t, successRate), func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if len(gs) != 1 || gs[0].Name() != "success-rate/success-rate" || gs[0].Limits() != (Limits{Count: 5, FailureLimit: 2, ConsecutiveErrorLimit: 4}) {
		t.Fatalf("gates %+v", gs)
	}
	p, ok := gs[0].measure.(*prometheus)
	if !ok {
		t.Fatalf("measure is a %T", gs[0].measure)
	}
	if p.p.Address != "http://prometheus:9090" || !strings.Contains(p.p.Query, `service="web",code!~"5.."`) || strings.Contains(p.p.Query, "{{") {
		t.Errorf("args not filled in: %+v", p.p)
	}

	bad := []struct {
		name string
		ref  TemplateRef
		yaml string
		want string
	}{
		{"arg without value", TemplateRef{Name: "success-rate", Namespace: "shop"}, successRate, `arg "service-name" has no value`},
		{"unknown arg", TemplateRef{Name: "success-rate", Namespace: "shop", Args: []Arg{{Name: "service-name", Value: "web"}, {Name: "svc", Value: "x"}}}, successRate, `has no arg "svc"`},
		{"unsupported provider", TemplateRef{Name: "dd", Namespace: "shop"}, "metrics:\n  - name: errors\n    provider:\n      datadog:\n        query: avg:errors\n", `provider "datadog" is unsupported`},
		{"job provider", TemplateRef{Name: "load", Namespace: "shop"}, "metrics:\n  - name: load\n    provider:\n      job:\n        spec: {}\n", `provider "job" is unsupported`},
		{"valueFrom", TemplateRef{Name: "s", Namespace: "shop"}, "args:\n  - name: key\n    valueFrom:\n      secretKeyRef: {name: s, key: k}\nmetrics:\n  - name: m\n    provider:\n      web:\n        url: http://x/{{args.key}}\n", "valueFrom"},
		{"undeclared arg used", TemplateRef{Name: "s", Namespace: "shop"}, "metrics:\n  - name: m\n    provider:\n      web:\n        url: http://x/{{args.nope}}\n", "does not declare"},
		{"dryRun", TemplateRef{Name: "s", Namespace: "shop"}, "dryRun: [{metricName: m}]\nmetrics:\n  - name: m\n    provider:\n      web:\n        url: http://x/\n", "uses dryRun"},
		{"bad condition", TemplateRef{Name: "s", Namespace: "shop"}, "metrics:\n  - name: m\n    successCondition: 'result >'\n    provider:\n      web:\n        url: http://x/\n", "does not compile"},
	}
	for _, c := range bad {
		_, err := FromTemplate(c.ref, spec(t, c.yaml), func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}

func TestUnsupportedIsErrUnsupported(t *testing.T) {
	_, err := FromTemplate(TemplateRef{Name: "dd", Namespace: "x"}, spec(t, "metrics:\n  - name: e\n    provider:\n      newRelic: {query: x}\n"), func(string) string { return "" })
	if !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), `provider "newRelic" is unsupported`) {
		t.Fatalf("%v", err)
	}
}
