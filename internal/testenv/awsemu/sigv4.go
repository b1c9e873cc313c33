package awsemu

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	amzDateFormat = "20060102T150405Z"
	// maxSkew is how far a header-signed request's X-Amz-Date may be
	// from now, as AWS enforces.
	maxSkew = 15 * time.Minute
	// maxPresignExpiry is the largest X-Amz-Expires SigV4 allows (7 days).
	maxPresignExpiry = 7 * 24 * time.Hour
)

// signature is what a SigV4-signed request claims.
type signature struct {
	accessKey     string
	scopeDate     string // YYYYMMDD
	region        string
	service       string
	signedHeaders []string
	signature     string
	date          time.Time
	presigned     bool
	expires       time.Duration // X-Amz-Expires of a presigned URL; STS ignores it
	securityToken string
}

// parseSignature reads the Authorization header or, for a presigned URL,
// the X-Amz-* query parameters. It returns nil and no error when the
// request carries no signature at all.
func parseSignature(r *http.Request) (*signature, *apiError) {
	q := r.URL.Query()
	if auth := r.Header.Get("Authorization"); auth != "" {
		rest, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 ")
		if !ok {
			return nil, errIncompleteSignature("Authorization header requires 'AWS4-HMAC-SHA256' algorithm.")
		}
		fields := map[string]string{}
		for part := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			fields[k] = v
		}
		for _, k := range []string{"Credential", "SignedHeaders", "Signature"} {
			if fields[k] == "" {
				return nil, errIncompleteSignature(fmt.Sprintf("Authorization header requires '%s' parameter.", k))
			}
		}
		s := &signature{signedHeaders: strings.Split(fields["SignedHeaders"], ";"), signature: fields["Signature"],
			securityToken: r.Header.Get("X-Amz-Security-Token")}
		if err := s.parseCredential(fields["Credential"]); err != nil {
			return nil, err
		}
		d := r.Header.Get("X-Amz-Date")
		if d == "" {
			return nil, errIncompleteSignature("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
		}
		t, err := time.Parse(amzDateFormat, d)
		if err != nil {
			return nil, errIncompleteSignature(fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'.", d))
		}
		s.date = t
		return s, nil
	}
	if q.Get("X-Amz-Algorithm") == "" && q.Get("X-Amz-Signature") == "" {
		return nil, nil
	}
	if q.Get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" {
		return nil, errIncompleteSignature("X-Amz-Algorithm only supports 'AWS4-HMAC-SHA256'")
	}
	for _, k := range []string{"X-Amz-Credential", "X-Amz-SignedHeaders", "X-Amz-Signature", "X-Amz-Date"} {
		if q.Get(k) == "" {
			return nil, errIncompleteSignature(fmt.Sprintf("AWS query-string parameters must include '%s'. Re-examine the query-string parameters.", k))
		}
	}
	s := &signature{presigned: true, signedHeaders: strings.Split(q.Get("X-Amz-SignedHeaders"), ";"),
		signature: q.Get("X-Amz-Signature"), securityToken: q.Get("X-Amz-Security-Token")}
	if err := s.parseCredential(q.Get("X-Amz-Credential")); err != nil {
		return nil, err
	}
	t, err := time.Parse(amzDateFormat, q.Get("X-Amz-Date"))
	if err != nil {
		return nil, errIncompleteSignature(fmt.Sprintf("Date must be in ISO-8601 'basic format'. Got '%s'.", q.Get("X-Amz-Date")))
	}
	s.date = t
	if v := q.Get("X-Amz-Expires"); v != "" {
		secs, err := strconv.Atoi(v)
		if err != nil || secs < 0 || time.Duration(secs)*time.Second > maxPresignExpiry {
			return nil, errIncompleteSignature("X-Amz-Expires must be non-negative and no more than 604800 seconds.")
		}
		s.expires = time.Duration(secs) * time.Second
	}
	return s, nil
}

func (s *signature) parseCredential(c string) *apiError {
	parts := strings.Split(c, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return errIncompleteSignature(fmt.Sprintf("Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '%s'", c))
	}
	s.accessKey, s.scopeDate, s.region, s.service = parts[0], parts[1], parts[2], parts[3]
	return nil
}

func (s *signature) scope() string {
	return s.scopeDate + "/" + s.region + "/" + s.service + "/aws4_request"
}

// expected computes the signature the request should carry under secret.
func (s *signature) expected(r *http.Request, body []byte, secret string) string {
	payload := sha256Hex(body)
	if h := r.Header.Get("X-Amz-Content-Sha256"); h != "" && !s.presigned {
		payload = h
	}
	canonical := strings.Join([]string{
		r.Method,
		canonicalURI(r.URL),
		canonicalQuery(r.URL, s.presigned),
		canonicalHeaders(r, s.signedHeaders),
		strings.Join(s.signedHeaders, ";"),
		payload,
	}, "\n")
	toSign := strings.Join([]string{"AWS4-HMAC-SHA256", s.date.Format(amzDateFormat), s.scope(), sha256Hex([]byte(canonical))}, "\n")
	key := hmacSHA256([]byte("AWS4"+secret), s.scopeDate)
	key = hmacSHA256(key, s.region)
	key = hmacSHA256(key, s.service)
	key = hmacSHA256(key, "aws4_request")
	return hex.EncodeToString(hmacSHA256(key, toSign))
}

// canonicalURI encodes each path segment once more, as SigV4 asks for
// every service but S3.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = awsEscape(s)
	}
	return strings.Join(segs, "/")
}

func canonicalQuery(u *url.URL, presigned bool) string {
	q, _ := url.ParseQuery(u.RawQuery)
	var pairs []string
	for k, vs := range q {
		if presigned && k == "X-Amz-Signature" {
			continue
		}
		for _, v := range vs {
			pairs = append(pairs, awsEscape(k)+"="+awsEscape(v))
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

func canonicalHeaders(r *http.Request, signed []string) string {
	var b strings.Builder
	for _, name := range signed {
		var vals []string
		switch name {
		case "host":
			vals = []string{r.Host}
		case "content-length":
			vals = []string{strconv.FormatInt(r.ContentLength, 10)}
		default:
			vals = r.Header.Values(name)
		}
		for i, v := range vals {
			vals[i] = strings.Join(strings.Fields(v), " ")
		}
		b.WriteString(name + ":" + strings.Join(vals, ",") + "\n")
	}
	return b.String()
}

// awsEscape is RFC 3986 percent-encoding of everything but the unreserved
// characters.
func awsEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}
