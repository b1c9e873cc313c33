// Package ghemu emulates the part of GitHub's REST API that ferry calls:
// repository deployments and their statuses, as docs.github.com/rest/
// deployments describes them (API version 2022-11-28). It listens on
// 127.0.0.1; ferry reaches it through GITHUB_API_URL, the runner's own
// variable (GitHub Enterprise Server sets it to https://HOST/api/v3).
//
//	e := ghemu.New()
//	defer e.Close()
//	e.AddRepo("acme/shop", "0123abcd...")       // its known commits
//	e.AddToken("TOKEN", "acme/shop", true)       // deployments: write
//	// GITHUB_API_URL=e.URL()
//
// # What it follows
//
//   - Requests need "Authorization: Bearer TOKEN" or "token TOKEN": 401
//     {"message":"Bad credentials"} without or with an unknown one. A repo
//     the token cannot see answers 404 {"message":"Not Found"}; a write with
//     a token that may only read (no `deployments: write`) answers 403
//     {"message":"Resource not accessible by integration"}. Error bodies
//     carry documentation_url.
//   - Answers are application/json; charset=utf-8 with
//     X-GitHub-Api-Version-Selected echoing X-GitHub-Api-Version
//     (2022-11-28 when absent); an unsupported version answers 400.
//   - POST /repos/{owner}/{repo}/deployments: ref required (a known commit
//     sha, or a branch the repo has: 422 "No ref found for: X" otherwise);
//     task (default "deploy"), payload (object, or a JSON string), environment
//     (default "production"), description, auto_merge (default true; the
//     emulator merges nothing), required_contexts (default: every context,
//     and the emulator has none failing), transient_environment,
//     production_environment (default true for "production"). 201 with the
//     deployment (id, node_id, url, sha, ref, task, payload,
//     original_environment, environment, description, creator, created_at,
//     updated_at, statuses_url, repository_url, transient_environment,
//     production_environment).
//   - GET /repos/{owner}/{repo}/deployments[?environment=&sha=&ref=&task=],
//     newest first; GET .../deployments/{id}.
//   - POST .../deployments/{id}/statuses: state one of error, failure,
//     inactive, in_progress, queued, pending, success (422 otherwise);
//     log_url, target_url, environment_url, description (at most 140
//     characters: 422), auto_inactive (default true: a success marks the
//     earlier non-transient deployments of the same environment inactive,
//     adding an inactive status). 201 with the status (id, node_id, url,
//     state, description, environment, target_url, log_url,
//     environment_url, deployment_url, repository_url, created_at,
//     updated_at). 404 for an unknown deployment.
//   - GET .../deployments/{id}/statuses, newest first.
//
// # What it does not cover
//
// Pagination (everything comes in one page), conditional requests and
// ETags, rate limits, the merge auto_merge performs (and its 202 and 409
// answers), commit status checks, environment protection rules and
// reviews, deleting deployments, GraphQL, webhooks, and every other part
// of the API.
package ghemu
