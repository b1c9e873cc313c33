package ciauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ferry-dev/ferry/pkg/cloud/secret"
	"github.com/ferry-dev/ferry/pkg/promote"
)

// Lookup returns the value of an environment variable and whether it is
// set, like os.LookupEnv.
type Lookup func(key string) (string, bool)

// Get returns the value of key, "" when unset; a nil Lookup has nothing.
func (l Lookup) Get(key string) string {
	if l == nil {
		return ""
	}
	v, _ := l(key)
	return v
}

// MapLookup returns a Lookup over m.
func MapLookup(m map[string]string) Lookup {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// Source supplies the CI job's OIDC ID tokens.
type Source interface {
	// Token returns an ID token whose aud claim is audience.
	Token(ctx context.Context, audience string) (string, error)
	// String names the source for logs, e.g. "GitHub Actions OIDC".
	String() string
}

// FixedAudience is implemented by sources whose tokens carry an audience
// the caller cannot choose.
type FixedAudience interface {
	// Audience returns the audience every token of the source has.
	Audience(ctx context.Context) (string, error)
}

// Audience decides which audience to ask src for: explicit when the user
// set one, else the source's own when it cannot choose (CircleCI, a token
// file), else the cloud's default. An explicit value equal to the cloud's
// default counts as unset: the settings default to it (FERRY_AWS_AUDIENCE,
// FERRY_AZURE_AUDIENCE, the action's inputs), so it says nothing about
// what a fixed-audience source's token carries.
func Audience(ctx context.Context, src Source, explicit, cloudDefault string) string {
	if explicit != "" && explicit != cloudDefault {
		return explicit
	}
	if f, ok := src.(FixedAudience); ok {
		if aud, err := f.Audience(ctx); err == nil && aud != "" {
			return aud
		}
	}
	return cloudDefault
}

// FromEnv returns the token source of the CI the job runs in: GitHub
// Actions when GITHUB_ACTIONS=true, CircleCI when CIRCLECI=true, and nil
// elsewhere. A CI that has not granted the job a token still gets a
// source; its Token returns an input error that says how to grant one.
// client may be nil (a client honouring HTTPS_PROXY is used).
func FromEnv(env Lookup, client *http.Client, report secret.Reporter) Source {
	switch {
	case env.Get("GITHUB_ACTIONS") == "true":
		return &GitHub{
			RequestURL:   env.Get("ACTIONS_ID_TOKEN_REQUEST_URL"),
			RequestToken: env.Get("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
			Client:       client,
			Report:       report,
		}
	case env.Get("CIRCLECI") == "true":
		c := &CircleCI{Token2: env.Get("CIRCLE_OIDC_TOKEN_V2"), Token1: env.Get("CIRCLE_OIDC_TOKEN")}
		report.Report(c.Token2, c.Token1)
		return c
	}
	return nil
}

// GitHub gets ID tokens from the GitHub Actions runtime.
type GitHub struct {
	// RequestURL and RequestToken are ACTIONS_ID_TOKEN_REQUEST_URL and
	// ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	RequestURL, RequestToken string
	// Client makes the request; nil means a client with the default
	// transport (HTTPS_PROXY, SSL_CERT_FILE).
	Client *http.Client
	// Report is told every token before it is returned.
	Report secret.Reporter

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	token string
	exp   time.Time
}

func (g *GitHub) String() string { return "GitHub Actions OIDC" }

// ErrNoGitHubToken says the workflow did not grant an ID token.
var ErrNoGitHubToken = errors.New("GitHub Actions gave this job no OIDC token (ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set): add `permissions: id-token: write` to the workflow or the job")

// Token asks the Actions runtime for a token with audience (GitHub's
// default audience when empty). Tokens are reused until a minute before
// they expire.
func (g *GitHub) Token(ctx context.Context, audience string) (string, error) {
	if g.RequestURL == "" || g.RequestToken == "" {
		return "", promote.Input(ErrNoGitHubToken)
	}
	g.mu.Lock()
	if c, ok := g.cache[audience]; ok && time.Until(c.exp) > time.Minute {
		g.mu.Unlock()
		return c.token, nil
	}
	g.mu.Unlock()

	u, err := url.Parse(g.RequestURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") {
		return "", promote.Input(errors.New("ACTIONS_ID_TOKEN_REQUEST_URL is not an http(s) URL: let the runner set it; do not override it"))
	}
	if audience != "" {
		q := u.Query()
		q.Set("audience", audience)
		u.RawQuery = q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("github oidc: %w", err)
	}
	req.Header.Set("Authorization", "bearer "+g.RequestToken)
	req.Header.Set("Accept", "application/json; api-version=2.0")
	resp, err := client(g.Client).Do(req)
	if err != nil {
		return "", fmt.Errorf("github oidc: requesting a token for audience %q: %w", audience, scrubURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return "", fmt.Errorf("github oidc: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("github oidc: requesting a token for audience %q: the runtime answered %s%s", audience, resp.Status, messageOf(body))
	}
	var out struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal(body, &out); err != nil || out.Value == "" {
		return "", fmt.Errorf("github oidc: the runtime's answer has no token (status %s)", resp.Status)
	}
	g.Report.Report(out.Value)
	if exp := Expiry(out.Value); !exp.IsZero() {
		g.mu.Lock()
		if g.cache == nil {
			g.cache = map[string]cached{}
		}
		g.cache[audience] = cached{token: out.Value, exp: exp}
		g.mu.Unlock()
	}
	return out.Value, nil
}

// CircleCI hands out the job's CircleCI OIDC token.
type CircleCI struct {
	// Token2 and Token1 are CIRCLE_OIDC_TOKEN_V2 and CIRCLE_OIDC_TOKEN;
	// the first one set is used.
	Token2, Token1 string
}

func (c *CircleCI) String() string { return "CircleCI OIDC" }

func (c *CircleCI) token() (string, string, error) {
	switch {
	case c.Token2 != "":
		return c.Token2, "CIRCLE_OIDC_TOKEN_V2", nil
	case c.Token1 != "":
		return c.Token1, "CIRCLE_OIDC_TOKEN", nil
	}
	return "", "", promote.Input(errors.New("CircleCI gave this job no OIDC token (CIRCLE_OIDC_TOKEN_V2 and CIRCLE_OIDC_TOKEN are not set): run the job with a context, as CircleCI issues OIDC tokens to jobs that use one"))
}

// Audience returns the token's aud claim, the organization id.
func (c *CircleCI) Audience(context.Context) (string, error) {
	tok, _, err := c.token()
	if err != nil {
		return "", err
	}
	if auds := Audiences(tok); len(auds) > 0 {
		return auds[0], nil
	}
	return "", nil
}

// Token returns the job's token when audience is empty or one of its aud
// values, and an input error otherwise: CircleCI's audience cannot be
// chosen.
func (c *CircleCI) Token(_ context.Context, audience string) (string, error) {
	tok, from, err := c.token()
	if err != nil {
		return "", err
	}
	if err := checkAudience(tok, audience, from, "CircleCI's OIDC tokens always have the organization id as audience"); err != nil {
		return "", err
	}
	return tok, nil
}

// File reads an ID token from a file on every request, so a rotated
// (projected) token is picked up.
type File struct {
	// Path is the token file.
	Path string
	// Setting names where Path came from in messages, for example
	// "AZURE_FEDERATED_TOKEN_FILE".
	Setting string
	// Report is told every token read.
	Report secret.Reporter
}

func (f *File) String() string { return "OIDC token file " + f.Path }

func (f *File) read() (string, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return "", promote.Input(fmt.Errorf("%s: cannot read the token file %s: %w; point it at a readable file that holds the OIDC token", f.setting(), f.Path, unwrapPath(err)))
	}
	tok := strings.TrimSpace(string(b))
	if tok == "" {
		return "", promote.Input(fmt.Errorf("%s: the token file %s is empty; point it at the file that holds the OIDC token", f.setting(), f.Path))
	}
	f.Report.Report(tok)
	return tok, nil
}

func (f *File) setting() string {
	if f.Setting != "" {
		return f.Setting
	}
	return "token file"
}

// Audience returns the aud claim of the token in the file.
func (f *File) Audience(context.Context) (string, error) {
	tok, err := f.read()
	if err != nil {
		return "", err
	}
	if auds := Audiences(tok); len(auds) > 0 {
		return auds[0], nil
	}
	return "", nil
}

// Token returns the file's token when audience is empty or among its aud
// values.
func (f *File) Token(_ context.Context, audience string) (string, error) {
	tok, err := f.read()
	if err != nil {
		return "", err
	}
	if err := checkAudience(tok, audience, f.setting(), "a token file's audience is set by whoever writes the file"); err != nil {
		return "", err
	}
	return tok, nil
}

// checkAudience fails when audience is set, tok is a JWT with an aud claim,
// and audience is not in it. Tokens that are not JWTs pass: the exchange
// will judge them.
func checkAudience(tok, audience, from, why string) error {
	if audience == "" {
		return nil
	}
	auds := Audiences(tok)
	if len(auds) == 0 || slices.Contains(auds, audience) {
		return nil
	}
	return promote.Input(fmt.Errorf("%s: the token's audience is %q, not %q (%s): set the audience ferry asks for to %q and make the cloud trust that audience",
		from, strings.Join(auds, ","), audience, why, auds[0]))
}

// claims decodes the payload of a JWT without verifying it; nil when tok
// is not a JWT.
func claims(tok string) map[string]json.RawMessage {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return m
}

// Audiences returns the aud claim of a JWT (a string or a list), nil when
// tok is not a JWT or has none. The signature is not checked.
func Audiences(tok string) []string {
	raw, ok := claims(tok)["aud"]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

// Expiry returns the exp claim of a JWT, the zero time when there is none.
func Expiry(tok string) time.Time {
	raw, ok := claims(tok)["exp"]
	if !ok {
		return time.Time{}
	}
	var sec float64
	if json.Unmarshal(raw, &sec) != nil || sec <= 0 {
		return time.Time{}
	}
	return time.Unix(int64(sec), 0)
}

var sessionUnsafe = regexp.MustCompile(`[^\w+=,.@-]`)

// SessionName names a cloud session after the CI run, so audit logs
// (CloudTrail, Entra sign-ins) lead back to it: "ferry-gh-<run id>-<attempt>"
// in GitHub Actions, "ferry-circleci-<build number>" in CircleCI, "ferry"
// elsewhere. It fits AWS's RoleSessionName rules (2 to 64 of [\w+=,.@-]).
func SessionName(env Lookup) string {
	var s string
	switch {
	case env.Get("GITHUB_ACTIONS") == "true" && env.Get("GITHUB_RUN_ID") != "":
		s = "ferry-gh-" + env.Get("GITHUB_RUN_ID")
		if a := env.Get("GITHUB_RUN_ATTEMPT"); a != "" {
			s += "-" + a
		}
	case env.Get("CIRCLECI") == "true" && env.Get("CIRCLE_BUILD_NUM") != "":
		s = "ferry-circleci-" + env.Get("CIRCLE_BUILD_NUM")
	default:
		s = "ferry"
	}
	s = sessionUnsafe.ReplaceAllString(s, "-")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}

func client(c *http.Client) *http.Client {
	if c != nil {
		return c
	}
	return &http.Client{Timeout: 30 * time.Second}
}

// scrubURLError drops the URL from a *url.Error: the request URL carries a
// runtime-specific token in its query on some runners.
func scrubURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// messageOf returns ": <message>" from a JSON error body, or "".
func messageOf(body []byte) string {
	var e struct {
		Message string `json:"message"`
	}
	if json.Unmarshal(body, &e) == nil && e.Message != "" {
		m := e.Message
		if len(m) > 200 {
			m = m[:200]
		}
		return ": " + m
	}
	return ""
}
