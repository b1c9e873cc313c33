package gate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// prometheus measures with Prometheus' HTTP API: an instant query
// (/api/v1/query) or, with a rangeQuery, a range query
// (/api/v1/query_range). A vector gives result as a list of its sample
// values (result[0]), a scalar a number, a matrix a list of series, each
// the list of its values.
type prometheus struct {
	p          PrometheusProvider
	c          *client
	start, end *vm.Program
	step       time.Duration
}

func newPrometheus(p PrometheusProvider, getenv func(string) string, secrets *[]string) (*prometheus, error) {
	var errs []error
	if err := checkURL("prometheus address", p.Address); err != nil {
		errs = append(errs, err)
	}
	if strings.TrimSpace(p.Query) == "" {
		errs = append(errs, errors.New("prometheus query is empty: write a PromQL query"))
	} else if msg := promqlShape(p.Query); msg != "" {
		errs = append(errs, fmt.Errorf("prometheus query %q %s", p.Query, msg))
	}
	pr := &prometheus{p: p}
	if r := p.RangeQuery; r != nil {
		var err error
		if pr.start, err = compileTime("start", r.Start); err != nil {
			errs = append(errs, err)
		}
		if pr.end, err = compileTime("end", r.End); err != nil {
			errs = append(errs, err)
		}
		if pr.step, err = duration(r.Step, 0); err != nil || pr.step <= 0 {
			errs = append(errs, fmt.Errorf("rangeQuery step %q is not a duration above 0: write 1m", r.Step))
		}
	}
	if p.Timeout < 0 {
		errs = append(errs, fmt.Errorf("prometheus timeout %d is negative: give seconds, or leave it out for 30", p.Timeout))
	}
	c, err := newClient(p.connection, time.Duration(p.Timeout)*time.Second, 30*time.Second, getenv, secrets)
	if err != nil {
		errs = append(errs, fmt.Errorf("prometheus %w", err))
	}
	pr.c = c
	return pr, errors.Join(errs...)
}

// promqlShape catches what plainly is not PromQL (unbalanced brackets
// and quotes) before anything changes; Prometheus itself judges the rest,
// as an error measurement.
func promqlShape(q string) string {
	var stack []rune
	var quote rune
	for _, r := range q {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			}
		case r == '"' || r == '\'' || r == '`':
			quote = r
		case r == '(' || r == '[' || r == '{':
			stack = append(stack, r)
		case r == ')' || r == ']' || r == '}':
			want := map[rune]rune{')': '(', ']': '[', '}': '{'}[r]
			if len(stack) == 0 || stack[len(stack)-1] != want {
				return fmt.Sprintf("has an unmatched %q", string(r))
			}
			stack = stack[:len(stack)-1]
		}
	}
	switch {
	case quote != 0:
		return fmt.Sprintf("has an unclosed %c", quote)
	case len(stack) > 0:
		return fmt.Sprintf("has an unclosed %q", string(stack[len(stack)-1]))
	}
	return ""
}

func (p *prometheus) measure(ctx context.Context) (any, error) {
	base := strings.TrimRight(p.p.Address, "/")
	q := url.Values{"query": {p.p.Query}}
	path := "/api/v1/query"
	if p.start != nil {
		start, err := evalTime(p.start)
		if err != nil {
			return nil, fmt.Errorf("rangeQuery start: %w", err)
		}
		end, err := evalTime(p.end)
		if err != nil {
			return nil, fmt.Errorf("rangeQuery end: %w", err)
		}
		path = "/api/v1/query_range"
		q.Set("start", formatTime(start))
		q.Set("end", formatTime(end))
		q.Set("step", strconv.FormatFloat(p.step.Seconds(), 'f', -1, 64))
	}
	_, body, err := p.c.do(ctx, http.MethodGet, base+path+"?"+q.Encode(), "", false)
	if err != nil {
		return nil, err
	}
	return promResult(body)
}

func evalTime(p *vm.Program) (time.Time, error) {
	out, err := expr.Run(p, nil)
	if err != nil {
		return time.Time{}, err
	}
	t, ok := out.(time.Time)
	if !ok {
		return time.Time{}, fmt.Errorf("gave %v (%T), not a time", out, out)
	}
	return t, nil
}

func formatTime(t time.Time) string {
	return strconv.FormatFloat(float64(t.UnixNano())/1e9, 'f', 3, 64)
}

// promResponse is Prometheus' API envelope.
type promResponse struct {
	Status    string `json:"status"`
	ErrorType string `json:"errorType"`
	Error     string `json:"error"`
	Data      struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	} `json:"data"`
}

// promResult turns an API answer into result.
func promResult(body []byte) (any, error) {
	var r promResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, fmt.Errorf("not a Prometheus API answer: %s", snippet(body))
	}
	if r.Status != "success" {
		return nil, fmt.Errorf("prometheus: %s: %s", r.ErrorType, r.Error)
	}
	switch r.Data.ResultType {
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(r.Data.Result, &s); err != nil {
			return nil, fmt.Errorf("reading the scalar: %w", err)
		}
		return sampleValue(s)
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(r.Data.Result, &v); err != nil {
			return nil, fmt.Errorf("reading the vector: %w", err)
		}
		out := make([]any, 0, len(v))
		for _, s := range v {
			f, err := sampleValue(s.Value)
			if err != nil {
				return nil, err
			}
			out = append(out, f)
		}
		return out, nil
	case "matrix":
		var m []struct {
			Values [][2]any `json:"values"`
		}
		if err := json.Unmarshal(r.Data.Result, &m); err != nil {
			return nil, fmt.Errorf("reading the matrix: %w", err)
		}
		out := make([]any, 0, len(m))
		for _, series := range m {
			vals := make([]any, 0, len(series.Values))
			for _, s := range series.Values {
				f, err := sampleValue(s)
				if err != nil {
					return nil, err
				}
				vals = append(vals, f)
			}
			out = append(out, vals)
		}
		return out, nil
	}
	return nil, fmt.Errorf("prometheus answered a %q result, which ferry does not read", r.Data.ResultType)
}

func sampleValue(s [2]any) (float64, error) {
	str, ok := s[1].(string)
	if !ok {
		return 0, fmt.Errorf("sample value %v is not a string", s[1])
	}
	f, err := strconv.ParseFloat(str, 64)
	if err != nil {
		return 0, fmt.Errorf("sample value %q: %w", str, err)
	}
	return f, nil
}
