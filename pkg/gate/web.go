package gate

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/client-go/util/jsonpath"
)

// web measures like Argo Rollouts' web provider: it sends a request to a
// URL, requires a 2xx answer with a JSON body, and takes result from the
// body at a JSONPath (Kubernetes' JSONPath syntax, {$.data.ok}): a single
// match is that value, several are a list; without a JSONPath the whole
// body.
type web struct {
	p    WebProvider
	c    *client
	path *jsonpath.JSONPath
	body string
}

func newWeb(p WebProvider, getenv func(string) string, secrets *[]string) (*web, error) {
	var errs []error
	if err := checkURL("web url", p.URL); err != nil {
		errs = append(errs, err)
	}
	w := &web{p: p, body: p.Body}
	if p.Method == "" {
		w.p.Method = http.MethodGet
	}
	switch w.p.Method {
	case http.MethodGet, http.MethodPost, http.MethodPut:
	default:
		errs = append(errs, fmt.Errorf("web method %q is not GET, POST or PUT", p.Method))
	}
	if len(p.JSONBody) > 0 {
		if p.Body != "" {
			errs = append(errs, errors.New("web has both body and jsonBody: keep one"))
		}
		w.body = string(p.JSONBody)
	}
	if p.JSONPath != "" {
		jp, err := compileJSONPath(p.JSONPath)
		if err != nil {
			errs = append(errs, err)
		}
		w.path = jp
	}
	if p.TimeoutSeconds < 0 {
		errs = append(errs, fmt.Errorf("web timeoutSeconds %d is negative: give seconds, or leave it out for 10", p.TimeoutSeconds))
	}
	c, err := newClient(p.connection, time.Duration(p.TimeoutSeconds)*time.Second, 10*time.Second, getenv, secrets)
	if err != nil {
		errs = append(errs, fmt.Errorf("web %w", err))
	}
	w.c = c
	return w, errors.Join(errs...)
}

func (w *web) measure(ctx context.Context) (any, error) {
	_, body, err := w.c.do(ctx, w.p.Method, w.p.URL, w.body, true)
	if err != nil {
		return nil, err
	}
	var data any
	if err := json.Unmarshal(body, &data); err != nil {
		return nil, fmt.Errorf("the answer is not JSON: %s", snippet(body))
	}
	if w.path == nil {
		return data, nil
	}
	return pick(w.path, data)
}

// pick applies a JSONPath to data.
func pick(jp *jsonpath.JSONPath, data any) (any, error) {
	results, err := jp.FindResults(data)
	if err != nil {
		return nil, fmt.Errorf("jsonPath: %w", err)
	}
	var out []any
	for _, rs := range results {
		for _, r := range rs {
			if r.IsValid() && r.CanInterface() {
				out = append(out, r.Interface())
			} else {
				out = append(out, nil)
			}
		}
	}
	switch len(out) {
	case 0:
		var b bytes.Buffer
		_ = jp.Execute(&b, data)
		return nil, fmt.Errorf("jsonPath matched nothing%s", strings.TrimSpace(" "+b.String()))
	case 1:
		return out[0], nil
	}
	return out, nil
}
