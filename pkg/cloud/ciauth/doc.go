// Package ciauth gets the OpenID Connect ID token a CI system issues to the
// running job, so ferry can exchange it for cloud credentials itself
// (AWS AssumeRoleWithWebIdentity, Google workload identity federation,
// Entra ID federated credentials) with no other step in the pipeline.
//
// A [Source] returns a token for an audience:
//
//   - [GitHub] asks the Actions runtime: GET ACTIONS_ID_TOKEN_REQUEST_URL
//     with &audience=, authorized by ACTIONS_ID_TOKEN_REQUEST_TOKEN. The
//     runner sets both only when the workflow grants
//     `permissions: id-token: write`; without them every token request is
//     an input error that says so.
//   - [CircleCI] reads CIRCLE_OIDC_TOKEN_V2, else CIRCLE_OIDC_TOKEN. Their
//     audience is fixed (the organization id): a request for another
//     audience is an input error naming the one the token has.
//   - [File] reads a projected token file on every request, as
//     AZURE_FEDERATED_TOKEN_FILE and AWS_WEB_IDENTITY_TOKEN_FILE are read.
//
// [FromEnv] picks the source for the CI the job runs in. The environment is
// always passed in as a [Lookup]: this package never reads the process
// environment itself. Every token obtained is reported to a
// [secret.Reporter] before it is returned.
package ciauth
