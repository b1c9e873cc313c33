package health

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// Version makes a check require that the answer shows the promoted
// version, so that old pods still serving, or the previous dyno during
// Heroku's preboot, cannot pass it: the value of a response header, or
// of a field of a JSON body, must be one of Accept.
type Version struct {
	// Header names the response header that holds the version; JSONField
	// the dotted path of the field of a JSON body that does
	// ("build.version"). Exactly one is set.
	Header, JSONField string
	// Commit is the commit being promoted (the CI run's), "" when none.
	Commit string
	// Accept are the values that show the promoted version (see
	// [Accepted]); the pipeline sets them when it verifies a release.
	Accept []string
}

// ParseVersion reads a version requirement: "header:NAME" or
// "json:PATH.TO.FIELD".
func ParseVersion(s string) (*Version, error) {
	kind, name, ok := strings.Cut(strings.TrimSpace(s), ":")
	name = strings.TrimSpace(name)
	switch {
	case !ok || name == "":
	case kind == "header" && !strings.ContainsAny(name, " \t:"):
		return &Version{Header: http.CanonicalHeaderKey(name)}, nil
	case kind == "json" && !slices.Contains(strings.Split(name, "."), ""):
		return &Version{JSONField: name}, nil
	}
	return nil, fmt.Errorf("%q says neither header:NAME nor json:FIELD: write header:X-Version or json:build.version", s)
}

// Accepted are the forms a promoted version may be shown in: the digest
// (sha256:...), its hex, its short form (the first 12 hex digits), and the
// commit and its first 7 characters when there is one.
func Accepted(digest, commit string) []string {
	var out []string
	if digest != "" {
		out = append(out, digest)
		_, hex, ok := strings.Cut(digest, ":")
		if ok && hex != "" {
			out = append(out, hex)
			if len(hex) > 12 {
				out = append(out, hex[:12])
			}
		}
	}
	if commit != "" {
		out = append(out, commit)
		if len(commit) > 7 {
			out = append(out, commit[:7])
		}
	}
	return out
}

// judge reports whether the answer shows an accepted version.
func (v *Version) judge(h http.Header, body []byte) (bool, string) {
	var got string
	where := ""
	if v.Header != "" {
		where = "header " + v.Header
		if _, ok := h[v.Header]; !ok {
			return false, "no " + where
		}
		got = strings.TrimSpace(h.Get(v.Header))
	} else {
		where = "JSON field " + v.JSONField
		var data any
		if err := json.Unmarshal(body, &data); err != nil {
			return false, "the body is not JSON, so it has no " + where
		}
		for _, k := range strings.Split(v.JSONField, ".") {
			m, ok := data.(map[string]any)
			if !ok {
				return false, "no " + where
			}
			if data, ok = m[k]; !ok {
				return false, "no " + where
			}
		}
		s, ok := data.(string)
		if !ok {
			return false, fmt.Sprintf("%s is %v, not a string", where, data)
		}
		got = strings.TrimSpace(s)
	}
	for _, a := range v.Accept {
		if got == a || strings.HasSuffix(got, "@"+a) {
			return true, where + " shows " + got
		}
	}
	return false, fmt.Sprintf("%s shows %q, not the promoted version (%s)", where, got, strings.Join(v.Accept, ", "))
}
