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
// bounded: 404s, reconnects, line length and total bytes.
func (c *Client) stream(ctx context.Context, url string, logf func(format string, args ...any)) {
	// The output URL is a capability URL on another host: the API key is
	// not sent there.
	client := &http.Client{Transport: c.base}
	var off, total int64
	misses, reconnects := 0, 0
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			logf("release output: %v", err)
			return
		}
		req.Header.Set("Accept", "text/plain")
		if off > 0 {
			req.Header.Set("Range", "bytes="+strconv.FormatInt(off, 10)+"-")
		}
		resp, err := client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if reconnects++; reconnects > maxReconnects {
				logf("release output: giving up after %d reconnects: %v", maxReconnects, trimURLError(err))
				return
			}
			if sleepCtx(ctx, c.opts.PollInterval) != nil {
				return
			}
			continue
		}
		skip := int64(0)
		switch resp.StatusCode {
		case http.StatusNotFound:
			resp.Body.Close()
			if misses++; misses > maxStreamMisses {
				logf("release output: not available (404)")
				return
			}
			if sleepCtx(ctx, c.opts.PollInterval) != nil {
				return
			}
			continue
		case http.StatusOK:
			skip = off // the server ignored the Range
		case http.StatusPartialContent:
		default:
			resp.Body.Close()
			logf("release output: answered %s", resp.Status)
			return
		}
		if skip > 0 {
			if _, err := io.CopyN(io.Discard, resp.Body, skip); err != nil {
				resp.Body.Close()
				continue
			}
		}
		ended, n, err := relayLines(resp.Body, logf, maxOutputBytes-total)
		resp.Body.Close()
		off += n
		total += n
		if total >= maxOutputBytes {
			logf("release output: truncated after %d bytes", total)
			return
		}
		if ended {
			return
		}
		if ctx.Err() != nil {
			return
		}
		if reconnects++; reconnects > maxReconnects {
			logf("release output: giving up after %d reconnects: %v", maxReconnects, err)
			return
		}
	}
}

// relayLines logs whole lines from r and returns whether the stream ended
// (EOF), and how many bytes of whole lines were consumed. A last line
// without a newline is logged when the stream ends.
func relayLines(r io.Reader, logf func(format string, args ...any), budget int64) (ended bool, n int64, err error) {
	br := bufio.NewReaderSize(r, maxLine)
	for n < budget {
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
	return false, n, nil
}

// trimURLError drops the method and URL *url.Error repeats.
func trimURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
