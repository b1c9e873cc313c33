#!/usr/bin/env bash
# test-summary.sh: pass `go test -v` output through and end with one
# "N passed, N failed" line; exit non-zero when a test or the run failed.
set -uo pipefail
passed=0 failed=0 status=0
while IFS= read -r line; do
  printf '%s\n' "$line"
  case "$line" in
    *"--- PASS:"*) passed=$((passed + 1)) ;;
    *"--- FAIL:"*) failed=$((failed + 1)) ;;
    FAIL*) status=1 ;;
  esac
done
((failed > 0)) && status=1
echo "e2e: $passed passed, $failed failed"
exit $status
