package httpx

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy bounds how one request is retried. Zero fields take the
// defaults.
type Policy struct {
	// Attempts is the number of tries, the first included [5].
	Attempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one, plus up to 10% jitter [250ms].
	Backoff time.Duration
	// MaxWait caps one wait, one asked for with Retry-After included
	// [20s].
	MaxWait time.Duration
	// Budget caps the time spent waiting for one request [1m].
	Budget time.Duration
}

// Defaults of Policy.
const (
	DefaultAttempts = 5
	DefaultBackoff  = 250 * time.Millisecond
	DefaultMaxWait  = 20 * time.Second
	DefaultBudget   = time.Minute
)

// WithDefaults returns p with zero fields set to the defaults.
func (p Policy) WithDefaults() Policy {
	if p.Attempts <= 0 {
		p.Attempts = DefaultAttempts
	}
	if p.Backoff <= 0 {
		p.Backoff = DefaultBackoff
	}
	if p.MaxWait <= 0 {
		p.MaxWait = DefaultMaxWait
	}
	if p.Budget <= 0 {
		p.Budget = DefaultBudget
	}
	return p
}

// Mode says whether a request may be sent again.
type Mode int

// Modes.
const (
	// Idempotent sends again GET, HEAD and OPTIONS, and PUT and DELETE,
	// when the body can be replayed. It is the default.
	Idempotent Mode = iota
	// Always sends again any request whose body can be replayed: the
	// caller knows it is safe to repeat (a token exchange).
	Always
	// Never sends a request once.
	Never
	// Caller sends a request once, because the caller retries the whole
	// exchange; a retryable answer is held for the wait the server asked
	// for (Retry-After) before it is handed back.
	Caller
)

func (m Mode) String() string {
	switch m {
	case Idempotent:
		return "idempotent"
	case Always:
		return "always"
	case Never:
		return "never"
	case Caller:
		return "caller"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

type modeKey struct{}

// WithMode returns a context whose requests are retried as m says,
// whatever the transport's classifier says.
func WithMode(ctx context.Context, m Mode) context.Context {
	return context.WithValue(ctx, modeKey{}, m)
}

// ModeOf returns the mode set on ctx with WithMode.
func ModeOf(ctx context.Context) (Mode, bool) {
	m, ok := ctx.Value(modeKey{}).(Mode)
	return m, ok
}

// IsIdempotent reports whether sending a request with method twice does
// what sending it once does (RFC 9110, 9.2.2): GET, HEAD, OPTIONS, PUT,
// DELETE.
func IsIdempotent(method string) bool {
	switch method {
	case "", http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodPut, http.MethodDelete:
		return true
	}
	return false
}

// Replayable reports whether req's body can be sent again: it has none,
// or GetBody makes a new one.
func Replayable(req *http.Request) bool {
	return req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
}

// Resends reports whether the transport may send req again in mode m.
func (m Mode) Resends(req *http.Request) bool {
	if !Replayable(req) {
		return false
	}
	switch m {
	case Idempotent:
		return IsIdempotent(req.Method)
	case Always:
		return true
	}
	return false
}

// RetryableStatus reports whether an answer with status code is worth
// asking again: 408, 429, and 5xx but 501 (the server will never do it).
func RetryableStatus(code int) bool {
	switch code {
	case http.StatusRequestTimeout, http.StatusTooManyRequests:
		return true
	case http.StatusNotImplemented:
		return false
	}
	return code >= 500 && code <= 599
}

// RetryableError reports whether a request that failed with err, without
// an answer, is worth sending again: a connection refused, reset or cut
// is; a cancelled or timed-out context, a certificate that does not
// verify, an answer too large are not.
func RetryableError(err error) bool {
	var (
		tooLarge  *TooLargeError
		unknownCA x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		notTLS    tls.RecordHeaderError
	)
	switch {
	case err == nil,
		errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &tooLarge),
		errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid),
		errors.As(err, &verify), errors.As(err, &notTLS):
		return false
	}
	return true
}

// ParseRetryAfter reads a Retry-After value: delay-seconds or an HTTP
// date (a date in the past means no wait).
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil {
		if s < 0 {
			return 0, false
		}
		return time.Duration(s) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(0, t.Sub(now)), true
}

// Answer is what one try got.
type Answer struct {
	// Status is the answer's status code; 0 when Err is set.
	Status int
	// Err is why no answer came.
	Err error
	// RetryAfter is the wait the server asked for, when HasRetryAfter.
	RetryAfter    time.Duration
	HasRetryAfter bool
	// Hint is the least wait the caller's [WithWaitHint] asks for.
	Hint time.Duration
}

// Retryable reports whether the answer is worth asking again.
func (a Answer) Retryable() bool {
	if a.Err != nil {
		return RetryableError(a.Err)
	}
	return RetryableStatus(a.Status)
}

// Try is one try of a request, as [Policy.Decide] sees it.
type Try struct {
	// Resends is true when the transport may send the request again
	// ([Mode.Resends]).
	Resends bool
	// CallerRetries is true in [Caller] mode.
	CallerRetries bool
	// Attempt counts the tries made, this one included.
	Attempt int
	// Waited is the time waited before this try.
	Waited time.Duration
	// Jitter, in [0, 1), picks the jitter of a backoff wait.
	Jitter float64
	// Answer is what this try got.
	Answer Answer
}

// Action is what the transport does with an answer.
type Action int

// Actions.
const (
	// Return hands the answer back as it is.
	Return Action = iota
	// Resend waits, then sends the request again.
	Resend
	// Hold waits, then hands the answer back: the caller retries.
	Hold
)

func (a Action) String() string {
	switch a {
	case Resend:
		return "resend"
	case Hold:
		return "hold"
	}
	return "return"
}

// Decision is what [Policy.Decide] decided.
type Decision struct {
	Action Action
	// Wait is the time to wait before the Action.
	Wait time.Duration
}

// Decide says what to do with one try's answer: hand it back, send the
// request again after a wait, or (in Caller mode) hold it for the wait
// the server asked for. p's zero fields take the defaults.
func (p Policy) Decide(t Try) Decision {
	p = p.WithDefaults()
	if !t.Answer.Retryable() {
		return Decision{Action: Return}
	}
	if t.CallerRetries {
		return Decision{Action: Hold, Wait: p.asked(t.Answer)}
	}
	if !t.Resends || t.Attempt >= p.Attempts {
		return Decision{Action: Return}
	}
	d := p.Wait(t.Attempt, t.Answer, t.Jitter)
	if t.Waited+d > p.Budget {
		return Decision{Action: Return}
	}
	return Decision{Action: Resend, Wait: d}
}

// Wait is the pause after the attempt-th try got a: what the server asked
// for (Retry-After), or else the backoff (Backoff doubled attempt-1
// times, plus jitter×10%) but at least the caller's hint, and never more
// than MaxWait.
func (p Policy) Wait(attempt int, a Answer, jitter float64) time.Duration {
	p = p.WithDefaults()
	if a.HasRetryAfter {
		return min(a.RetryAfter, p.MaxWait)
	}
	d := p.Backoff
	for i := 1; i < attempt && d < p.MaxWait; i++ {
		d *= 2
	}
	d += time.Duration(float64(d) / 10 * min(max(jitter, 0), 1))
	return min(max(d, a.Hint), p.MaxWait)
}

// asked is the wait the server (Retry-After) or else the caller's hint
// asks for, capped by MaxWait; 0 when neither asks.
func (p Policy) asked(a Answer) time.Duration {
	if a.HasRetryAfter {
		return min(a.RetryAfter, p.MaxWait)
	}
	return min(a.Hint, p.MaxWait)
}

// why says in words what an answer was, for a log line.
func (a Answer) why() string {
	if a.Err != nil {
		return "failed: " + a.Err.Error()
	}
	return fmt.Sprintf("answered %d %s", a.Status, http.StatusText(a.Status))
}
