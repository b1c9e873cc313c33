// Package check proves a release locally, as `make release-check` (part of
// `make test`) runs it: no GitHub, no ghcr.io, no docker daemon, no network
// but loopback.
//
// TestRelease runs the release's own tools, pinned under hack/tools and
// built by hack/build-tool.sh, on this working tree:
//
//   - `goreleaser check`, then `goreleaser release --snapshot --clean`:
//     every binary, archive, SBOM and checksums.txt, signed through
//     hack/release/sign.sh with a throwaway key; the checksums match, the
//     archives hold what they should, the linux binary runs, and the SBOMs
//     list exactly the go.mod modules each binary links, at go.mod's
//     versions;
//   - `cosign verify-blob --key` accepts checksums.txt and refuses it
//     altered;
//   - hack/release/images.sh, twice, into an in-process registry on
//     loopback (internal/testenv/images): the same digests both times; each
//     image is read from the registry, its layers unpacked and its entry
//     point run (`ferry version`) without a daemon; ko's SBOMs list the
//     modules too;
//   - hack/release/sign.sh image with the throwaway key, `cosign verify
//     --key` on both images, and refusals for an image pushed over the
//     signed tag and for one signed with another key;
//   - hack/release/pin on copies of action.yml and the orb, `pin -check`,
//     actionlint on a workflow that uses the pinned action, and CircleCI's
//     parser on the pinned orb;
//   - hack/release/notes.sh for the newest CHANGELOG version.
//
// What only the release workflow can do, and this cannot: keyless
// signing (GitHub's OIDC token, Fulcio, Rekor), GitHub's provenance and
// SBOM attestations, pulling the real base images (they are replaced by
// stand-ins pushed to the local registry, pinned by digest in the same
// way), pushing to ghcr.io, moving tags and publishing the orb.
//
// Tool paths: GORELEASER, KO, COSIGN and CYCLONEDX_GOMOD when set, else
// hack/build-tool.sh builds them; ACTIONLINT must be set (the Makefile
// does). node runs CircleCI's parser (orb/check; `make deps` installs it).
package check
