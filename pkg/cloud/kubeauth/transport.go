package kubeauth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/transport"
)

const (
	minSlack = 30 * time.Second
	// retryAfterFailure is how long a still-valid token is kept after a
	// renewal failed, before renewal is tried again.
	retryAfterFailure = 5 * time.Second
)

// Renew reports whether a token issued at issued and expiring at exp
// should be replaced at now: when less than min(max(life/4, 30s), life/2)
// of its life is left. Tokens without an expiry are kept.
func Renew(now, issued, exp time.Time) bool {
	if exp.IsZero() {
		return false
	}
	life := exp.Sub(issued)
	slack := max(life/4, minSlack)
	slack = min(slack, life/2)
	return exp.Sub(now) < slack
}

// retryDelay is how long to wait before asking again for a token whose
// renewal returned the same token (a cache upstream, such as MSAL's or the
// metadata server's, still holds it): a tenth of what is left, between a
// second and thirty seconds.
func retryDelay(now, exp time.Time) time.Duration {
	return min(max(exp.Sub(now)/10, time.Second), minSlack)
}

// Credentials hold the current token of a Source and renew it.
type Credentials struct {
	src Source
	now func() time.Time

	mu      sync.Mutex
	tok     Token
	issued  time.Time
	retryAt time.Time
	mints   int
}

// NewCredentials returns credentials over src; nothing is minted yet.
func NewCredentials(src Source) *Credentials {
	return &Credentials{src: src, now: time.Now}
}

// String says where the tokens come from.
func (c *Credentials) String() string { return c.src.String() }

// Check mints (or reuses) a token now, so a credential problem is found
// before anything changes.
func (c *Credentials) Check(ctx context.Context) error {
	_, err := c.token(ctx)
	return err
}

// token returns the token to send, renewing it as Renew says.
func (c *Credentials) token(ctx context.Context) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	have := c.tok.Value != "" && (c.tok.Expiry.IsZero() || now.Before(c.tok.Expiry))
	if have && (!Renew(now, c.issued, c.tok.Expiry) || now.Before(c.retryAt)) {
		return c.tok.Value, nil
	}
	t, err := c.src.Token(ctx)
	c.mints++
	if err != nil {
		if have {
			c.retryAt = now.Add(retryAfterFailure)
			return c.tok.Value, nil
		}
		return "", fmt.Errorf("cluster credentials (%s): %w", c.src, err)
	}
	if t.Value == c.tok.Value {
		c.tok.Expiry = t.Expiry
		c.retryAt = now.Add(retryDelay(now, t.Expiry))
		return t.Value, nil
	}
	c.tok, c.issued, c.retryAt = t, now, time.Time{}
	return t.Value, nil
}

// invalidate drops value if it is still the current token.
func (c *Credentials) invalidate(value string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.tok.Value == value {
		c.tok, c.retryAt = Token{}, time.Time{}
	}
}

// RoundTripper returns a round tripper that sends every request through
// next with the current token as bearer.
func (c *Credentials) RoundTripper(next http.RoundTripper) http.RoundTripper {
	return &bearer{c: c, next: next}
}

type bearer struct {
	c    *Credentials
	next http.RoundTripper
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	tok, err := b.c.token(req.Context())
	if err != nil {
		return nil, err
	}
	first := req.Clone(req.Context())
	first.Header.Set("Authorization", "Bearer "+tok)
	resp, err := b.next.RoundTrip(first)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	replayable := req.Body == nil || req.Body == http.NoBody || req.GetBody != nil
	if !replayable {
		return resp, nil
	}
	b.c.invalidate(tok)
	again, err := b.c.token(req.Context())
	if err != nil || again == tok {
		return resp, nil // the first answer says what went wrong
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		body, err := req.GetBody()
		if err != nil {
			return resp, nil
		}
		retry.Body = body
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	retry.Header.Set("Authorization", "Bearer "+again)
	return b.next.RoundTrip(retry)
}

// Configure makes rc authenticate with c instead of its exec plugin: the
// exec and auth providers and any static token are cleared, and c's round
// tripper wraps whatever transport rc builds.
func Configure(rc *rest.Config, c *Credentials) {
	rc.ExecProvider = nil
	rc.AuthProvider = nil
	rc.BearerToken = ""
	rc.BearerTokenFile = ""
	rc.Username, rc.Password = "", ""
	rc.WrapTransport = transport.Wrappers(rc.WrapTransport, c.RoundTripper)
}
