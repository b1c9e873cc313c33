#!/usr/bin/env bash
# test-summary.sh: pass `go test -v` output through and end with one
# "N passed, N failed" line; exit non-zero when a test or the run failed.
#   test-summary.sh [LABEL]   LABEL starts the last line (default e2e)
set -uo pipefail
label=${1:-e2e}
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
echo "$label: $passed passed, $failed failed"
exit $status
