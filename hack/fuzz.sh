#!/usr/bin/env bash
# fuzz.sh DURATION: run every Fuzz* target of the module for DURATION each.
set -euo pipefail
time=${1:-10s}
cd "$(dirname "$0")/.."
for pkg in $(go list ./... | grep -v /e2e); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  for fn in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    echo "fuzz: $pkg $fn for $time"
    go test -run '^$' -fuzz "^${fn}\$" -fuzztime "$time" "$pkg"
  done
done
