package httpx

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestRetryableStatus(t *testing.T) {
	for code, want := range map[int]bool{
		200: false, 201: false, 304: false, 400: false, 401: false, 403: false, 404: false, 409: false, 422: false,
		408: true, 429: true, 500: true, 501: false, 502: true, 503: true, 504: true, 599: true, 600: false,
	} {
		if got := RetryableStatus(code); got != want {
			t.Errorf("RetryableStatus(%d) = %v, want %v", code, got, want)
		}
	}
}

func TestRetryableError(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"none", nil, false},
		{"connection refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"cut short", io.ErrUnexpectedEOF, true},
		{"cancelled", fmt.Errorf("get: %w", context.Canceled), false},
		{"timed out", context.DeadlineExceeded, false},
		{"unknown authority", x509.UnknownAuthorityError{}, false},
		{"wrong host", x509.HostnameError{Host: "x"}, false},
		{"too large", &TooLargeError{What: "x", Limit: 1, Size: -1}, false},
	}
	for _, tt := range tests {
		if got := RetryableError(tt.err); got != tt.want {
			t.Errorf("%s: RetryableError = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{" 0 ", 0, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{now.Add(5 * time.Second).Format(http.TimeFormat), 5 * time.Second, true},
		{now.Add(-time.Minute).Format(http.TimeFormat), 0, true},
	}
	for _, tt := range tests {
		got, ok := ParseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("ParseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestModeResends(t *testing.T) {
	body := func() io.ReadCloser { return io.NopCloser(strings.NewReader("{}")) }
	req := func(method string, withBody, replay bool) *http.Request {
		r, _ := http.NewRequest(method, "http://x.test/", nil)
		if withBody {
			r.Body = body()
			if replay {
				r.GetBody = func() (io.ReadCloser, error) { return body(), nil }
			}
		}
		return r
	}
	tests := []struct {
		mode             Mode
		method           string
		withBody, replay bool
		want             bool
	}{
		{Idempotent, "GET", false, false, true},
		{Idempotent, "HEAD", false, false, true},
		{Idempotent, "OPTIONS", false, false, true},
		{Idempotent, "PUT", true, true, true},
		{Idempotent, "PUT", true, false, false}, // a body that cannot be replayed
		{Idempotent, "DELETE", false, false, true},
		{Idempotent, "PATCH", true, true, false}, // Heroku's formation update
		{Idempotent, "POST", true, true, false},  // Heroku's rollback
		{Always, "POST", true, true, true},
		{Always, "PATCH", true, false, false},
		{Never, "GET", false, false, false},
		{Caller, "GET", false, false, false},
	}
	for _, tt := range tests {
		if got := tt.mode.Resends(req(tt.method, tt.withBody, tt.replay)); got != tt.want {
			t.Errorf("%s %s (body %v, replayable %v): Resends = %v, want %v", tt.mode, tt.method, tt.withBody, tt.replay, got, tt.want)
		}
	}
}

func TestPolicyWait(t *testing.T) {
	p := Policy{Backoff: time.Second, MaxWait: 20 * time.Second}
	tests := []struct {
		name    string
		attempt int
		a       Answer
		jitter  float64
		want    time.Duration
	}{
		{"first backoff", 1, Answer{Status: 503}, 0, time.Second},
		{"doubled", 3, Answer{Status: 503}, 0, 4 * time.Second},
		{"jitter adds up to a tenth", 2, Answer{Status: 503}, 0.5, 2*time.Second + 100*time.Millisecond},
		{"capped", 10, Answer{Status: 503}, 0.9, 20 * time.Second},
		{"retry-after wins", 1, Answer{Status: 429, RetryAfter: 7 * time.Second, HasRetryAfter: true}, 0.9, 7 * time.Second},
		{"retry-after of zero", 3, Answer{Status: 429, HasRetryAfter: true}, 0, 0},
		{"retry-after capped", 1, Answer{Status: 429, RetryAfter: 10 * time.Minute, HasRetryAfter: true}, 0, 20 * time.Second},
		{"hint is a floor", 1, Answer{Status: 429, Hint: 3 * time.Second}, 0, 3 * time.Second},
		{"hint below the backoff", 4, Answer{Status: 429, Hint: 3 * time.Second}, 0, 8 * time.Second},
	}
	for _, tt := range tests {
		if got := p.Wait(tt.attempt, tt.a, tt.jitter); got != tt.want {
			t.Errorf("%s: Wait = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestPolicyDecide(t *testing.T) {
	p := Policy{Attempts: 3, Backoff: time.Second, MaxWait: 20 * time.Second, Budget: 10 * time.Second}
	s503 := Answer{Status: 503}
	ra := Answer{Status: 429, RetryAfter: 2 * time.Second, HasRetryAfter: true}
	tests := []struct {
		name string
		try  Try
		want Decision
	}{
		{"success", Try{Resends: true, Attempt: 1, Answer: Answer{Status: 200}}, Decision{Action: Return}},
		{"refusal", Try{Resends: true, Attempt: 1, Answer: Answer{Status: 404}}, Decision{Action: Return}},
		{"503 resent", Try{Resends: true, Attempt: 1, Answer: s503}, Decision{Action: Resend, Wait: time.Second}},
		{"network error resent", Try{Resends: true, Attempt: 2, Answer: Answer{Err: io.ErrUnexpectedEOF}}, Decision{Action: Resend, Wait: 2 * time.Second}},
		{"cancelled", Try{Resends: true, Attempt: 1, Answer: Answer{Err: context.Canceled}}, Decision{Action: Return}},
		{"not resendable", Try{Resends: false, Attempt: 1, Answer: s503}, Decision{Action: Return}},
		{"attempts spent", Try{Resends: true, Attempt: 3, Answer: s503}, Decision{Action: Return}},
		{"budget spent", Try{Resends: true, Attempt: 2, Waited: 9 * time.Second, Answer: s503}, Decision{Action: Return}},
		{"budget just enough", Try{Resends: true, Attempt: 2, Waited: 8 * time.Second, Answer: s503}, Decision{Action: Resend, Wait: 2 * time.Second}},
		{"caller holds for retry-after", Try{CallerRetries: true, Attempt: 1, Answer: ra}, Decision{Action: Hold, Wait: 2 * time.Second}},
		{"caller holds no longer than asked", Try{CallerRetries: true, Attempt: 1, Answer: s503}, Decision{Action: Hold}},
		{"caller holds whatever the attempt", Try{CallerRetries: true, Attempt: 9, Answer: ra}, Decision{Action: Hold, Wait: 2 * time.Second}},
		{"caller gets a refusal at once", Try{CallerRetries: true, Attempt: 1, Answer: Answer{Status: 400}}, Decision{Action: Return}},
	}
	for _, tt := range tests {
		if got := p.Decide(tt.try); got != tt.want {
			t.Errorf("%s: Decide = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if d := (Policy{}).Decide(Try{Resends: true, Attempt: 1, Answer: s503}); d.Wait != DefaultBackoff {
		t.Errorf("zero Policy: first wait %v, want the default %v", d.Wait, DefaultBackoff)
	}
}

// scripted answers requests from a list of statuses (the last one
// repeats); 0 is a network error.
type scripted struct {
	statuses []int
	headers  []http.Header
	bodies   []string // what each request carried
}

func (s *scripted) RoundTrip(req *http.Request) (*http.Response, error) {
	i := min(len(s.bodies), len(s.statuses)-1)
	b := ""
	if req.Body != nil {
		raw, _ := io.ReadAll(req.Body)
		b = string(raw)
	}
	s.bodies = append(s.bodies, b)
	st := s.statuses[i]
	if st == 0 {
		return nil, errors.New("connection reset")
	}
	h := http.Header{}
	if i < len(s.headers) && s.headers[i] != nil {
		h = s.headers[i].Clone()
	}
	return &http.Response{StatusCode: st, Status: fmt.Sprintf("%d %s", st, http.StatusText(st)), Header: h,
		Body: io.NopCloser(strings.NewReader(`{}`)), Request: req}, nil
}

// retrierCase is one request through a Retrier over scripted answers.
type retrierCase struct {
	name     string
	method   string
	mode     *Mode
	statuses []int
	headers  []http.Header
	policy   Policy
	calls    int
	final    int // 0: an error
	waits    []time.Duration
	logged   []string
}

func TestRetrier(t *testing.T) {
	tests := []retrierCase{
		{name: "ok", method: "GET", statuses: []int{200}, calls: 1, final: 200},
		{name: "503 then ok", method: "GET", statuses: []int{503, 200}, policy: Policy{Backoff: time.Second}, calls: 2, final: 200,
			waits: []time.Duration{time.Second}, logged: []string{"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying in 1s (attempt 2 of 5)"}},
		{name: "network error then ok", method: "GET", statuses: []int{0, 200}, policy: Policy{Backoff: time.Second}, calls: 2, final: 200,
			waits: []time.Duration{time.Second}, logged: []string{"api: GET api.test/apps/shop failed: connection reset; retrying in 1s (attempt 2 of 5)"}},
		{name: "404 is final", method: "GET", statuses: []int{404, 200}, calls: 1, final: 404},
		{name: "501 is final", method: "GET", statuses: []int{501, 200}, calls: 1, final: 501},
		{name: "patch never resent", method: "PATCH", statuses: []int{503, 200}, calls: 1, final: 503},
		{name: "post never resent", method: "POST", statuses: []int{0, 200}, calls: 1, final: 0},
		{name: "put resent with its body", method: "PUT", statuses: []int{502, 201}, policy: Policy{Backoff: time.Second}, calls: 2, final: 201,
			waits: []time.Duration{time.Second}, logged: []string{"api: PUT api.test/apps/shop answered 502 Bad Gateway; retrying in 1s (attempt 2 of 5)"}},
		{name: "post resent when the caller says so", method: "POST", mode: ptr(Always), statuses: []int{503, 201}, policy: Policy{Backoff: time.Second}, calls: 2, final: 201,
			waits: []time.Duration{time.Second}, logged: []string{"api: POST api.test/apps/shop answered 503 Service Unavailable; retrying in 1s (attempt 2 of 5)"}},
		{name: "get never resent when the caller says so", method: "GET", mode: ptr(Never), statuses: []int{503, 200}, calls: 1, final: 503},
		{name: "retry-after honoured", method: "GET", statuses: []int{429, 200}, headers: []http.Header{{"Retry-After": {"7"}}}, policy: Policy{Backoff: time.Second, MaxWait: time.Minute},
			calls: 2, final: 200, waits: []time.Duration{7 * time.Second}, logged: []string{"api: GET api.test/apps/shop answered 429 Too Many Requests; retrying in 7s (attempt 2 of 5)"}},
		{name: "retry-after capped", method: "GET", statuses: []int{429, 200}, headers: []http.Header{{"Retry-After": {"600"}}}, policy: Policy{MaxWait: 20 * time.Second},
			calls: 2, final: 200, waits: []time.Duration{20 * time.Second}, logged: []string{"api: GET api.test/apps/shop answered 429 Too Many Requests; retrying in 20s (attempt 2 of 5)"}},
		{name: "the caller's hint", method: "GET", statuses: []int{429, 200}, headers: []http.Header{{"Ratelimit-Remaining": {"0"}}}, policy: Policy{Backoff: time.Second},
			calls: 2, final: 200, waits: []time.Duration{3 * time.Second}, logged: []string{"api: GET api.test/apps/shop answered 429 Too Many Requests; retrying in 3s (attempt 2 of 5)"}},
		{name: "attempts bounded", method: "GET", statuses: []int{503}, policy: Policy{Attempts: 3, Backoff: time.Second}, calls: 3, final: 503,
			waits: []time.Duration{time.Second, 2 * time.Second}, logged: []string{
				"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying in 1s (attempt 2 of 3)",
				"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying in 2s (attempt 3 of 3)"}},
		{name: "budget bounded", method: "GET", statuses: []int{503}, policy: Policy{Attempts: 10, Backoff: time.Second, Budget: 4 * time.Second}, calls: 3, final: 503,
			waits: []time.Duration{time.Second, 2 * time.Second}, logged: []string{
				"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying in 1s (attempt 2 of 10)",
				"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying in 2s (attempt 3 of 10)"}},
		{name: "caller holds for retry-after", method: "PATCH", mode: ptr(Caller), statuses: []int{429, 202}, headers: []http.Header{{"Retry-After": {"1"}}},
			calls: 1, final: 429, waits: []time.Duration{time.Second}, logged: []string{"api: PATCH api.test/apps/shop answered 429 Too Many Requests; retrying the whole operation in 1s, as asked"}},
		{name: "caller: no retry-after, no wait", method: "GET", mode: ptr(Caller), statuses: []int{503, 200},
			calls: 1, final: 503, waits: []time.Duration{0}, logged: []string{"api: GET api.test/apps/shop answered 503 Service Unavailable; retrying the whole operation"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.run)
	}
}

func (tt retrierCase) run(t *testing.T) {
	s := &scripted{statuses: tt.statuses, headers: tt.headers}
	var waits []time.Duration
	var logged []string
	rt := NewRetry(s, WithPolicy(tt.policy), WithWaitHint(rateLimited), WithLogf("api", func(f string, a ...any) {
		logged = append(logged, fmt.Sprintf(f, a...))
	}))
	rt.o.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		return nil
	}
	rt.o.jitter = func() float64 { return 0 }
	var body io.Reader
	if tt.method != "GET" {
		body = strings.NewReader(`{"n":1}`)
	}
	ctx := context.Background()
	if tt.mode != nil {
		ctx = WithMode(ctx, *tt.mode)
	}
	req, _ := http.NewRequestWithContext(ctx, tt.method, "http://api.test/apps/shop?key=s3cret", body)
	resp, err := rt.RoundTrip(req)
	if len(s.bodies) != tt.calls {
		t.Errorf("%d calls, want %d", len(s.bodies), tt.calls)
	}
	for i, b := range s.bodies {
		if tt.method != "GET" && b != `{"n":1}` {
			t.Errorf("call %d carried %q", i, b)
		}
	}
	if tt.final == 0 {
		if err == nil {
			t.Errorf("no error")
		}
	} else if err != nil || resp.StatusCode != tt.final {
		t.Errorf("final %v %v, want %d", resp, err, tt.final)
	}
	if fmt.Sprint(waits) != fmt.Sprint(tt.waits) {
		t.Errorf("waits %v, want %v", waits, tt.waits)
	}
	if strings.Join(logged, "\n") != strings.Join(tt.logged, "\n") {
		t.Errorf("logged\n%s\nwant\n%s", strings.Join(logged, "\n"), strings.Join(tt.logged, "\n"))
	}
}

// rateLimited is Heroku's hint: an empty budget refills in seconds.
func rateLimited(r *http.Response) time.Duration {
	if r.StatusCode == 429 && r.Header.Get("RateLimit-Remaining") == "0" {
		return 3 * time.Second
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

// A request whose body cannot be replayed is sent once, in every mode.
func TestRetrierNeverReplaysAStream(t *testing.T) {
	for _, m := range []Mode{Idempotent, Always} {
		s := &scripted{statuses: []int{503, 200}}
		rt := NewRetry(s)
		rt.o.sleep = func(context.Context, time.Duration) error { return nil }
		req, _ := http.NewRequestWithContext(WithMode(context.Background(), m), "PUT", "http://x.test/", io.NopCloser(strings.NewReader("x")))
		req.GetBody = nil
		if resp, err := rt.RoundTrip(req); err != nil || resp.StatusCode != 503 || len(s.bodies) != 1 {
			t.Errorf("%s: %d calls, final %v %v", m, len(s.bodies), resp, err)
		}
	}
}

// A classifier decides for requests whose context does not.
func TestRetrierClassifier(t *testing.T) {
	s := &scripted{statuses: []int{503, 201}}
	rt := NewRetry(s, WithClassifier(func(r *http.Request) Mode {
		if strings.HasPrefix(r.URL.Path, "/token") {
			return Always
		}
		return Never
	}))
	rt.o.sleep = func(context.Context, time.Duration) error { return nil }
	req, _ := http.NewRequest("POST", "http://x.test/token", strings.NewReader("grant_type=refresh_token"))
	if resp, err := rt.RoundTrip(req); err != nil || resp.StatusCode != 201 || len(s.bodies) != 2 {
		t.Errorf("token POST: %d calls, final %v %v", len(s.bodies), resp, err)
	}
	s = &scripted{statuses: []int{503, 200}}
	rt.next = s
	req, _ = http.NewRequest("GET", "http://x.test/v2/", nil)
	if resp, err := rt.RoundTrip(req); err != nil || resp.StatusCode != 503 || len(s.bodies) != 1 {
		t.Errorf("GET classified Never: %d calls, final %v %v", len(s.bodies), resp, err)
	}
	req, _ = http.NewRequestWithContext(WithMode(context.Background(), Idempotent), "GET", "http://x.test/v2/", nil)
	s.bodies = nil
	if _, err := rt.RoundTrip(req); err != nil || len(s.bodies) != 2 {
		t.Errorf("the context's mode does not win over the classifier: %d calls", len(s.bodies))
	}
}

// A cancelled context ends a wait at once, and the held answer is closed.
func TestRetrierCancelledWait(t *testing.T) {
	for _, mode := range []Mode{Idempotent, Caller} {
		ctx, cancel := context.WithCancel(context.Background())
		s := &scripted{statuses: []int{429}, headers: []http.Header{{"Retry-After": {"30"}}}}
		rt := NewRetry(s)
		time.AfterFunc(50*time.Millisecond, cancel)
		req, _ := http.NewRequestWithContext(WithMode(ctx, mode), "GET", "http://x.test/", nil)
		start := time.Now()
		resp, err := rt.RoundTrip(req)
		if !errors.Is(err, context.Canceled) || resp != nil {
			t.Errorf("%s: %v %v, want context.Canceled", mode, resp, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %v", mode, took)
		}
	}
}
