#!/usr/bin/env bash
# run.sh: what `make bench` runs. Installs the tools ferry is compared with
# (bench/install.sh), builds the harness and ferry's copy command, and
# writes bench/results.md and bench/results.json. Expects bin/ferry (make
# build) and FERRY_TESTENV_BIN (hack/build-testenv.sh).
#
#   BENCH_ARGS  extra flags for ferrybench, e.g. "-layer-mib 8 -runs 2
#               -scenarios copy" while developing (see ferrybench -h)
#   BENCH_BUSY  a sentence for results.md on what else the machine did
set -euo pipefail
cd "$(dirname "$0")/.."

tools=$(bench/install.sh)
ko=$(hack/build-tool.sh ko) # builds the image whose size is reported
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin/ferry-copy" ./bench/cmd/ferry-copy
go build -o "$bin/ferrybench" ./bench/cmd/ferrybench

# shellcheck disable=SC2086 # BENCH_ARGS is a list of flags
"$bin/ferrybench" -tools "$tools" -ferry bin/ferry -ferry-copy "$bin/ferry-copy" -floor bench/floor.sh \
  -repo . -ko "$ko" -out bench -busy "${BENCH_BUSY:-}" ${BENCH_ARGS:-}
