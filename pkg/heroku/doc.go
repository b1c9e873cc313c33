// Package heroku is ferry's Heroku source and target: it reads the image
// an app's process type runs, copies an image into registry.heroku.com,
// releases it with one formation PATCH, follows the release and its dynos,
// checks the app over HTTP, and rolls back to a recorded release.
//
//	c, err := heroku.NewClient(heroku.Options{APIKey: key, Logger: log})
//	err = c.CheckAuth(ctx)                    // before anything else
//	src := heroku.NewSource(c, stagingAddr)   // promote.Source
//	tgt, err := heroku.NewTarget(c, prodAddr) // promote.Target (+ Rollback)
//
// Typed calls go through github.com/heroku/heroku-go/v5 (its Transport adds
// "Authorization: Bearer KEY", "Accept: application/vnd.heroku+json;
// version=3", a Request-Id and the user agent, and turns error answers into
// heroku.Error, which this package turns into [APIError]). Under it
// package httpx's transport retries idempotent requests (GET, HEAD) on
// network errors, 429 and 5xx with backoff, honouring Retry-After and
// waiting longer on "RateLimit-Remaining: 0", within the bounds of
// [Options].Retry. The formation PATCH and the rollback POST are sent
// once (httpx.Never): when one fails, ferry looks at the releases to
// learn whether it took effect.
//
// # What ferry relies on
//
// Sources: the Platform API reference
// (devcenter.heroku.com/articles/platform-api-reference: Accept versioning,
// Authorization, ranges, rate limits, errors), the JSON schema in
// github.com/heroku/heroku-go (v5 and v6 schema.json), Container Registry &
// Runtime (devcenter.heroku.com/articles/container-registry-and-runtime),
// Release Phase (devcenter.heroku.com/articles/release-phase), and what the
// Heroku CLI does (github.com/heroku/cli: src/commands/container/release.ts,
// src/lib/container/helpers.ts, src/commands/releases/rollback.ts,
// src/lib/releases/releases.ts, src/lib/container/streamer.ts).
//
//   - Every request carries "Accept: application/vnd.heroku+json;
//     version=3" and "Authorization: Bearer KEY". Errors are {"id",
//     "message"} bodies: 401 unauthorized, 403 forbidden, 404 not_found,
//     422 invalid_params, 429 rate_limit. Responses carry
//     RateLimit-Remaining (about 4500 tokens per account, refilled
//     continuously).
//   - Lists take "Range: version ..; max=N, order=desc" and answer 206 with
//     Next-Range when more remain (200 per page by default, 1000 at most).
//     heroku-go writes "max=N,order=desc"; the CLI "max=N, order=desc".
//   - GET /apps/{app}: stack.name and build_stack.name; like `heroku
//     container:release`, an app is a container app when either is
//     "container". web_url is the root URL health paths resolve against.
//   - Releasing: PATCH /apps/{app}/formation with "Accept:
//     application/vnd.heroku+json; version=3.docker-releases" and
//     {"updates":[{"type":"web","docker_image":"sha256:..."}, ...]}, all
//     process types in one request, one release. docker_image is the image
//     id: the config digest of the Docker v2 schema 2 manifest at
//     registry.heroku.com/APP/TYPE. heroku-go's Transport overwrites any
//     per-request Accept, so this PATCH goes through a second heroku-go
//     Service whose Transport carries the variant in AdditionalHeaders.
//   - The PATCH's answer does not name the release it created. The CLI
//     takes the newest release before and after ("version ..; max=1,
//     order=desc"), which is racy. ferry records the newest version at the
//     snapshot and picks the first release above it whose description
//     deploys exactly its images to exactly its process types (see
//     Target.Release). On an error or a timeout it looks for that release
//     before deciding to send the PATCH again (once).
//   - Release status is pending, succeeded or failed (the v6 schema also
//     has expired). A release with a release phase (a `release` process
//     type image) stays pending, and not current, until the phase ends;
//     a failed phase leaves the previous release current. Its
//     output_stream_url serves text/plain (or text/event-stream) and may
//     answer 404 until the stream exists (the CLI retries 404 once a
//     second, 30 times); the schema says clients resume a text/plain
//     stream with a Range header after a disconnect. The stream URL is a
//     capability URL: the API key is not sent to it.
//   - The release command runs after rollbacks too (Release Phase: "It
//     will run after: ... A rollback"), so a rollback release is followed
//     like any other.
//   - Rollback: POST /apps/{app}/releases {"release": "<id>"} creates a
//     release "Rollback to vN". ferry always names the release it recorded;
//     `heroku releases:rollback` without an argument picks the second
//     eligible_for_rollback release among the last ten, which after a
//     failed release is one too far back.
//   - Dynos: GET /apps/{app}/dynos lists state (crashed, down, idle,
//     starting, up), type, name and release {id, version}; GET
//     /apps/{app}/formation gives each type's quantity.
//   - Registry: Basic auth with user "_" and the API key as password; only
//     single-platform Docker v2 schema 2 manifests (an index, manifest list
//     or OCI manifest is refused with UNSUPPORTED, HTTP 405); repositories
//     are APP/PROCESS; `heroku container:release` reads only the latest
//     tag.
//
// # Which image a process type runs
//
// No documented Platform API field names it: the formation has no image,
// and the v6 schema's release artifacts list slugs and (on the Fir
// generation) OCI images, not docker images of the container stack. What
// Heroku does show is the release description of a docker release,
// "Deployed web (142013fe2b5c), worker (...)", with the first 12 hex digits
// of each image id. ferry reads the image of a process type from the
// current release's description, following "Rollback to vN" to vN and
// stepping back over releases that changed no image (config vars, add-ons)
// and over releases that never ran (failed, pending). A Source then reads
// registry.heroku.com/APP/PROCESS:latest and requires its image id to start
// with those 12 digits: the latest tag can hold an image that was pushed and
// never released, and ferry fails with a clear message rather than promote
// it. This is a choice made where the public API is silent.
//
// The same tag is why a restore puts it back: a Target's copy moves
// APP/PROCESS:latest to the new image, and after a failed promotion it
// would stay there, where the next `heroku container:release` releases it
// and a Source refuses it. The restore points it at the manifest it named
// before, unless it has moved again since (someone pushed).
//
// # Descriptions
//
// The docker-releases formation PATCH documents no description field (the
// formation update schema has additionalProperties false), the rollback
// body has only "release", and POST /apps/{app}/releases with a
// description requires a slug, which container apps do not have. So ferry
// cannot record "promoted X from Y" on the release; Options.Description is
// logged with the release instead.
package heroku
