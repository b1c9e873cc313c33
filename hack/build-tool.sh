#!/usr/bin/env bash
# build-tool.sh NAME: build a pinned tool — a release tool (goreleaser, ko,
# cosign, cyclonedx-gomod) or one the tests run (helm, argo-rollouts'
# controller) — from its module under hack/tools/NAME, once per machine,
# and print the binary's path. The module's `tool` line names the command;
# its go.mod and go.sum pin the tool and every dependency, as the tool's
# own release does.
#
# The binary is cached outside the repository in a folder keyed by the
# tool's version and the Go version (like hack/build-testenv.sh), so a later
# run returns at once and a version bump builds next to the old one.
#
#   FERRY_TOOLS_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools)
set -euo pipefail

name=${1:?usage: build-tool.sh NAME (a folder of hack/tools)}
dir=$(cd "$(dirname "$0")" && pwd)/tools/$name
[[ -f $dir/go.mod ]] || { echo "build-tool: no module hack/tools/$name" >&2; exit 2; }

pkg=$(awk '$1 == "tool" { print $2; exit }' "$dir/go.mod")
[[ -n $pkg ]] || { echo "build-tool: hack/tools/$name/go.mod has no tool line" >&2; exit 2; }
# The module that provides the tool is the longest required path that
# prefixes the package.
mod=$(awk -v p="$pkg" '
  $1 == "require" && $2 != "(" { m = $2; v = $3 }
  $1 != "require" && NF >= 2 && $2 ~ /^v[0-9]/ { m = $1; v = $2 }
  m != "" && (p == m || index(p, m "/") == 1) && length(m) > length(best) { best = m; ver = v }
  { m = "" }
  END { print best, ver }' "$dir/go.mod")
version=${mod#* }
[[ $version == v* ]] || { echo "build-tool: cannot find the version of $pkg in hack/tools/$name/go.mod" >&2; exit 2; }

root=${FERRY_TOOLS_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools}
bin=$root/$name-$version.$(go env GOVERSION)/$name
if [[ -x $bin ]]; then echo "$bin"; exit 0; fi

# What each tool prints as its version when built from source (they read
# it from ldflags; from build info it would say "(devel)").
ldflags='-s -w'
case $name in
  goreleaser) ldflags+=" -X main.version=$version -X main.builtBy=ferry-build-tool" ;;
  ko) ldflags+=" -X github.com/google/ko/pkg/commands.Version=$version" ;;
  cosign) ldflags+=" -X sigs.k8s.io/release-utils/version.gitVersion=$version" ;;
esac

start=$SECONDS
echo "build-tool: building $name $version ($pkg) ..." >&2
mkdir -p "$(dirname "$bin")"
(cd "$dir" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags "$ldflags" -o "$bin.tmp" "$pkg")
mv "$bin.tmp" "$bin"
echo "build-tool: built $name $version in $((SECONDS - start))s" >&2
echo "$bin"
