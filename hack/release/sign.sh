#!/usr/bin/env bash
# sign.sh: sign a release artifact with cosign ($COSIGN, default cosign on
# the PATH).
#
#   sign.sh blob FILE BUNDLE      FILE (checksums.txt) → a Sigstore bundle
#   sign.sh image REPO@sha256:…   an image, by digest; the signature goes to
#                                 the image's registry
#   sign.sh sboms REPO DIR        attest every SPDX SBOM ko wrote to DIR
#                                 (one per platform image and the index) to
#                                 the image it describes, REPO@sha256:…, as
#                                 a signed in-toto attestation in the registry
#
# Keyless by default: in the release workflow cosign takes the job's GitHub
# OIDC token, gets a short-lived certificate from Fulcio naming the
# workflow, and records the signature in Rekor. This path runs only there.
#
# With RELEASE_SIGNING_KEY set (any cosign key reference: a file, env://VAR,
# a KMS URI; COSIGN_PASSWORD unlocks a file key) the key signs instead and
# nothing is sent to a transparency log, so it works offline: make
# release-check signs this way with a throwaway key.
set -euo pipefail
cosign=${COSIGN:-cosign}
usage() { echo "usage: sign.sh blob FILE BUNDLE | sign.sh image REPO@sha256:… | sign.sh sboms REPO DIR" >&2; exit 2; }

key=()
if [[ -n ${RELEASE_SIGNING_KEY:-} ]]; then
  key=(--key "$RELEASE_SIGNING_KEY" --tlog-upload=false --use-signing-config=false)
fi
case ${1:-} in
  blob)
    [[ $# == 3 ]] || usage
    exec "$cosign" sign-blob --yes "${key[@]}" --bundle "$3" "$2"
    ;;
  image)
    [[ $# == 2 ]] || usage
    [[ $2 =~ @sha256:[0-9a-f]{64}$ ]] || { echo "sign.sh: sign images by digest (REPO@sha256:…), not $2" >&2; exit 2; }
    exec "$cosign" sign --yes "${key[@]}" "$2"
    ;;
  sboms)
    [[ $# == 3 ]] || usage
    n=0
    for doc in "$3"/*.spdx.json; do
      [[ -e $doc ]] || break
      # ko names the image a document describes in its namespace.
      digest=$(grep -o '"documentNamespace": *"[^"]*/sha256:[0-9a-f]\{64\}"' "$doc" | grep -o 'sha256:[0-9a-f]\{64\}') ||
        { echo "sign.sh: $doc does not say which image it describes" >&2; exit 1; }
      "$cosign" attest --yes "${key[@]}" --type spdxjson --predicate "$doc" "$2@$digest"
      n=$((n + 1))
    done
    ((n > 0)) || { echo "sign.sh: no SPDX SBOM in $3" >&2; exit 1; }
    ;;
  *) usage ;;
esac
