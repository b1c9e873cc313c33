#!/usr/bin/env bash
# build-testenv.sh: build the test control-plane binaries (etcd, kube-apiserver,
# kube-controller-manager, kube-scheduler, kwok) from the pinned tool modules
# under hack/tools, once per machine. The binaries are cached outside the
# repository in a folder keyed by the pinned versions; a later run finds them
# and returns at once. Prints the folder on stdout.
#
#   FERRY_TESTENV_CACHE  cache root (default ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testenv)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
tools=$here/tools

version_of() { # MODULE_DIR MODULE_PATH
  awk -v m="$2" '$1 == m || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$1/go.mod"
}
kube=$(version_of "$tools/kube" k8s.io/kubernetes)
etcd=$(version_of "$tools/etcd" go.etcd.io/etcd/server/v3)
kwok=$(version_of "$tools/kwok" sigs.k8s.io/kwok)
go_version=$(go env GOVERSION)

root=${FERRY_TESTENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/testenv}
bin=$root/kube-$kube.etcd-$etcd.kwok-$kwok.$go_version
want=(etcd kube-apiserver kube-controller-manager kube-scheduler kwok)

complete() { for b in "${want[@]}"; do [[ -x $bin/$b ]] || return 1; done; }
if complete; then echo "$bin"; exit 0; fi

mkdir -p "$bin"
log() { echo "build-testenv: $*" >&2; }
build() { # MODULE_DIR OUTPUT PACKAGE
  local dir=$1 out=$2 pkg=$3 start=$SECONDS
  [[ -x $bin/$out ]] && return 0
  log "building $out ($pkg) ..."
  (cd "$dir" && CGO_ENABLED=0 GOFLAGS="-mod=mod -buildvcs=false" go build -trimpath -ldflags='-s -w' -o "$bin/$out.tmp" "$pkg")
  mv "$bin/$out.tmp" "$bin/$out"
  log "built $out in $((SECONDS - start))s"
}
build "$tools/etcd" etcd ./cmd/etcd
build "$tools/kwok" kwok sigs.k8s.io/kwok/cmd/kwok
build "$tools/kube" kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build "$tools/kube" kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
build "$tools/kube" kube-scheduler k8s.io/kubernetes/cmd/kube-scheduler
complete
echo "$bin"
