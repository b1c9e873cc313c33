// Package health checks that an HTTP endpoint is healthy and stays healthy.
//
// A [Check] probes one URL every Interval. Each probe is judged on its own
// by [Judge] (status accepted by Expect, optional body substring), and the
// stream of verdicts is folded by a [Tracker], a pure state machine:
//
//   - failures during StartPeriod do not count;
//   - Threshold consecutive failures fail the check;
//   - the first success starts the soak; the check passes once Soak has
//     elapsed since then without the check failing (Soak 0 passes at the
//     first success);
//   - Timeout bounds the whole wait.
//
// Probes are careful with what they talk to: every request has its own
// timeout, at most [MaxBody] bytes of a body are read, and redirects are
// followed only within the same host (a redirect elsewhere is judged by
// its own 3xx status, never followed).
//
// [Resolve] turns a target's health option into a URL: "/healthz" is
// resolved against a base such as a Heroku app's web_url; absolute http and
// https URLs pass through.
package health
