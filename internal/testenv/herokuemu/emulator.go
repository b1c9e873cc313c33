package herokuemu

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/go-containerregistry/pkg/registry"
)

// Labels on an image's config that drive the emulator.
const (
	// LabelRelease "fail" on the image of the `release` process type makes
	// the release phase fail.
	LabelRelease = "ferry.test/release"
	// LabelDyno "crash" makes the process type's dynos end crashed.
	LabelDyno = "ferry.test/dyno"
	// LabelHealth "fail" on the web image makes the app's web URL answer
	// 503.
	LabelHealth = "ferry.test/health"
)

// Release and dyno states, as the Platform API spells them.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
	// StatusExpired is a release Heroku expired (older than 30 days and
	// beyond the 20 newest, since October 2025): it cannot be rolled
	// back to.
	StatusExpired = "expired"

	DynoStarting = "starting"
	DynoUp       = "up"
	DynoCrashed  = "crashed"
)

// Options tune the emulator. Zero values take the defaults in brackets.
type Options struct {
	// ReleasePhase is how long a release phase runs [300ms].
	ReleasePhase time.Duration
	// StreamDelay is how long a release's output_stream_url answers 404
	// after the release was created [50ms].
	StreamDelay time.Duration
	// BootTime is how long dynos stay `starting` before they are `up` or
	// `crashed` [100ms].
	BootTime time.Duration
	// RateLimit is each key's request budget; 0 means unlimited. Every
	// authenticated API request spends one token.
	RateLimit int
	// RateLimitRefill gives one token back per interval (0: never).
	RateLimitRefill time.Duration
	// PageSize is the default page size of lists [200]; Heroku's maximum,
	// 1000, is always enforced.
	PageSize int
	// Quantity is the dyno count a process type gets when a release first
	// introduces it [web: 1, others: 0, as on Heroku]; see Scale.
	Quantity map[string]int
	// Logf, when set, receives one line per request (keys never appear).
	Logf func(format string, args ...any)
}

func (o Options) withDefaults() Options {
	if o.ReleasePhase <= 0 {
		o.ReleasePhase = 300 * time.Millisecond
	}
	if o.StreamDelay <= 0 {
		o.StreamDelay = 50 * time.Millisecond
	}
	if o.BootTime <= 0 {
		o.BootTime = 100 * time.Millisecond
	}
	if o.PageSize <= 0 || o.PageSize > maxPageSize {
		o.PageSize = defaultPageSize
	}
	if o.Quantity == nil {
		o.Quantity = map[string]int{"web": 1}
	}
	return o
}

// App is an app as the emulator holds it.
type App struct {
	ID, Name, Stack string
	// WebURL is the app's own loopback web listener, "http://127.0.0.1:PORT/".
	WebURL string
}

// Release is a release as the emulator holds it.
type Release struct {
	ID          string
	Version     int
	Status      string
	Current     bool
	Description string
	// Images maps process types (including `release`) to the image id
	// (config digest, "sha256:...") the release runs.
	Images map[string]string
	// RollbackOf is the version a rollback release restored, 0 otherwise.
	RollbackOf      int
	OutputStreamURL string
	// Phase reports whether the release ran a release phase.
	Phase bool
}

// Dyno is a dyno as the emulator holds it.
type Dyno struct {
	ID, Name, Type, State string
	ReleaseID             string
	ReleaseVersion        int
}

// DynoChange is a dyno leaving `starting`: for `up` or `crashed`.
type DynoChange struct {
	App, Dyno, State string
	ReleaseVersion   int
	At               time.Time
}

// Request is one request an emulator server answered.
type Request struct {
	// Server is "api", "registry" or "stream".
	Server string
	Method string
	Path   string
	Status int
	// At is when the request arrived.
	At time.Time
}

// Fault makes matching requests fail. Faults apply to the API and the
// registry; the first matching fault with requests left wins.
type Fault struct {
	// Method matches the request method; "" matches any.
	Method string
	// Path matches the URL path exactly, or as a prefix when it ends in
	// "*".
	Path string
	// Times is how many requests fail [1].
	Times int
	// Status is the status answered [503].
	Status int
	// RetryAfter, when positive, is sent as Retry-After (whole seconds,
	// rounded up).
	RetryAfter time.Duration
	// Apply lets the request take effect before the fault answers: a
	// response lost on the way back.
	Apply bool
	// Delay is waited before answering (or before giving up when the
	// client leaves first).
	Delay time.Duration
}

type fault struct {
	Fault
	left int
}

type pushedImage struct {
	repo           string
	manifestDigest string
	configDigest   string
	labels         map[string]string
	arch, os       string
}

type formation struct {
	id        string
	quantity  int
	createdAt time.Time
	updatedAt time.Time
}

type release struct {
	id          string
	version     int
	status      string
	description string
	images      map[string]string
	labels      map[string]map[string]string // process -> labels
	arch        map[string]string
	rollbackOf  int
	phase       bool
	stream      *outputStream
	createdAt   time.Time
	updatedAt   time.Time
	userEmail   string
	userID      string
}

type dyno struct {
	id, name, typ, state string
	release              *release
	createdAt, updatedAt time.Time
}

type app struct {
	id, name, stack string
	createdAt       time.Time
	releasedAt      time.Time
	web             *http.Server
	webURL          string
	formation       map[string]*formation
	releases        []*release
	current         *release
	dynos           []*dyno
	pushed          map[string][]*pushedImage // repo "app/process" -> images
	patches         int
}

type key struct {
	email, id string
	apps      map[string]bool
	all       bool
	remaining int // rate limit tokens; -1 when unlimited
	seed      bool
}

// Emulator is a running Heroku Platform API, registry and web router on
// loopback. All methods are safe for concurrent use.
type Emulator struct {
	opts Options

	apiLn, regLn net.Listener
	apiSrv       *http.Server
	regSrv       *http.Server
	apiURL       string
	regHost      string
	reg          http.Handler
	blobs        *blobStore

	mu       sync.Mutex
	closed   bool
	apps     map[string]*app // by name
	appsByID map[string]*app
	keys     map[string]*key
	faults   []*fault
	requests []Request
	changes  []DynoChange
	seeds    map[int]bool // indexes into requests made with the seed key
	timers   []*time.Timer
	streams  map[string]*outputStream // by release id
	seedKey  string
	refill   *time.Ticker
	done     chan struct{}
}

// New starts an emulator: an API server and a registry server on
// 127.0.0.1, each on its own port. Apps get their web listeners on
// CreateApp. Close stops everything.
func New(opts Options) (*Emulator, error) {
	e := &Emulator{
		opts:     opts.withDefaults(),
		apps:     map[string]*app{},
		appsByID: map[string]*app{},
		keys:     map[string]*key{},
		seeds:    map[int]bool{},
		streams:  map[string]*outputStream{},
		done:     make(chan struct{}),
	}
	e.seedKey = "seed-" + newID()
	e.keys[e.seedKey] = &key{email: "seed@herokuemu.test", id: newID(), all: true, remaining: -1, seed: true}
	e.blobs = newBlobStore()
	e.reg = registry.New(registry.WithBlobHandler(e.blobs), registry.Logger(discardLogger()))

	var err error
	if e.apiLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("herokuemu: listening for the API: %w", err)
	}
	if e.regLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		e.apiLn.Close()
		return nil, fmt.Errorf("herokuemu: listening for the registry: %w", err)
	}
	e.apiURL = "http://" + e.apiLn.Addr().String()
	e.regHost = e.regLn.Addr().String()
	e.apiSrv = &http.Server{Handler: http.HandlerFunc(e.serveAPI), ReadHeaderTimeout: 10 * time.Second}
	e.regSrv = &http.Server{Handler: http.HandlerFunc(e.serveRegistry), ReadHeaderTimeout: 10 * time.Second}
	// Serve returns http.ErrServerClosed once Close shuts the servers down.
	go func() { _ = e.apiSrv.Serve(e.apiLn) }()
	go func() { _ = e.regSrv.Serve(e.regLn) }()
	if e.opts.RateLimit > 0 && e.opts.RateLimitRefill > 0 {
		e.refill = time.NewTicker(e.opts.RateLimitRefill)
		go e.refillLoop()
	}
	return e, nil
}

func (e *Emulator) refillLoop() {
	for {
		select {
		case <-e.done:
			return
		case <-e.refill.C:
			e.mu.Lock()
			for _, k := range e.keys {
				if k.remaining >= 0 && k.remaining < e.opts.RateLimit {
					k.remaining++
				}
			}
			e.mu.Unlock()
		}
	}
}

// Close stops the servers, the app listeners and every pending timer.
func (e *Emulator) Close() error {
	e.mu.Lock()
	if e.closed {
		e.mu.Unlock()
		return nil
	}
	e.closed = true
	close(e.done)
	if e.refill != nil {
		e.refill.Stop()
	}
	for _, t := range e.timers {
		t.Stop()
	}
	var webs []*http.Server
	for _, a := range e.apps {
		webs = append(webs, a.web)
	}
	for _, s := range e.streams {
		s.finish()
	}
	e.mu.Unlock()

	// Close, not Shutdown: clients may hold connections that never send
	// a request, which Shutdown would wait for.
	var errs []error
	for _, s := range append([]*http.Server{e.apiSrv, e.regSrv}, webs...) {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// APIURL is the Platform API's base URL, "http://127.0.0.1:PORT".
func (e *Emulator) APIURL() string { return e.apiURL }

// RegistryHost is the registry's host, "127.0.0.1:PORT" (go-containerregistry
// talks plain HTTP to loopback hosts).
func (e *Emulator) RegistryHost() string { return e.regHost }

// AddKey registers an API key that may access the named apps (which may be
// created later). A key added again gains the new apps.
func (e *Emulator) AddKey(k string, apps ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	kk, ok := e.keys[k]
	if !ok {
		n := len(e.keys)
		kk = &key{email: fmt.Sprintf("user%d@herokuemu.test", n), id: newID(), apps: map[string]bool{}, remaining: -1}
		if e.opts.RateLimit > 0 {
			kk.remaining = e.opts.RateLimit
		}
		e.keys[k] = kk
	}
	for _, a := range apps {
		kk.apps[a] = true
	}
}

// SetRateLimit sets the tokens a key has left (-1: unlimited).
func (e *Emulator) SetRateLimit(k string, remaining int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if kk, ok := e.keys[k]; ok {
		kk.remaining = remaining
	}
}

var appName = regexp.MustCompile(`^[a-z][a-z0-9-]{1,29}$`)

// CreateApp creates an app with the given stack ("container", "heroku-24",
// ...; "" means "container"; "cnb" makes a Fir app, whose generation is
// "fir") and starts its web listener.
func (e *Emulator) CreateApp(name, stack string) (App, error) {
	if !appName.MatchString(name) {
		return App{}, fmt.Errorf("herokuemu: invalid app name %q", name)
	}
	if stack == "" {
		stack = "container"
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return App{}, fmt.Errorf("herokuemu: listening for %s's web: %w", name, err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		ln.Close()
		return App{}, errors.New("herokuemu: closed")
	}
	if _, ok := e.apps[name]; ok {
		ln.Close()
		return App{}, fmt.Errorf("herokuemu: app %q exists", name)
	}
	a := &app{
		id:        newID(),
		name:      name,
		stack:     stack,
		createdAt: time.Now().UTC(),
		formation: map[string]*formation{},
		pushed:    map[string][]*pushedImage{},
		webURL:    "http://" + ln.Addr().String() + "/",
	}
	a.web = &http.Server{Handler: e.webHandler(a), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = a.web.Serve(ln) }()
	e.apps[name] = a
	e.appsByID[a.id] = a
	return a.public(), nil
}

func (a *app) public() App {
	return App{ID: a.id, Name: a.name, Stack: a.stack, WebURL: a.webURL}
}

// SeedKey is a key with access to every app whose requests are left out of
// Mutations: use it to set up state (push images, release) before a test.
func (e *Emulator) SeedKey() string { return e.seedKey }

// Releases returns an app's releases, oldest first.
func (e *Emulator) Releases(appName string) []Release {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return nil
	}
	out := make([]Release, 0, len(a.releases))
	for _, r := range a.releases {
		out = append(out, a.publicRelease(r))
	}
	return out
}

func (a *app) publicRelease(r *release) Release {
	imgs := make(map[string]string, len(r.images))
	for k, v := range r.images {
		imgs[k] = v
	}
	out := Release{ID: r.id, Version: r.version, Status: r.status, Current: a.current == r,
		Description: r.description, Images: imgs, RollbackOf: r.rollbackOf, Phase: r.phase}
	if r.stream != nil {
		out.OutputStreamURL = r.stream.url
	}
	return out
}

// ExpireRelease marks release version of app expired, as Heroku's
// release retention does.
func (e *Emulator) ExpireRelease(appName string, version int) error {
	return e.editRelease(appName, version, func(r *release) { r.status = StatusExpired })
}

// AgeRelease sets when release version of app was created.
func (e *Emulator) AgeRelease(appName string, version int, created time.Time) error {
	return e.editRelease(appName, version, func(r *release) { r.createdAt, r.updatedAt = created.UTC(), created.UTC() })
}

// editRelease applies edit to release version of app, under the lock.
func (e *Emulator) editRelease(appName string, version int, edit func(*release)) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return fmt.Errorf("herokuemu: no app %q", appName)
	}
	r := a.findRelease(strconv.Itoa(version))
	if r == nil {
		return fmt.Errorf("herokuemu: app %s has no release v%d", appName, version)
	}
	edit(r)
	return nil
}

// Dynos returns an app's dynos, sorted by name.
func (e *Emulator) Dynos(appName string) []Dyno {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return nil
	}
	var out []Dyno
	for _, d := range a.dynos {
		out = append(out, Dyno{ID: d.id, Name: d.name, Type: d.typ, State: d.state, ReleaseID: d.release.id, ReleaseVersion: d.release.version})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// DynoChanges returns every dyno that left `starting`, in order.
func (e *Emulator) DynoChanges() []DynoChange {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]DynoChange(nil), e.changes...)
}

// Requests returns every request the servers answered, in order.
func (e *Emulator) Requests() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Request(nil), e.requests...)
}

// Mutations returns every request that could change state — non-GET/HEAD
// API requests and registry writes — made with any key but the seed key,
// answered or refused.
func (e *Emulator) Mutations() []Request {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Request
	for i, r := range e.requests {
		if e.seeds[i] || r.Server == "stream" || r.Method == http.MethodGet || r.Method == http.MethodHead {
			continue
		}
		out = append(out, r)
	}
	return out
}

// FormationPatches counts the PATCH requests made to the app's formation
// (seed key excluded), whatever their outcome.
func (e *Emulator) FormationPatches(appName string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a, ok := e.apps[appName]; ok {
		return a.patches
	}
	return 0
}

// Inject adds a fault.
func (e *Emulator) Inject(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	if f.Status == 0 {
		f.Status = http.StatusServiceUnavailable
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &fault{Fault: f, left: f.Times})
}

// takeFault returns the first matching fault with requests left, spending
// one of them.
func (e *Emulator) takeFault(method, path string) *Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, f := range e.faults {
		if f.left <= 0 {
			continue
		}
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if p, ok := strings.CutSuffix(f.Path, "*"); ok {
			if !strings.HasPrefix(path, p) {
				continue
			}
		} else if f.Path != path {
			continue
		}
		f.left--
		ff := f.Fault
		return &ff
	}
	return nil
}

// Scale sets the dyno count of a process type and starts or stops dynos
// of the current release accordingly.
func (e *Emulator) Scale(appName, process string, quantity int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return fmt.Errorf("herokuemu: no app %q", appName)
	}
	f, ok := a.formation[process]
	if !ok {
		f = &formation{id: newID(), createdAt: time.Now().UTC()}
		a.formation[process] = f
	}
	f.quantity = quantity
	f.updatedAt = time.Now().UTC()
	if a.current != nil {
		e.restartDynosLocked(a, a.current)
	}
	return nil
}

// Crash makes a running dyno of an app crash, as an app that fails after
// it booted does: its state becomes `crashed` (it is not restarted).
func (e *Emulator) Crash(appName, dynoName string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return fmt.Errorf("herokuemu: no app %q", appName)
	}
	for _, d := range a.dynos {
		if d.name == dynoName {
			d.state, d.updatedAt = DynoCrashed, time.Now().UTC()
			e.changes = append(e.changes, DynoChange{App: a.name, Dyno: d.name, State: d.state, ReleaseVersion: d.release.version, At: d.updatedAt})
			return nil
		}
	}
	return fmt.Errorf("herokuemu: app %q has no dyno %q", appName, dynoName)
}

// WaitIdle waits until the app has no pending release and no starting
// dyno.
func (e *Emulator) WaitIdle(ctx context.Context, appName string) error {
	for {
		e.mu.Lock()
		a, ok := e.apps[appName]
		idle := ok
		if ok {
			for _, r := range a.releases {
				if r.status == StatusPending {
					idle = false
				}
			}
			for _, d := range a.dynos {
				if d.state == DynoStarting {
					idle = false
				}
			}
		}
		e.mu.Unlock()
		if !ok {
			return fmt.Errorf("herokuemu: no app %q", appName)
		}
		if idle {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// Deploy releases images already pushed to the app's repositories, as a
// formation PATCH by the seed key would: images maps process types to
// image ids ("sha256:..."). It returns the new release (possibly pending).
func (e *Emulator) Deploy(appName string, images map[string]string) (Release, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	a, ok := e.apps[appName]
	if !ok {
		return Release{}, fmt.Errorf("herokuemu: no app %q", appName)
	}
	var ups []update
	types := make([]string, 0, len(images))
	for t := range images {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		ups = append(ups, update{Type: t, DockerImage: images[t]})
	}
	r, apiErr := e.dockerReleaseLocked(a, ups, e.keys[e.seedKey])
	if apiErr != nil {
		return Release{}, fmt.Errorf("herokuemu: %s", apiErr.Message)
	}
	return a.publicRelease(r), nil
}

// after runs f under the lock after d, unless the emulator closed.
func (e *Emulator) afterLocked(d time.Duration, f func()) {
	t := time.AfterFunc(d, func() {
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.closed {
			return
		}
		f()
	})
	e.timers = append(e.timers, t)
}

func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
