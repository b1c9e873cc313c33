package redact

import (
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Marker replaces whatever is hidden.
const Marker = "***"

// MinSecret is the length below which a value is not treated as a secret:
// masking "abc" would garble ordinary text, and a credential is longer.
const MinSecret = 4

// Secrets replaces known secret values with [Marker]. The zero value
// replaces nothing. It is safe for concurrent use.
type Secrets struct{ r *strings.Replacer }

// NewSecrets returns a Secrets for values. Surrounding white space is
// trimmed, duplicates and values shorter than [MinSecret] bytes are
// dropped, and longer values are replaced first, so that a secret that
// contains another is hidden whole.
func NewSecrets(values ...string) Secrets {
	uniq := distinct(values)
	if len(uniq) == 0 {
		return Secrets{}
	}
	pairs := make([]string, 0, 2*len(uniq))
	for _, s := range uniq {
		pairs = append(pairs, s, Marker)
	}
	return Secrets{r: strings.NewReplacer(pairs...)}
}

// distinct is what NewSecrets keeps of values, longest first: trimmed,
// at least [MinSecret] bytes, each once.
func distinct(values []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range values {
		s = strings.TrimSpace(s)
		if len(s) < MinSecret || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	sort.SliceStable(out, func(i, j int) bool { return len(out[i]) > len(out[j]) })
	return out
}

// String returns v with every secret replaced.
func (s Secrets) String(v string) string {
	if s.r == nil {
		return v
	}
	return s.r.Replace(v)
}

// Error returns err with every secret replaced in its text (see [Error]).
func (s Secrets) Error(err error) error { return Error(err, s.String) }

// registryKeys are the query keys of the OCI distribution protocol and of
// its token exchange: they say what is asked for and carry no secret.
var registryKeys = map[string]bool{
	"scope": true, "service": true, "mount": true, "from": true, "origin": true,
	"digest": true, "n": true, "last": true,
}

// URL hides the user info of raw and the values of its query parameters,
// but for those of the registry protocol (scope, service, mount, from,
// origin, digest, n, last). Something that does not parse as a URL with
// a host ("me:pw@host") is hidden from its scheme to its last "@" when it
// has one. A URL with nothing to hide is returned as written.
func URL(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || u.Opaque != "":
		return unparsed(raw)
	case u.User == nil && u.RawQuery == "":
		return raw // nothing to hide: keep it as written
	}
	if u.User != nil {
		u.User = url.User(Marker)
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k, vs := range q {
			if registryKeys[k] {
				continue
			}
			for i := range vs {
				vs[i] = Marker
			}
		}
		u.RawQuery = q.Encode()
	}
	// User info and query values escape the marker's asterisks.
	return strings.ReplaceAll(u.String(), escapedMarker, Marker)
}

// unparsed hides what could be user info in a string that is no URL.
func unparsed(raw string) string {
	at := strings.LastIndex(raw, "@")
	if at < 0 {
		return raw
	}
	if i := strings.Index(raw, "://"); i >= 0 && i < at {
		return raw[:i+3] + Marker + raw[at:]
	}
	return Marker + raw[at:]
}

var escapedMarker = strings.Repeat("%2A", len(Marker))

var urlPattern = regexp.MustCompile(`[a-zA-Z][a-zA-Z0-9+.-]*://[^\s"'<>]+`)

// URLs applies [URL] to every URL in text. Punctuation that ends a
// sentence after a URL stays outside it.
func URLs(text string) string {
	return urlPattern.ReplaceAllStringFunc(text, func(s string) string {
		trimmed := strings.TrimRight(s, ".,:;)")
		return URL(trimmed) + s[len(trimmed):]
	})
}

// Error returns err with its text passed through clean, keeping err for
// errors.Is and errors.As. When clean changes nothing, err itself is
// returned; a nil err stays nil.
func Error(err error, clean ...func(string) string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, f := range clean {
		msg = f(msg)
	}
	if msg == err.Error() {
		return err
	}
	return &redacted{msg: msg, err: err}
}

// redacted is an error whose text was cleaned.
type redacted struct {
	msg string
	err error
}

func (e *redacted) Error() string { return e.msg }
func (e *redacted) Unwrap() error { return e.err }
