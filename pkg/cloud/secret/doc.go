// Package secret tells a caller about every credential ferry resolves or
// mints, before the credential is used, so the caller can mask it in CI
// logs (GitHub's ::add-mask::) and scrub it from every output.
//
// A [Reporter] is the callback. [Once] wraps one so that each distinct
// value reaches it once, however often a token is reused. [Keychain] wraps a
// go-containerregistry keychain: whatever an authenticator it resolves
// yields — a password, an identity or registry token, the base64 of
// "user:password" that goes into a Basic header — is reported when the
// authenticator is asked for it, which is right before the credential goes
// on the wire. The cloud packages beside this one take a Reporter too and
// report every token they mint or exchange.
package secret
