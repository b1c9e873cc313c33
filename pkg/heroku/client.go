package heroku

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/httpx"
	"github.com/ferry-dev/ferry/pkg/image"
	"github.com/ferry-dev/ferry/pkg/promote"
	"github.com/ferry-dev/ferry/pkg/redact"
)

// Defaults for Options.
const (
	DefaultAPIURL   = "https://api.heroku.com"
	DefaultRegistry = "registry.heroku.com"
	// AcceptDockerReleases is the Accept variant the formation PATCH that
	// releases docker images needs.
	AcceptDockerReleases = "application/vnd.heroku+json; version=3.docker-releases"
)

// Options configure a Client.
type Options struct {
	// KeySetting names where APIKey came from, in errors a user must act
	// on [HEROKU_API_KEY].
	KeySetting string
	// APIKey is the Heroku API key (HEROKU_API_KEY). It is sent only to
	// APIURL and, as the Basic password of user "_", to Registry.
	APIKey string
	// APIURL is the Platform API [https://api.heroku.com].
	APIURL string
	// Registry is the registry host [registry.heroku.com].
	Registry string
	// Platform is the platform picked from an index [linux/amd64].
	Platform v1.Platform
	// Keychain supplies credentials for source registries; nil means
	// anonymous. Registry always gets a Heroku API key (RegistryKey).
	Keychain authn.Keychain
	// RegistryKey returns the API key that opens APP's repositories in
	// Registry, for a source app in another account or team than the
	// target (FERRY_HEROKU_API_KEY_<APP>); nil means APIKey for every app.
	RegistryKey func(app string) string
	// HTTPClient's Transport is the base transport for the API and the
	// registries; nil means http.DefaultTransport.
	HTTPClient *http.Client
	// Logger receives progress; nil drops it.
	Logger promote.Logger
	// Progress, when set, is told how far each copy has come (a progress
	// bar on a terminal, a line now and then in CI).
	Progress func(target string, p image.Progress)
	// Description is a note about the promotion ("promoted X from Y").
	// The Platform API has no place for it on a docker release or a
	// rollback (see the package doc), so it is logged with the release.
	Description string
	// AcceptNoRollback lets a target be promoted whose current release
	// Heroku has expired, or may expire before a restore: a failure then
	// cannot be rolled back (FERRY_HEROKU_ACCEPT_NO_ROLLBACK).
	AcceptNoRollback bool
	// UserAgent is appended to heroku-go's user agent ["ferry"].
	UserAgent string
	// Retry bounds the retries of API and registry requests (see package
	// httpx for what is retried) [httpx's defaults].
	Retry httpx.Policy
	// RequestTimeout bounds one API request [30s].
	RequestTimeout time.Duration
	// PollInterval is the longest pause between two looks at a release
	// or the dynos [2s]; the first pauses are shorter (250ms, 500ms, 1s
	// with the default).
	PollInterval time.Duration
	// ReleaseTimeout bounds following a release to succeeded or failed,
	// release phase included [30m].
	ReleaseTimeout time.Duration
	// BootTimeout bounds waiting for the dynos of a release to be up
	// [5m].
	BootTimeout time.Duration
	// LockTTL is how long an app's lock outlives its holder's last
	// renewal [DefaultLockTTL].
	LockTTL time.Duration
}

// Client talks to the Platform API and the Heroku registry with one API
// key. It is safe for concurrent use.
type Client struct {
	opts    Options
	key     string
	secrets redact.Secrets // the key
	api     *hk.Service    // Accept: version=3
	docker  *hk.Service    // Accept: version=3.docker-releases
	base    http.RoundTripper
	reg     name.Registry
	log     promote.Logger
}

// NewClient checks o and builds a Client. It makes no request.
func NewClient(o Options) (*Client, error) {
	if strings.TrimSpace(o.APIKey) == "" {
		return nil, promote.Input(fmt.Errorf("heroku: no API key: set %s", o.keySetting()))
	}
	if o.APIURL == "" {
		o.APIURL = DefaultAPIURL
	}
	o.APIURL = strings.TrimRight(o.APIURL, "/")
	if !strings.HasPrefix(o.APIURL, "https://") && !strings.HasPrefix(o.APIURL, "http://") {
		return nil, promote.Input(fmt.Errorf("heroku: API URL %q is not an http(s) URL", o.APIURL))
	}
	if o.Registry == "" {
		o.Registry = DefaultRegistry
	}
	reg, err := name.NewRegistry(o.Registry, name.WeakValidation)
	if err != nil {
		return nil, promote.Input(fmt.Errorf("heroku: registry %q: %w", o.Registry, err))
	}
	if o.Platform.OS == "" && o.Platform.Architecture == "" {
		o.Platform = v1.Platform{OS: "linux", Architecture: "amd64"}
	}
	if o.UserAgent == "" {
		o.UserAgent = "ferry"
	}
	if o.RequestTimeout <= 0 {
		o.RequestTimeout = 30 * time.Second
	}
	if o.PollInterval <= 0 {
		o.PollInterval = 2 * time.Second
	}
	if o.ReleaseTimeout <= 0 {
		o.ReleaseTimeout = 30 * time.Minute
	}
	if o.BootTimeout <= 0 {
		o.BootTimeout = 5 * time.Minute
	}
	c := &Client{opts: o, key: o.APIKey, secrets: redact.NewSecrets(o.APIKey), reg: reg, log: o.Logger}
	if c.log == nil {
		c.log = promote.Discard
	}
	c.base = http.DefaultTransport
	if o.HTTPClient != nil && o.HTTPClient.Transport != nil {
		c.base = o.HTTPClient.Transport
	}
	retry := httpx.NewRetry(c.base, httpx.WithPolicy(o.Retry), httpx.WithWaitHint(rateLimitHint),
		httpx.WithLogf("heroku API", func(f string, a ...any) { c.logf("", f, a...) }))
	ua := hk.DefaultUserAgent + " " + o.UserAgent
	c.api = hk.NewService(&http.Client{Transport: &hk.Transport{BearerToken: o.APIKey, UserAgent: ua, Transport: retry}})
	c.api.URL = o.APIURL
	// heroku-go's Transport sets Accept: version=3 on every request and
	// then applies AdditionalHeaders, so the docker-releases variant rides
	// there, on a Service of its own.
	c.docker = hk.NewService(&http.Client{Transport: &hk.Transport{
		BearerToken: o.APIKey, UserAgent: ua, Transport: retry,
		AdditionalHeaders: http.Header{"Accept": []string{AcceptDockerReleases}},
	}})
	c.docker.URL = o.APIURL
	return c, nil
}

func (o Options) keySetting() string {
	if o.KeySetting == "" {
		return "HEROKU_API_KEY"
	}
	return o.KeySetting
}

// APIError is an error answer of the Platform API.
type APIError struct {
	// Status is the HTTP status.
	Status int
	// ID is Heroku's error id ("unauthorized", "forbidden", "not_found",
	// "invalid_params", "rate_limit", ...).
	ID string
	// Message is Heroku's message.
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("heroku API: %d %s: %s", e.Status, e.ID, e.Message)
}

// StatusOf returns the status of an APIError inside err, 0 when none.
func StatusOf(err error) int {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae.Status
	}
	return 0
}

// apiErr turns heroku-go's error into an *APIError and makes sure the key
// appears nowhere in the text.
func (c *Client) apiErr(err error) error {
	if err == nil {
		return nil
	}
	var he hk.Error
	if errors.As(err, &he) {
		err = &APIError{Status: he.StatusCode, ID: he.ID, Message: he.Error()}
	}
	return c.scrub(err)
}

// scrub hides the API key should it ever appear in err's text, and what
// the URLs in it may carry (a registry's signed redirect, user info).
func (c *Client) scrub(err error) error { return redact.Error(err, c.secrets.String, redact.URLs) }

// logf logs for a target, hiding the key.
func (c *Client) logf(target, format string, args ...any) {
	c.log.Logf(target, "%s", c.secrets.String(fmt.Sprintf(format, args...)))
}

func (c *Client) ctx(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, c.opts.RequestTimeout)
}

// CheckAuth asks for the account the key belongs to. A refused key is an
// input error naming the key's setting.
func (c *Client) CheckAuth(ctx context.Context) error {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	_, err := c.api.AccountInfo(cctx)
	if err == nil {
		return nil
	}
	err = c.apiErr(err)
	switch StatusOf(err) {
	case http.StatusUnauthorized, http.StatusForbidden:
		return promote.Input(fmt.Errorf("heroku: the Platform API refused %s (%w); create a new key with `heroku authorizations:create` and set %[1]s", c.opts.keySetting(), err))
	}
	return fmt.Errorf("heroku: checking %s: %w", c.opts.keySetting(), err)
}

// appInfo is what ferry needs of an app.
type appInfo struct {
	Name, Stack, BuildStack, WebURL string
	// Generation is "cedar" or "fir" (the Platform API's app generation,
	// absent from heroku-go's App).
	Generation string
}

// appJSON is the part of the Platform API's app object ferry reads.
type appJSON struct {
	Name       string                 `json:"name"`
	WebURL     string                 `json:"web_url"`
	Stack      struct{ Name string }  `json:"stack"`
	BuildStack struct{ Name string }  `json:"build_stack"`
	Generation *struct{ Name string } `json:"generation"`
}

// app reads an app. Refusals become input errors.
func (c *Client) app(ctx context.Context, app string) (appInfo, error) {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	var a appJSON
	err := c.api.Get(cctx, &a, "/apps/"+url.PathEscape(app), nil, nil)
	if err != nil {
		err = c.apiErr(err)
		switch StatusOf(err) {
		case http.StatusUnauthorized:
			return appInfo{}, promote.Input(fmt.Errorf("reading app %s: the Platform API refused %s: %w", app, c.opts.keySetting(), err))
		case http.StatusForbidden:
			return appInfo{}, promote.Input(fmt.Errorf("reading app %s: %s has no access to it: %w", app, c.opts.keySetting(), err))
		case http.StatusNotFound:
			return appInfo{}, promote.Input(fmt.Errorf("reading app %s: no such app, or %s cannot see it: %w", app, c.opts.keySetting(), err))
		}
		return appInfo{}, fmt.Errorf("reading app %s: %w", app, err)
	}
	info := appInfo{Name: a.Name, Stack: a.Stack.Name, BuildStack: a.BuildStack.Name, WebURL: a.WebURL}
	if a.Generation != nil {
		info.Generation = a.Generation.Name
	}
	return info, nil
}

// containerApp reads an app and refuses it unless it runs on the container
// stack (the rule `heroku container:release` applies: the stack or the
// build stack is "container").
func (c *Client) containerApp(ctx context.Context, app string) (appInfo, error) {
	a, err := c.app(ctx, app)
	if err != nil {
		return a, err
	}
	if a.Generation == "fir" || a.Stack == "cnb" {
		return a, promote.Input(fmt.Errorf("app %s is a Fir app (generation %s, stack %s): Fir builds and runs Cloud Native Buildpacks images only and cannot run Docker images, so ferry cannot release to it; promote to a Cedar app on the container stack, or deploy this app with git push or heroku builds", app, orUnknown(a.Generation), a.Stack))
	}
	if a.Stack != "container" && a.BuildStack != "container" {
		return a, promote.Input(fmt.Errorf("app %s is on the %s stack, not container: ferry releases docker images only to container apps (heroku stack:set container -a %s)", app, a.Stack, app))
	}
	return a, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// releases returns up to max releases, newest first.
func (c *Client) recentReleases(ctx context.Context, app string, max int) ([]hk.Release, error) {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	rs, err := c.api.ReleaseList(cctx, app, &hk.ListRange{Field: "version", Max: max, Descending: true})
	if err != nil {
		return nil, fmt.Errorf("listing releases of %s: %w", app, c.apiErr(err))
	}
	return rs, nil
}

// releasesAfter returns every release with a version above v, oldest
// first, following Next-Range pages.
func (c *Client) releasesAfter(ctx context.Context, app string, v int) ([]hk.Release, error) {
	var out []hk.Release
	last := v
	for page := 0; page < 20; page++ {
		cctx, cancel := c.ctx(ctx)
		rs, err := c.api.ReleaseList(cctx, app, &hk.ListRange{Field: "version", FirstID: "]" + strconv.Itoa(last), Max: 200})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("listing releases of %s after v%d: %w", app, v, c.apiErr(err))
		}
		for _, r := range rs {
			if r.Version > last {
				out = append(out, r)
			}
		}
		if len(rs) < 200 {
			return out, nil
		}
		last = rs[len(rs)-1].Version
	}
	return out, nil
}

func (c *Client) release(ctx context.Context, app, ident string) (*hk.Release, error) {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	r, err := c.api.ReleaseInfo(cctx, app, ident)
	if err != nil {
		return nil, fmt.Errorf("reading release %s of %s: %w", ident, app, c.apiErr(err))
	}
	return r, nil
}

func (c *Client) dynos(ctx context.Context, app string) ([]hk.Dyno, error) {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	ds, err := c.api.DynoList(cctx, app, &hk.ListRange{Field: "id", Max: 1000})
	if err != nil {
		return nil, fmt.Errorf("listing dynos of %s: %w", app, c.apiErr(err))
	}
	return ds, nil
}

func (c *Client) formation(ctx context.Context, app string) ([]hk.Formation, error) {
	cctx, cancel := c.ctx(ctx)
	defer cancel()
	fs, err := c.api.FormationList(cctx, app, &hk.ListRange{Field: "id", Max: 1000})
	if err != nil {
		return nil, fmt.Errorf("reading the formation of %s: %w", app, c.apiErr(err))
	}
	return fs, nil
}

// formationUpdate is one element of a docker-releases PATCH.
type formationUpdate struct {
	Type        string `json:"type"`
	DockerImage string `json:"docker_image"`
}

// patchFormation sends the docker-releases formation PATCH, once: what
// happened when it fails is looked into before anything is sent again.
func (c *Client) patchFormation(ctx context.Context, app string, ups []formationUpdate) error {
	cctx, cancel := c.ctx(httpx.WithMode(ctx, httpx.Never))
	defer cancel()
	var out []hk.Formation
	err := c.docker.Patch(cctx, &out, "/apps/"+app+"/formation", struct {
		Updates []formationUpdate `json:"updates"`
	}{ups})
	return c.apiErr(err)
}

// rollback asks for a rollback release, once (as patchFormation).
func (c *Client) rollback(ctx context.Context, app, releaseID string) (*hk.Release, error) {
	cctx, cancel := c.ctx(httpx.WithMode(ctx, httpx.Never))
	defer cancel()
	r, err := c.api.ReleaseRollback(cctx, app, hk.ReleaseRollbackOpts{Release: releaseID})
	if err != nil {
		return nil, c.apiErr(err)
	}
	return r, nil
}

// registryAuth is how the Heroku registry is logged into.
func (c *Client) registryAuth() authn.Authenticator {
	return &authn.Basic{Username: "_", Password: c.key}
}

// keychain resolves the Heroku registry to an API key (the app's own, per
// Options.RegistryKey, for repositories APP/PROCESS) and everything else
// through Options.Keychain.
func (c *Client) keychain() authn.Keychain {
	return herokuKeychain{reg: c.reg.RegistryStr(), auth: c.registryAuth(), keyFor: c.opts.RegistryKey, next: c.opts.Keychain}
}

type herokuKeychain struct {
	reg    string
	auth   authn.Authenticator
	keyFor func(app string) string
	next   authn.Keychain
}

func (k herokuKeychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	if r.RegistryStr() == k.reg {
		repo, ok := r.(name.Repository)
		if !ok || k.keyFor == nil {
			return k.auth, nil
		}
		app, _, _ := strings.Cut(repo.RepositoryStr(), "/")
		if key := k.keyFor(app); key != "" {
			return &authn.Basic{Username: "_", Password: key}, nil
		}
		return k.auth, nil
	}
	if k.next == nil {
		return authn.Anonymous, nil
	}
	return k.next.Resolve(r)
}

// remoteOpts are the options of ferry's own registry reads: the copy's
// retry policy, so that a burst of 429s or 503s is ridden out (and
// logged) here too.
func (c *Client) remoteOpts(ctx context.Context) []remote.Option {
	return append([]remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(c.keychain()),
		remote.WithPlatform(c.opts.Platform),
		remote.WithUserAgent(c.opts.UserAgent),
	}, image.RemoteOptions(c.base, c.opts.Retry, func(f string, a ...any) { c.logf("", f, a...) })...)
}

// repo is the Heroku registry repository of APP/PROCESS.
func (c *Client) repo(app, process string) string {
	return c.reg.RegistryStr() + "/" + app + "/" + process
}
