// Package redact keeps secrets out of what ferry prints: logs, errors,
// reports, step outputs. It is the one place that decides what a secret
// looks like once hidden, [Marker], and every package uses it:
//
//   - [Secrets] replaces known secret values (API keys, tokens, passwords
//     read from the configuration or learned from a keychain) wherever
//     they appear in a text.
//   - [URL] and [URLs] hide what a URL may carry without the user having
//     typed it as a secret: its user info, and the values of query
//     parameters other than the registry protocol's own (a signed
//     redirect's signature, an upload's state token).
//   - [Error] wraps an error in its redacted text while errors.Is and
//     errors.As still see the original.
//
// Nothing here is a guarantee on its own: a secret that is not known and
// not in a URL passes. The pipeline masks with the [Secrets] of the whole
// run at its edge (package report), and packages that hold a credential
// redact their own errors before returning them.
package redact
