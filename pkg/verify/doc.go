// Package verify checks the signatures and attestations of the source
// image against a [sigpolicy.Policy], before anything changes: it finds
// them in the image's registry, checks their cryptography with
// sigstore-go, and lets sigpolicy.Decide say whether the image passes. A
// [Checker] is a promote.SourceCheck.
//
// What it finds, with the same keychain and transport as the image pulls:
//
//   - Sigstore bundles (cosign 3, GitHub artifact attestations) attached
//     as OCI referrers of the digest, through the referrers API or, where
//     the registry has none, its tag fallback (sha256-<hex>, an index);
//   - legacy cosign signatures in the sha256-<hex>.sig tag: simple-signing
//     payloads with the dev.cosignproject.cosign/signature annotation, and
//     for keyless signing the dev.sigstore.cosign/certificate, /chain and
//     /bundle (Rekor inclusion promise) annotations.
//
// Keyless signatures and transparency log entries are checked against a
// Sigstore trusted root: the public-good one shipped in the binary, or a
// file (a private or air-gapped Sigstore). Certificates must carry signed
// certificate timestamps when the trusted root lists CT logs.
//
// The embedded trusted_root.json is the public-good instance's TUF target
// targets/trusted_root.json from github.com/sigstore/root-signing at
// commit 60cf2ce8b2e45d600dc17c4421e8c751e75772be (2026-08-21), SHA-256
// 6494e21ea73fa7ee769f85f57d5a3e6a08725eae1e38c755fc3517c9e6bc0b66. It
// names the Fulcio CAs, Rekor logs (v1 and log2025-1), CT logs and the
// timestamp authority of that date; replace it with FERRY_VERIFY_TRUSTED_ROOT
// when the instance rotates keys before ferry is rebuilt.
//
// GitHub's attestations REST API is not queried: GitHub attestations are
// found when they are pushed to the registry as referrers (actions/attest
// with push-to-registry: true).
package verify
