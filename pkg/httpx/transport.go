package httpx

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/pkg/redact"
)

// RetryOption configures [NewRetry].
type RetryOption func(*retryOptions)

type retryOptions struct {
	policy   Policy
	name     string
	logf     func(format string, args ...any)
	classify func(*http.Request) Mode
	hint     func(*http.Response) time.Duration

	// Seams for this package's tests.
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
	jitter func() float64
}

// WithPolicy sets the bounds of the retries (zero fields: defaults).
func WithPolicy(p Policy) RetryOption {
	return func(o *retryOptions) { o.policy = p }
}

// WithLogf has every retry told to logf as one line starting with name
// ("registry", "heroku API"); nil logf drops them.
func WithLogf(name string, logf func(format string, args ...any)) RetryOption {
	return func(o *retryOptions) { o.name, o.logf = name, logf }
}

// WithClassifier decides the mode of every request whose context has none
// ([WithMode]); without it, requests are [Idempotent].
func WithClassifier(f func(*http.Request) Mode) RetryOption {
	return func(o *retryOptions) { o.classify = f }
}

// WithWaitHint asks for at least f(answer) before a retry when the server
// sent no Retry-After (Heroku's "RateLimit-Remaining: 0", for one).
func WithWaitHint(f func(*http.Response) time.Duration) RetryOption {
	return func(o *retryOptions) { o.hint = f }
}

// Retrier is the retrying RoundTripper; see the package doc.
type Retrier struct {
	next http.RoundTripper
	o    retryOptions
}

// NewRetry returns a RoundTripper that retries requests sent through next
// (nil: http.DefaultTransport) as the options say.
func NewRetry(next http.RoundTripper, opts ...RetryOption) *Retrier {
	if next == nil {
		next = http.DefaultTransport
	}
	o := retryOptions{sleep: Sleep, now: time.Now, jitter: rand.Float64}
	for _, opt := range opts {
		opt(&o)
	}
	o.policy = o.policy.WithDefaults()
	return &Retrier{next: next, o: o}
}

// Policy is the policy the Retrier applies, defaults filled in.
func (t *Retrier) Policy() Policy { return t.o.policy }

// Mode is the mode req is sent in.
func (t *Retrier) Mode(req *http.Request) Mode {
	if m, ok := ModeOf(req.Context()); ok {
		return m
	}
	if t.o.classify != nil {
		return t.o.classify(req)
	}
	return Idempotent
}

// RoundTrip implements http.RoundTripper.
func (t *Retrier) RoundTrip(req *http.Request) (*http.Response, error) {
	mode := t.Mode(req)
	try := Try{Resends: mode.Resends(req), CallerRetries: mode == Caller}
	for try.Attempt = 1; ; try.Attempt++ {
		resp, err := t.send(req, try.Attempt)
		if req.Context().Err() != nil {
			return resp, err
		}
		try.Answer, try.Jitter = t.answer(resp, err), t.o.jitter()
		d := t.o.policy.Decide(try)
		if d.Action == Return {
			return resp, err
		}
		t.log(req, try, d)
		if d.Action == Resend {
			discard(resp)
		}
		if err := t.o.sleep(req.Context(), d.Wait); err != nil {
			if d.Action == Hold {
				discard(resp)
			}
			return nil, err
		}
		if d.Action == Hold {
			return resp, err
		}
		try.Waited += d.Wait
	}
}

// send sends req, or for a later attempt a copy with a fresh body.
func (t *Retrier) send(req *http.Request, attempt int) (*http.Response, error) {
	if attempt == 1 || req.Body == nil || req.Body == http.NoBody {
		return t.next.RoundTrip(req)
	}
	body, err := req.GetBody()
	if err != nil {
		return nil, err
	}
	again := req.Clone(req.Context())
	again.Body = body
	return t.next.RoundTrip(again)
}

// answer is what Decide needs of a try's outcome.
func (t *Retrier) answer(resp *http.Response, err error) Answer {
	if err != nil {
		return Answer{Err: err}
	}
	a := Answer{Status: resp.StatusCode}
	a.RetryAfter, a.HasRetryAfter = ParseRetryAfter(resp.Header.Get("Retry-After"), t.o.now())
	if t.o.hint != nil {
		a.Hint = t.o.hint(resp)
	}
	return a
}

func (t *Retrier) log(req *http.Request, try Try, d Decision) {
	if t.o.logf == nil {
		return
	}
	what := t.o.name + ": " + req.Method + " " + req.URL.Host + req.URL.Path + " " + redact.URLs(try.Answer.why())
	switch {
	case d.Action == Resend:
		t.o.logf("%s; retrying in %s (attempt %d of %d)", what, d.Wait.Round(time.Millisecond), try.Attempt+1, t.o.policy.Attempts)
	case d.Wait > 0:
		t.o.logf("%s; retrying the whole operation in %s, as asked", what, d.Wait.Round(time.Millisecond))
	default:
		t.o.logf("%s; retrying the whole operation", what)
	}
}

// discard drains a little of an answer that is dropped, so that its
// connection can be reused, and closes it.
func discard(resp *http.Response) {
	if resp == nil || resp.Body == nil {
		return
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
}

// sleep waits for d or until ctx ends.
// Sleep waits for d or until ctx ends, and returns ctx's error if it
// ended first.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
