// Package herokuemu is an in-process emulator of the parts of Heroku that
// ferry talks to: the Platform API, registry.heroku.com and the router in
// front of an app's web dynos. Everything listens on 127.0.0.1 only.
//
//	e, err := herokuemu.New(herokuemu.Options{})
//	defer e.Close()
//	e.AddKey("KEY", "shop")
//	e.CreateApp("shop", "container")
//	// FERRY_HEROKU_API_URL=e.APIURL()  FERRY_HEROKU_REGISTRY=e.RegistryHost()
//
// # What it follows
//
// Platform API (sources: devcenter.heroku.com/articles/platform-api-reference,
// the JSON schema shipped in github.com/heroku/heroku-go v5/v6 schema.json,
// and what github.com/heroku/cli sends in src/commands/container/release.ts,
// src/commands/releases/rollback.ts and src/lib/releases/releases.ts):
//
//   - Every request needs "Accept: application/vnd.heroku+json; version=3"
//     (variants such as "version=3.docker-releases" allowed); without it:
//     400 {"id":"missing_version"}.
//   - "Authorization: Bearer KEY" (or Basic with the key as password): 401
//     {"id":"unauthorized"} without or with an unknown key; 403
//     {"id":"forbidden"} for an app the key may not use; 404
//     {"id":"not_found","message":"Couldn't find that app."} for an unknown
//     app. Errors are {"id","message"} bodies.
//   - Rate limit: each key holds Options.RateLimit tokens (unlimited by
//     default), one per request; every answer carries RateLimit-Remaining;
//     an empty budget answers 429 {"id":"rate_limit"}. GET
//     /account/rate-limits is free, as documented.
//   - Lists (releases, formation, dynos) honour "Range: FIELD [START]..[END];
//     max=N, order=desc" (page 200 by default, 1000 at most), send
//     Accept-Ranges and Content-Range, and answer 206 with Next-Range when
//     more remain. Fields: releases id, version; formation id, type; dynos
//     id, name.
//   - GET /account; GET /apps/{app} (stack, build_stack, web_url, ...).
//   - GET /apps/{app}/releases[/{id or version}]: status pending, succeeded
//     or failed; current; eligible_for_rollback; output_stream_url; an
//     empty artifacts array; description "Deployed web (142013fe2b5c),
//     worker (...)" (12 hex digits of the image id, the format Heroku logs
//     for container releases) or "Rollback to vN".
//   - PATCH /apps/{app}/formation with "Accept: ...version=3.docker-releases"
//     and {"updates":[{"type":"web","docker_image":"sha256:..."}]}: one
//     release for all updated process types. docker_image is the image id
//     (config digest), "sha256:" optional, and must have been pushed to
//     registry.heroku.com/APP/TYPE: 422 {"id":"invalid_params"} otherwise,
//     and for apps whose stack is not "container". Answers 200 with the
//     updated formation. Quantities in updates scale without a release.
//   - POST /apps/{app}/releases {"release":"<id>"}: a rollback release
//     ("Rollback to vN") running the images of that release; 201.
//   - GET /apps/{app}/formation[/{type}], GET /apps/{app}/dynos[/{id or
//     name}]: dyno state starting, up or crashed, release {id, version},
//     type, name "web.1".
//
// Releases: a release whose images include the `release` process type
// runs a release phase: it is `pending` (not current) for
// Options.ReleasePhase, its output_stream_url answers 404 for
// Options.StreamDelay and then streams text/plain lines as they are
// written, ending with the phase; "Range: bytes=N-" resumes (206). The
// release then becomes `succeeded` and current, or `failed` with the
// previous release staying current and its dynos untouched. Rollbacks run
// the release phase too: devcenter.heroku.com/articles/release-phase lists
// "a rollback" among the events after which the release command runs. A
// release without a release phase succeeds at once. When a release becomes
// current all dynos are replaced by `starting` dynos of that release,
// which turn `up` (or `crashed`) after Options.BootTime.
//
// Registry (registry.heroku.com's rules, from
// devcenter.heroku.com/articles/container-registry-and-runtime and users'
// reports such as github.com/akhilerm/tag-push-action/issues/299 and
// help.heroku.com/74S3XXMP): Basic auth with user "_" and the API key as
// password, 401 UNAUTHORIZED otherwise; repositories are APP/PROCESS of
// apps the key may use (others: 401, as docker reports a mistyped app);
// only Docker v2 schema 2 manifests: an image index, a manifest list, an
// OCI manifest or schema 1 is refused with 405 UNSUPPORTED "The operation
// is unsupported.". Blobs are linked per repository; cross-repository
// mounts work between repositories the key may use. The handler is
// go-containerregistry's pkg/registry behind middleware.
//
// The router: each app has its own listener and web_url
// "http://127.0.0.1:PORT/". It answers 200 on any path while a web dyno of
// the current release is up, 503 otherwise.
//
// Image labels (in the pushed image's config) drive behaviour:
// ferry.test/release=fail on the `release` image fails the release phase;
// ferry.test/dyno=crash makes that process type's dynos end crashed (so
// does an architecture other than amd64); ferry.test/health=fail makes the
// web URL answer 503. Emulator.Crash crashes one running dyno later, as an
// app that fails after it booted does (the dyno stays crashed).
//
// # Chosen where the public material is silent
//
//   - The registry's challenge is "Basic realm=\"registry.heroku.com\"". The
//     Heroku CLI sends Basic credentials straight to registry.heroku.com
//     (container/release.ts), so Basic is accepted; the exact header the
//     real registry sends is not documented.
//   - Range bounds are read in iteration order ("]" excludes START, "["
//     excludes END), and Next-Range is "FIELD ]LAST..END; max=N[,
//     order=desc]". Invalid ranges answer 400 {"id":"bad_request"}.
//   - The formation PATCH's 422 messages, and the docker-releases update
//     schema: type, docker_image, quantity, size; any other property (such
//     as "description") is refused with 422, as the formation update schema
//     has additionalProperties false. The rollback body takes only
//     "release". So a client cannot set a release description on these
//     paths.
//   - docker_image without the docker-releases variant: 422.
//   - New process types get Options.Quantity dynos (web 1, others 0).
//   - No documented field says which image a process type runs; the
//     emulator shows it only in the description, like Heroku.
//
// # What it does not cover
//
// The releases Heroku makes when an app is created (an app starts with
// none here), slugs, builds, config vars, add-ons, pipelines, one-off dynos, dyno
// restarts after crashes, log sessions, text/event-stream output, ETags,
// OAuth, the Fir generation beyond its app object (an app created on the
// "cnb" stack shows generation "fir"; its OCI images, release artifacts
// and Docker refusals are not emulated), release retention beyond what
// a test sets (ExpireRelease marks a release "expired", AgeRelease
// backdates one; nothing expires by itself), regions,
// spaces, maintenance mode, preboot, and most of the API. It keeps
// everything in memory.
package herokuemu
