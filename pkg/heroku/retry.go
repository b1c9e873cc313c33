package heroku

import (
	"context"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// Retry bounds how idempotent Platform API requests are retried.
type Retry struct {
	// Attempts is the number of tries, the first included [5].
	Attempts int
	// Backoff is the wait after the first failure, doubled after each
	// further one, with 10% jitter [500ms].
	Backoff time.Duration
	// MaxWait caps one wait, including one asked for with Retry-After
	// [20s].
	MaxWait time.Duration
	// Budget caps the total time spent waiting for one request [1m].
	Budget time.Duration
}

func (r Retry) withDefaults() Retry {
	if r.Attempts <= 0 {
		r.Attempts = 5
	}
	if r.Backoff <= 0 {
		r.Backoff = 500 * time.Millisecond
	}
	if r.MaxWait <= 0 {
		r.MaxWait = 20 * time.Second
	}
	if r.Budget <= 0 {
		r.Budget = time.Minute
	}
	return r
}

// retrying retries idempotent requests (GET, HEAD, OPTIONS) that failed in
// the network or were answered 429 or 5xx. It never retries anything else:
// a formation PATCH or a rollback POST that failed is looked into by the
// caller before anything is sent again.
type retrying struct {
	next  http.RoundTripper
	retry Retry
	// logf reports retries; nil drops them.
	logf func(format string, args ...any)
	// sleep waits; tests replace it.
	sleep func(ctx context.Context, d time.Duration) error
}

func idempotent(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func retryable(status int) bool {
	return status == http.StatusTooManyRequests || status >= 500 && status != http.StatusNotImplemented
}

func (t *retrying) RoundTrip(req *http.Request) (*http.Response, error) {
	if !idempotent(req.Method) || req.Body != nil && req.Body != http.NoBody {
		return t.next.RoundTrip(req)
	}
	r := t.retry.withDefaults()
	sleep := t.sleep
	if sleep == nil {
		sleep = sleepCtx
	}
	wait := r.Backoff
	var spent time.Duration
	for attempt := 1; ; attempt++ {
		resp, err := t.next.RoundTrip(req)
		if attempt >= r.Attempts || req.Context().Err() != nil {
			return resp, err
		}
		var why string
		var d time.Duration
		switch {
		case err != nil:
			why = "failed: " + err.Error()
			d = jitter(wait)
		case retryable(resp.StatusCode):
			why = "answered " + resp.Status
			d = jitter(wait)
			if ra, ok := retryAfter(resp.Header.Get("Retry-After"), time.Now()); ok {
				d = ra
			} else if resp.StatusCode == http.StatusTooManyRequests && resp.Header.Get("RateLimit-Remaining") == "0" {
				// Heroku refills about 75 tokens a minute: wait at
				// least for a few.
				d = max(d, 3*time.Second)
			}
		default:
			return resp, nil
		}
		d = min(d, r.MaxWait)
		if spent+d > r.Budget {
			// Out of patience: hand back the last answer as it is.
			return resp, err
		}
		if resp != nil {
			// Drain a little so the connection can be reused.
			_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // drain to reuse the connection
			resp.Body.Close()
		}
		if t.logf != nil {
			t.logf("heroku API: %s %s %s; retrying in %s (attempt %d of %d)", req.Method, req.URL.Path, why, d.Round(time.Millisecond), attempt+1, r.Attempts)
		}
		if err := sleep(req.Context(), d); err != nil {
			return nil, err
		}
		spent += d
		wait *= 2
	}
}

func jitter(d time.Duration) time.Duration {
	return d + time.Duration(rand.Int64N(int64(d)/10+1))
}

// retryAfter parses a Retry-After value: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d, true
		}
		return 0, true
	}
	return 0, false
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// poll paces the looks at something that is often done within a second
// (a release, dynos booting): the first wait is an eighth of every, each
// next one twice the last, up to every. Against the Platform API's rate
// limit that costs about three requests more per wait than looking every
// PollInterval, and a release that is done in half a second is seen in
// about half a second rather than in two.
type poll struct{ next, every time.Duration }

func newPoll(every time.Duration) *poll { return &poll{next: every / 8, every: every} }

// wait sleeps for the next interval or until ctx ends.
func (p *poll) wait(ctx context.Context) error { return sleepCtx(ctx, p.advance()) }

// advance returns the next interval.
func (p *poll) advance() time.Duration {
	d := p.next
	p.next = min(2*p.next, p.every)
	return d
}
