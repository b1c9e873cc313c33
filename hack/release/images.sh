#!/usr/bin/env bash
# images.sh VERSION [MOVING_TAG]: build ferry's two container images with ko
# (.ko.yaml) for linux/amd64 and linux/arm64 and push them to
# $KO_DOCKER_REPO, tagged VERSION and VERSION-shell (and MOVING_TAG,
# MOVING_TAG-shell when given). No docker daemon is involved.
#
#   action image  VERSION        .ko.yaml's base (distroless/static: root,
#                                CA bundle, no shell), for the GitHub Action
#   shell image   VERSION-shell  $SHELL_BASE_IMAGE (Alpine: /bin/sh and a CA
#                                bundle), for the CircleCI orb's executor
#
# Writes, under $OUT (default dist/images):
#   action.ref, shell.ref   the pushed image, REPO:TAG@sha256:… (one line)
#   sbom/action, sbom/shell ko's SPDX SBOMs, one per platform and the index
#
# Every time stamp is the commit's (SOURCE_DATE_EPOCH), so the same commit
# and bases give the same digests. ACTION_BASE_IMAGE and SHELL_BASE_IMAGE
# replace the bases (the release check points them at copies in a local
# registry); a base must be pinned by digest.
set -euo pipefail
cd "$(dirname "$0")/../.."

version=${1:?usage: images.sh VERSION [MOVING_TAG]}
moving=${2:-}
: "${KO_DOCKER_REPO:?set KO_DOCKER_REPO to the repository to push to, e.g. ghcr.io/ferry-dev/ferry}"
out=${OUT:-dist/images}
ko=${KO:-$(hack/build-tool.sh ko)}

# The shell image's base: Alpine 3.23, pinned by its index digest.
shell_base=${SHELL_BASE_IMAGE:-docker.io/library/alpine:3.23@sha256:25109184c71bdad752c8312a8623239686a9a2071e8825f20acb8f2198c3f659}
action_base=${ACTION_BASE_IMAGE:-$(awk '$1 == "defaultBaseImage:" { print $2 }' .ko.yaml)}

semver='^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$'
[[ $version =~ $semver ]] || { echo "images.sh: VERSION $version is not v1.2.3 or v1.2.3-rc.1" >&2; exit 2; }
[[ -z $moving || $moving =~ ^v(0|[1-9][0-9]*)$ ]] || { echo "images.sh: MOVING_TAG $moving is not a major version tag such as v1" >&2; exit 2; }
for b in "$action_base" "$shell_base"; do
  [[ $b =~ @sha256:[0-9a-f]{64}$ ]] || { echo "images.sh: base image $b is not pinned by digest (…@sha256:<64 hex>)" >&2; exit 2; }
done

export VERSION=$version # .ko.yaml stamps it into the binary
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
export KO_DATA_DATE_EPOCH=$SOURCE_DATE_EPOCH
revision=$(git rev-parse HEAD)
created=$(date -u -d "@$SOURCE_DATE_EPOCH" +%Y-%m-%dT%H:%M:%SZ)
labels=(
  --image-label "org.opencontainers.image.title=ferry"
  # (ko splits flag values at commas: none in a label.)
  --image-label "org.opencontainers.image.description=Promotes the exact image staging runs to production and rolls back by itself when production is unhealthy."
  --image-label "org.opencontainers.image.source=https://github.com/ferry-dev/ferry"
  --image-label "org.opencontainers.image.licenses=Apache-2.0"
  --image-label "org.opencontainers.image.version=$version"
  --image-label "org.opencontainers.image.revision=$revision"
  --image-label "org.opencontainers.image.created=$created"
)

rm -rf "$out"
mkdir -p "$out"
build() { # NAME BASE SUFFIX
  local name=$1 base=$2 suffix=$3 tags=$version$3
  [[ -n $moving ]] && tags+=,$moving$suffix
  # ko prints the index it pushed, REPO@sha256:…, on standard output.
  local ref
  ref=$(KO_DEFAULTBASEIMAGE=$base "$ko" build ./cmd/ferry --bare --tags "$tags" \
    --sbom spdx --sbom-dir "$out/sbom/$name" "${labels[@]}")
  [[ $ref =~ ^[^[:space:]]+@sha256:[0-9a-f]{64}$ ]] || { echo "images.sh: ko reported \"$ref\", not one image by digest" >&2; exit 1; }
  # Name the version tag too, so the line says both which release it is
  # and what it is pinned to.
  echo "$KO_DOCKER_REPO:$version$suffix@${ref##*@}" > "$out/$name.ref"
  echo "images.sh: pushed $(cat "$out/$name.ref")" >&2
}
build action "$action_base" ""
build shell "$shell_base" -shell
