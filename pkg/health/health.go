package health

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// MaxBody is how many bytes of a response body a probe reads at most.
const MaxBody = 8 << 10

// Defaults used when a Check leaves a field zero.
const (
	DefaultInterval  = 2 * time.Second
	DefaultTimeout   = 2 * time.Minute
	DefaultThreshold = 3
	// DefaultRequestTimeout bounds one probe when RequestTimeout is zero.
	DefaultRequestTimeout = 10 * time.Second
	maxRedirects          = 5
)

// Check describes an HTTP health check.
type Check struct {
	// URL is probed with GET.
	URL string
	// Interval is the time between the starts of two probes.
	Interval time.Duration
	// Timeout bounds the whole wait, soak included.
	Timeout time.Duration
	// Soak is how long the endpoint must stay healthy after its first
	// successful probe.
	Soak time.Duration
	// Threshold is the number of consecutive failed probes that fail the
	// check.
	Threshold int
	// StartPeriod is a grace period from the first probe during which
	// failures are not counted (a success still counts).
	StartPeriod time.Duration
	// RequestTimeout bounds a single probe.
	RequestTimeout time.Duration
	// Expect reports whether a status code is healthy; nil accepts
	// 200-399.
	Expect func(status int) bool
	// BodyContains, when set, must appear in the first MaxBody bytes of
	// the body.
	BodyContains string
	// BodyMatch, when set, must match the first MaxBody bytes of the body
	// (FERRY_HEALTH_BODY).
	BodyMatch *regexp.Regexp
	// Version, when set, must be shown by every healthy answer (see
	// [Version]).
	Version *Version
	// Client sends the probes; nil uses a client built on
	// http.DefaultTransport. Its redirect policy is replaced by the
	// same-host policy described in the package doc.
	Client *http.Client
}

// IsZero reports whether c has no URL, i.e. no check is configured.
func (c Check) IsZero() bool { return c.URL == "" }

// WithDefaults returns c with zero fields set to their defaults.
func (c Check) WithDefaults() Check {
	if c.Interval <= 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Threshold <= 0 {
		c.Threshold = DefaultThreshold
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = DefaultRequestTimeout
	}
	if c.Expect == nil {
		c.Expect = DefaultExpect
	}
	return c
}

// DefaultExpect accepts 200-399.
func DefaultExpect(status int) bool { return status >= 200 && status < 400 }

// Probe is the outcome of one request.
type Probe struct {
	// Status is the HTTP status, 0 when no response arrived.
	Status int
	// Err is the transport error, if any.
	Err error
	// Body is at most MaxBody bytes of the body.
	Body []byte
	// Header are the response's headers.
	Header http.Header
}

// Judge decides whether one probe is healthy, and why not.
func Judge(c Check, p Probe) (ok bool, reason string) {
	if p.Err != nil {
		return false, p.Err.Error()
	}
	expect := c.Expect
	if expect == nil {
		expect = DefaultExpect
	}
	if !expect(p.Status) {
		return false, fmt.Sprintf("status %d", p.Status)
	}
	if c.BodyContains != "" && !bytes.Contains(p.Body, []byte(c.BodyContains)) {
		return false, fmt.Sprintf("status %d but body lacks %q", p.Status, c.BodyContains)
	}
	if c.BodyMatch != nil && !c.BodyMatch.Match(p.Body) {
		return false, fmt.Sprintf("status %d but body does not match %q", p.Status, c.BodyMatch)
	}
	if c.Version != nil {
		ok, why := c.Version.judge(p.Header, p.Body)
		return ok, fmt.Sprintf("status %d, %s", p.Status, why)
	}
	return true, fmt.Sprintf("status %d", p.Status)
}

// Verdict is the state of a check.
type Verdict int

// Verdicts.
const (
	Pending Verdict = iota
	Passed
	Failed
)

func (v Verdict) String() string {
	switch v {
	case Passed:
		return "passed"
	case Failed:
		return "failed"
	default:
		return "pending"
	}
}

// Tracker folds probe outcomes into a verdict. It is pure: time is passed
// in, nothing is read from a clock.
type Tracker struct {
	Threshold   int
	Soak        time.Duration
	StartPeriod time.Duration

	started      time.Time
	healthySince time.Time
	healthy      bool
	consecutive  int
	verdict      Verdict
	last         string
}

// NewTracker returns a Tracker for c (defaults applied).
func NewTracker(c Check) *Tracker {
	c = c.WithDefaults()
	return &Tracker{Threshold: c.Threshold, Soak: c.Soak, StartPeriod: c.StartPeriod}
}

// Observe records one probe outcome at time at and returns the verdict.
// Once Passed or Failed, the verdict no longer changes.
func (t *Tracker) Observe(at time.Time, ok bool, reason string) Verdict {
	if t.verdict != Pending {
		return t.verdict
	}
	if t.started.IsZero() {
		t.started = at
	}
	t.last = reason
	threshold := t.Threshold
	if threshold <= 0 {
		threshold = 1
	}
	if ok {
		t.consecutive = 0
		if !t.healthy {
			t.healthy = true
			t.healthySince = at
		}
		if at.Sub(t.healthySince) >= t.Soak {
			t.verdict = Passed
		}
		return t.verdict
	}
	if !t.healthy && at.Sub(t.started) < t.StartPeriod {
		return t.verdict
	}
	t.consecutive++
	if t.consecutive >= threshold {
		t.verdict = Failed
	}
	return t.verdict
}

// Healthy reports whether the check has had a success and has not failed.
func (t *Tracker) Healthy() bool { return t.healthy && t.verdict != Failed }

// Consecutive is the current run of counted failures.
func (t *Tracker) Consecutive() int { return t.consecutive }

// Last is the reason recorded with the latest probe.
func (t *Tracker) Last() string { return t.last }

// ErrFailed is wrapped by the error Wait returns when the check failed or
// timed out.
var ErrFailed = errors.New("health check failed")

// Wait probes c.URL until the check passes, fails, or times out, and
// returns nil only when it passed. logf receives one line per change of
// state (nil discards them).
func (c Check) Wait(ctx context.Context, logf func(format string, args ...any)) error {
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if c.URL == "" {
		return errors.New("health check: no URL")
	}
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("health check: %q is not an absolute http(s) URL", c.URL)
	}
	c = c.WithDefaults()
	client := c.client()
	ctx, cancel := context.WithTimeout(ctx, c.Timeout)
	defer cancel()

	tr := NewTracker(c)
	logf("health: checking %s every %s (threshold %d, soak %s, timeout %s)", c.URL, c.Interval, c.Threshold, c.Soak, c.Timeout)
	wasHealthy := false
	tick := time.NewTicker(c.Interval)
	defer tick.Stop()
	for {
		p := c.probe(ctx, client)
		if ctx.Err() != nil {
			return c.timeoutErr(ctx, tr)
		}
		ok, reason := Judge(c, p)
		v := tr.Observe(time.Now(), ok, reason)
		switch {
		case ok && !wasHealthy:
			wasHealthy = true
			if v != Passed {
				logf("health: %s healthy (%s), soaking for %s", c.URL, reason, c.Soak)
			}
		case !ok:
			if wasHealthy {
				logf("health: %s unhealthy during soak: %s (%d/%d)", c.URL, reason, tr.Consecutive(), c.Threshold)
			} else {
				logf("health: %s not healthy yet: %s (%d/%d)", c.URL, reason, tr.Consecutive(), c.Threshold)
			}
		}
		switch v {
		case Passed:
			logf("health: %s passed", c.URL)
			return nil
		case Failed:
			return fmt.Errorf("%w: %s: %d consecutive failures, last: %s", ErrFailed, c.URL, tr.Consecutive(), reason)
		}
		select {
		case <-ctx.Done():
			return c.timeoutErr(ctx, tr)
		case <-tick.C:
		}
	}
}

func (c Check) timeoutErr(ctx context.Context, tr *Tracker) error {
	if errors.Is(context.Cause(ctx), context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		last := tr.Last()
		if last == "" {
			last = "no probe completed"
		}
		if tr.Healthy() {
			return fmt.Errorf("%w: %s: timed out after %s before the %s soak ended (last: %s)", ErrFailed, c.URL, c.Timeout, c.Soak, last)
		}
		return fmt.Errorf("%w: %s: not healthy within %s (last: %s)", ErrFailed, c.URL, c.Timeout, last)
	}
	return fmt.Errorf("health check %s: %w", c.URL, ctx.Err())
}

// client returns a copy of c.Client with the same-host redirect policy.
func (c Check) client() *http.Client {
	var cl http.Client
	if c.Client != nil {
		cl = *c.Client
	}
	cl.CheckRedirect = sameHostRedirects
	cl.Timeout = 0 // per-request timeouts come from the context
	return &cl
}

// sameHostRedirects follows at most maxRedirects redirects, and only to the
// host of the original request; otherwise the redirect response itself is
// returned and judged.
func sameHostRedirects(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return http.ErrUseLastResponse
	}
	o, n := via[0].URL, req.URL
	if !strings.EqualFold(n.Hostname(), o.Hostname()) {
		return http.ErrUseLastResponse
	}
	if n.Scheme == o.Scheme && n.Port() == o.Port() {
		return nil
	}
	// http -> https on the default ports is the one scheme change allowed.
	if o.Scheme == "http" && n.Scheme == "https" && o.Port() == "" && n.Port() == "" {
		return nil
	}
	return http.ErrUseLastResponse
}

func (c Check) probe(ctx context.Context, client *http.Client) Probe {
	ctx, cancel := context.WithTimeout(ctx, c.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return Probe{Err: err}
	}
	req.Header.Set("User-Agent", "ferry-health")
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return Probe{Err: fmt.Errorf("no response within %s", c.RequestTimeout)}
		}
		return Probe{Err: trimURLError(err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(httpx.CapBody(resp.Body, MaxBody, httpx.Truncate()))
	if err != nil && c.BodyContains != "" {
		return Probe{Status: resp.StatusCode, Err: fmt.Errorf("reading body: %w", err)}
	}
	return Probe{Status: resp.StatusCode, Body: body, Header: resp.Header}
}

// trimURLError drops the method and URL that *url.Error repeats; the
// caller names the URL once.
func trimURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// Resolve turns ref into an absolute URL: absolute http(s) URLs pass
// through, anything else is resolved against base (for example "/healthz"
// against "https://shop.herokuapp.com/"). An empty ref resolves to "".
func Resolve(base, ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	r, err := url.Parse(ref)
	if err != nil {
		return "", fmt.Errorf("parsing health URL %q: %w", ref, err)
	}
	if r.IsAbs() {
		if (r.Scheme != "http" && r.Scheme != "https") || r.Host == "" {
			return "", fmt.Errorf("health URL %q: only absolute http and https URLs are supported", ref)
		}
		return r.String(), nil
	}
	if base == "" {
		return "", fmt.Errorf("health URL %q is relative and there is no base URL to resolve it against", ref)
	}
	b, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("parsing base URL %q: %w", base, err)
	}
	if (b.Scheme != "http" && b.Scheme != "https") || b.Host == "" {
		return "", fmt.Errorf("base URL %q is not an absolute http(s) URL", base)
	}
	return b.ResolveReference(r).String(), nil
}
