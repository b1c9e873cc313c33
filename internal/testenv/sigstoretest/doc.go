// Package sigstoretest makes what ferry's signature checks read, for
// tests: signatures and attestations by the real cosign CLI (the version
// pinned in hack/tools/cosign, built by hack/build-tool.sh), and keyless
// Sigstore bundles made offline by sigstore-go's test certificate
// authority, transparency log and timestamp authority (VirtualSigstore),
// with a trusted root file that names them. Bundles are pushed to a
// registry as OCI referrers, the way cosign 3 and GitHub attestations
// store them (go-containerregistry keeps the sha256-<hex> tag fallback
// up to date on registries without the referrers API).
//
// Not covered: a Fulcio that issues certificates over the network, a
// Rekor server (entries are made in process), certificate transparency
// (the trusted root it writes lists no CT log, so no SCT is required).
package sigstoretest
