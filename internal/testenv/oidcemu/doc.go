// Package oidcemu emulates OpenID Connect token issuers: the ones CI
// systems run for their jobs (GitHub Actions, CircleCI) and the
// verification side every cloud runs against them.
//
// # Issuer
//
// An Issuer holds an RSA-2048 key and signs RS256 JWTs (header kid, typ
// JWT) with the claims a test gives plus iss, iat, nbf, exp and jti. It
// serves, on its issuer URL's host and below its path, the discovery
// document (/.well-known/openid-configuration: issuer, jwks_uri,
// response_types_supported, subject_types_supported,
// id_token_signing_alg_values_supported, claims_supported) and the JWKS (kty
// RSA, use sig, alg RS256, kid, n, e). Serve puts issuers on a cloudnet.Net.
//
// Verify is what AWS STS, Google STS and Entra ID do with a federated
// token: read the issuer's discovery document over HTTPS, fetch jwks_uri,
// check the signature with the key named by kid, the issuer, and the time
// claims. Its errors carry a Reason so that each cloud emulator can answer
// with that cloud's own error.
//
// # GitHub Actions
//
// GitHub's issuer is https://token.actions.githubusercontent.com (JWKS at
// /.well-known/jwks). A Job stands for one workflow job with
// `permissions: id-token: write`: its Env is what the runner exports,
// ACTIONS_ID_TOKEN_REQUEST_URL (an https URL on
// pipelines.actions.githubusercontent.com ending in
// "/idtoken?api-version=2.0") and ACTIONS_ID_TOKEN_REQUEST_TOKEN. A client
// appends "&audience=AUD" and sends "Authorization: Bearer <request token>",
// as @actions/core getIDToken does, and gets 200 {"count":N,"value":"<jwt>"}.
// Claims follow docs.github.com "About security hardening with OpenID
// Connect": sub "repo:OWNER/REPO:environment:NAME" for a job with an
// environment, else "repo:OWNER/REPO:ref:REF"; aud the requested audience,
// defaulting to https://github.com/OWNER; repository, repository_owner,
// repository_id, repository_owner_id, repository_visibility, ref, ref_type,
// sha, actor, actor_id, workflow, workflow_ref, workflow_sha,
// job_workflow_ref, job_workflow_sha, event_name, run_id, run_number,
// run_attempt, runner_environment, environment. As in the documentation's
// example token, nbf is 10 minutes before iat and exp 5 minutes after.
//
// # CircleCI
//
// CircleCI hands jobs their tokens in the environment (CIRCLE_OIDC_TOKEN
// and CIRCLE_OIDC_TOKEN_V2), so the emulator mints them (Job.Env) and
// serves the issuer https://oidc.circleci.com/org/ORG_ID (JWKS at
// .../.well-known/jwks-pub.json). Claims follow circleci.com/docs/openid-connect-tokens:
// aud the organization id, sub "org/ORG/project/PROJECT/user/USER" (v2:
// followed by "/vcs-origin/ORIGIN/vcs-ref/REF"), oidc.circleci.com/project-id,
// oidc.circleci.com/context-ids, and for v2 oidc.circleci.com/vcs-origin,
// oidc.circleci.com/vcs-ref and oidc.circleci.com/ssh-rerun. Tokens live
// one hour.
//
// # Chosen where the public material is silent
//
// The GitHub token service's answer to a wrong or missing request token is
// 401 with an empty JSON body; a request without api-version is 400.
// GitHub's real kid is a certificate thumbprint; here it is the RFC 7638
// thumbprint of the key.
//
// # What it does not cover
//
// Key rotation, several keys per issuer, encrypted tokens, algorithms
// other than RS256, userinfo, authorization endpoints, GitHub Enterprise
// issuers (/enterprise-slug), customised sub claims, and the GitHub REST
// API.
package oidcemu
