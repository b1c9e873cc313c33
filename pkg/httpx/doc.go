// Package httpx holds ferry's HTTP policies, as RoundTrippers configured
// by options: one that retries ([NewRetry]) and one that caps how much of
// an answer is read ([NewCap], [CapBody]). The decisions are pure
// functions ([Policy.Decide], [RetryableStatus], [RetryableError],
// [ParseRetryAfter], [CapWindow]) with table tests; the RoundTrippers
// only do what they say.
//
// # Retries
//
// A request is sent again after a network error or an answer 408, 429 or
// 5xx other than 501, with exponential backoff (doubling, up to 10%
// jitter), honouring Retry-After (seconds or an HTTP date), each wait
// capped by [Policy].MaxWait and all of them together by Policy.Budget.
// One set of defaults serves every caller: 5 attempts, 250ms first wait,
// 20s longest wait, 1m in total.
//
// Only requests that are safe to send twice are sent again: by default
// GET, HEAD and OPTIONS, and PUT and DELETE, each only when its body can
// be replayed (it has none, or GetBody). A caller changes that per
// request with [WithMode] on the request's context, or for every request
// of a transport with [WithClassifier]: [Always] (the caller knows the
// request is safe to repeat), [Never], or [Caller] (the caller retries
// the whole exchange itself: the transport does not send the request
// again but waits out a Retry-After before handing the answer back, so
// that the caller's next try comes when the server asked). A request
// whose body cannot be replayed is never sent again, whatever the mode.
//
// What is retried where in ferry:
//
//   - The Heroku Platform API (package heroku): reads are retried here;
//     the formation PATCH and the rollback POST are never sent twice by
//     the transport (they are not idempotent); heroku looks at what
//     happened before deciding anything. The release output stream is
//     not behind this transport: it resumes with Range requests of its
//     own.
//   - Registries (package image, through go-containerregistry): every
//     request but those of a blob upload is retried here (reads,
//     existence checks, manifest PUTs, token exchanges). The requests of
//     an upload session (POST, PATCH and the committing PUT under
//     /blobs/uploads/) are [Caller]: go-containerregistry retries the
//     whole upload, from the existence check, with this package's
//     backoff, and only for failures of those requests; its own
//     per-request retry is switched off. So no request is retried at
//     two levels.
//   - Health probes (package health) are not retried by a transport:
//     each probe is one observation, and the health tracker's threshold
//     is the retry policy.
//   - Metric gates' providers (package gate) are not retried either: a
//     failed query is an Error measurement, counted against the
//     metric's consecutiveErrorLimit.
//   - GitHub Deployments (package ghdeploy) are never retried: every
//     request is a POST, and a second one could record a second
//     Deployment or status. A failure there is a warning, never the
//     promotion's.
//
// # Caps
//
// [NewCap] bounds the answers to the requests it is told about, and
// [CapBody] one body: past the cap a read fails with a [*TooLargeError],
// or, with [Truncate], the body simply ends there. A Content-Length above
// the cap fails at once, before anything is read. ferry caps manifests at
// 4 MiB (image), the part of a health answer it judges (health), the
// release-phase output it relays (heroku), gate providers' answers (gate),
// GitHub's answers (ghdeploy), and the signature blobs and trusted roots
// it reads (verify).
package httpx
