#!/usr/bin/env bash
# install.sh: install what `make bench` compares ferry with, once per machine,
# and print the tool folder on stdout.
#
#   Debian packages: docker-registry (CNCF distribution), skopeo, hyperfine,
#                    curl, time, awscli (`aws eks get-token`, beside ferry's
#                    own EKS tokens) (apt-get, as root)
#   gke-gcloud-auth-plugin: linked when installed (it comes only from
#                    Google's apt repository, not Debian's); kubelogin and
#                    aws-iam-authenticator are in neither
#   crane  v0.22.1:  go install from the Go module proxy
#   kubectl v1.37.2: built from k8s.io/kubernetes at the version that
#                    hack/tools/kube/go.mod pins (in a scratch copy of that
#                    module, so the checkout is never modified)
#
# Go-built tools are cached in $FERRY_BENCH_TOOLS (default
# ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools/bench), keyed by version.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
log() { echo "bench/install: $*" >&2; }

CRANE_VERSION=v0.22.1
kube=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3; exit } $1 == "k8s.io/kubernetes" { print $2; exit }' "$repo/hack/tools/kube/go.mod")
[[ -n $kube ]] || { log "cannot read the k8s.io/kubernetes version from hack/tools/kube/go.mod"; exit 1; }

root=${FERRY_BENCH_TOOLS:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/tools/bench}
go_version=$(go env GOVERSION)
bin=$root/bin
mkdir -p "$bin"

# Debian packages.
pkgs=()
command -v docker-registry >/dev/null || pkgs+=(docker-registry)
command -v skopeo >/dev/null || pkgs+=(skopeo)
command -v hyperfine >/dev/null || pkgs+=(hyperfine)
command -v curl >/dev/null || pkgs+=(curl)
[[ -x /usr/bin/time ]] || pkgs+=(time)
# Debian's, not an aws found elsewhere on PATH (pip, pyenv).
[[ -x /usr/bin/aws ]] || pkgs+=(awscli)
if ((${#pkgs[@]})); then
  if [[ $(id -u) != 0 ]] || ! command -v apt-get >/dev/null; then
    log "please install the Debian packages: ${pkgs[*]}"; exit 1
  fi
  log "apt-get install ${pkgs[*]}"
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >&2
fi

# crane, pinned.
crane_dir=$root/crane-$CRANE_VERSION.$go_version
if [[ ! -x $crane_dir/crane ]]; then
  log "building crane $CRANE_VERSION ..."
  GOBIN=$crane_dir CGO_ENABLED=0 GOFLAGS=-buildvcs=false \
    go install -trimpath -ldflags='-s -w' "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION" >&2
fi
ln -sf "$crane_dir/crane" "$bin/crane"

# kubectl, pinned to the Kubernetes release the test control planes run.
kubectl_dir=$root/kubectl-$kube.$go_version
if [[ ! -x $kubectl_dir/kubectl ]]; then
  log "building kubectl $kube (a few minutes, once) ..."
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  cp "$repo/hack/tools/kube/go.mod" "$repo/hack/tools/kube/go.sum" "$scratch/"
  mkdir -p "$kubectl_dir"
  (cd "$scratch" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" \
    go build -trimpath -ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube -X k8s.io/client-go/pkg/version.gitVersion=$kube" \
    -o "$kubectl_dir/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl) >&2
  mv "$kubectl_dir/kubectl.tmp" "$kubectl_dir/kubectl"
fi
ln -sf "$kubectl_dir/kubectl" "$bin/kubectl"

for t in docker-registry skopeo hyperfine curl; do ln -sf "$(command -v "$t")" "$bin/$t"; done
ln -sf /usr/bin/aws "$bin/aws"
if [[ -x /usr/bin/gke-gcloud-auth-plugin ]]; then
  ln -sf /usr/bin/gke-gcloud-auth-plugin "$bin/gke-gcloud-auth-plugin"
else
  rm -f "$bin/gke-gcloud-auth-plugin"
fi
echo "$bin"
