// Package sigpolicy is ferry's signature policy for source images: what
// must have signed the image a run promotes (a public key, or a keyless
// identity and its OIDC issuer), whether the signature must be in a
// transparency log, and which SLSA provenance it must carry. It parses the
// settings that state it and decides, from evidence that pkg/verify found
// and checked cryptographically, whether an image passes, saying what was
// expected and what was found. It does no I/O.
package sigpolicy
