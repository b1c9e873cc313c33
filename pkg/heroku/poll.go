package heroku

import (
	"context"
	"net/http"
	"time"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// rateLimitHint asks for a few seconds before a retry when the key's
// token budget is empty (429 with "RateLimit-Remaining: 0" and no
// Retry-After): Heroku refills about 75 tokens a minute, so the usual
// first backoff would only spend another request.
func rateLimitHint(r *http.Response) time.Duration {
	if r.StatusCode == http.StatusTooManyRequests && r.Header.Get("RateLimit-Remaining") == "0" {
		return 3 * time.Second
	}
	return 0
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
func (p *poll) wait(ctx context.Context) error { return httpx.Sleep(ctx, p.advance()) }

// advance returns the next interval.
func (p *poll) advance() time.Duration {
	d := p.next
	p.next = min(2*p.next, p.every)
	return d
}
