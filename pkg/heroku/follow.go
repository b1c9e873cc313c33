package heroku

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	hk "github.com/heroku/heroku-go/v5"

	"github.com/ferry-dev/ferry/pkg/httpx"
)

// Bounds of the release-phase output ferry relays.
const (
	maxOutputBytes  = 4 << 20 // in total
	maxLine         = 8 << 10
	maxReconnects   = 20
	maxStreamMisses = 60 // answers 404 before giving up on the stream
)

// follow polls a release until it is no longer pending, relaying its
// release-phase output to logf meanwhile, and returns its final state.
func (c *Client) follow(ctx context.Context, app, id string, logf func(format string, args ...any)) (*hk.Release, error) {
	ctx, cancel := context.WithTimeout(ctx, c.opts.ReleaseTimeout)
	defer cancel()
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	var streamDone chan struct{}
	pace := newPoll(c.opts.PollInterval)
	for {
		r, err := c.release(ctx, app, id)
		if err != nil {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("release %s of %s still pending after %s", id, app, c.opts.ReleaseTimeout)
			}
			return nil, err
		}
		if streamDone == nil && r.OutputStreamURL != nil && *r.OutputStreamURL != "" {
			streamDone = make(chan struct{})
			url := *r.OutputStreamURL
			go func() {
				defer close(streamDone)
				c.stream(streamCtx, url, logf)
			}()
		}
		if r.Status != statusPending {
			if streamDone != nil {
				// The stream ends with the phase; give it a moment
				// to deliver its last lines.
				select {
				case <-streamDone:
				case <-time.After(max(5*c.opts.PollInterval, time.Second)):
					stopStream()
					<-streamDone
				}
			}
			return r, nil
		}
		if err := pace.wait(ctx); err != nil {
			if errors.Is(err, context.DeadlineExceeded) {
				return nil, fmt.Errorf("release v%d of %s still pending after %s", r.Version, app, c.opts.ReleaseTimeout)
			}
			return nil, err
		}
	}
}

// stream relays a release's output stream line by line. The stream is
// text/plain; it may answer 404 until it exists, and a dropped connection
// is resumed with "Range: bytes=N-" from the last whole line. Everything is
// bounded: 404s, reconnects, line length and total bytes (an httpx cap on
// each answer, at what is left of maxOutputBytes).
func (c *Client) stream(ctx context.Context, url string, logf func(format string, args ...any)) {
	// The output URL is a capability URL on another host: the API key is
	// not sent there, and it is not behind the API's retry transport:
	// this loop resumes it.
	s := &outputStream{client: &http.Client{Transport: c.base}, url: url, logf: logf, pause: c.opts.PollInterval}
	for ctx.Err() == nil {
		resp, err := s.get(ctx)
		if err != nil && ctx.Err() != nil {
			return
		}
		st := streamStepFor(resp, err, s.misses, s.reconnects)
		if st != streamRead && resp != nil {
			resp.Body.Close()
		}
		switch st {
		case streamRead:
			if s.relay(ctx, resp) {
				return
			}
		case streamMissing:
			s.misses++
			if httpx.Sleep(ctx, s.pause) != nil {
				return
			}
		case streamDropped:
			s.reconnects++
			if httpx.Sleep(ctx, s.pause) != nil {
				return
			}
		case streamAbsent:
			logf("release output: not available (404)")
			return
		case streamGiveUp:
			logf("release output: giving up after %d reconnects: %v", maxReconnects, trimURLError(err))
			return
		case streamRefused:
			logf("release output: answered %s", resp.Status)
			return
		}
	}
}

// streamStep is what to do with one answer of the output stream.
type streamStep int

const (
	streamRead    streamStep = iota // relay its lines
	streamMissing                   // 404: it does not exist yet; wait
	streamDropped                   // no answer; wait and reconnect
	streamAbsent                    // 404 for too long: stop
	streamGiveUp                    // no answer, too often: stop
	streamRefused                   // any other status: stop
)

// streamStepFor decides what to do with an answer (resp, or err when none
// came), after misses 404s and reconnects reconnections so far.
func streamStepFor(resp *http.Response, err error, misses, reconnects int) streamStep {
	switch {
	case err != nil && reconnects >= maxReconnects:
		return streamGiveUp
	case err != nil:
		return streamDropped
	case resp.StatusCode == http.StatusNotFound && misses >= maxStreamMisses:
		return streamAbsent
	case resp.StatusCode == http.StatusNotFound:
		return streamMissing
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusPartialContent:
		return streamRead
	}
	return streamRefused
}

// outputStream is the state of relaying one release's output.
type outputStream struct {
	client *http.Client
	url    string
	logf   func(format string, args ...any)
	pause  time.Duration

	off, total         int64 // bytes of whole lines read, relayed
	misses, reconnects int
}

// get asks for the stream from the first byte not yet relayed.
func (s *outputStream) get(ctx context.Context) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/plain")
	if s.off > 0 {
		req.Header.Set("Range", "bytes="+strconv.FormatInt(s.off, 10)+"-")
	}
	return s.client.Do(req)
}

// relay logs the lines of an answer 200 or 206 and closes it. It reports
// whether the stream is done with: ended, truncated, or given up on.
func (s *outputStream) relay(ctx context.Context, resp *http.Response) (done bool) {
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK && s.off > 0 {
		// The server ignored the Range: skip what was relayed.
		if _, err := io.CopyN(io.Discard, resp.Body, s.off); err != nil {
			s.reconnects++
			return s.reconnects > maxReconnects
		}
	}
	ended, n, err := relayLines(httpx.CapBody(resp.Body, maxOutputBytes-s.total, httpx.Truncate()), s.logf)
	s.off += n
	s.total += n
	switch {
	case s.total >= maxOutputBytes:
		s.logf("release output: truncated after %d bytes", s.total)
		return true
	case ended, ctx.Err() != nil:
		return true
	}
	if s.reconnects++; s.reconnects > maxReconnects {
		s.logf("release output: giving up after %d reconnects: %v", maxReconnects, err)
		return true
	}
	return false
}

// relayLines logs whole lines from r and returns whether the stream ended
// (EOF), and how many bytes of whole lines were consumed. A last line
// without a newline is logged when the stream ends.
func relayLines(r io.Reader, logf func(format string, args ...any)) (ended bool, n int64, err error) {
	br := bufio.NewReaderSize(r, maxLine)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			n += int64(len(line))
			logf("release phase: %s", strings.TrimRight(string(line), "\r\n"))
		case errors.Is(err, bufio.ErrBufferFull):
			n += int64(len(line))
			logf("release phase: %s", string(line))
		case errors.Is(err, io.EOF):
			if len(line) > 0 {
				n += int64(len(line))
				logf("release phase: %s", string(line))
			}
			return true, n, nil
		default:
			return false, n, err
		}
	}
}

// trimURLError drops the method and URL *url.Error repeats.
func trimURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
