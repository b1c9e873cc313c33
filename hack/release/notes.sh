#!/usr/bin/env bash
# notes.sh VERSION: print CHANGELOG.md's section for VERSION (v1.2.3 or
# 1.2.3), without its heading: the GitHub release's notes. Fails when the
# CHANGELOG has no such section or it is empty, so no release goes out
# without saying what changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
v=${1:?usage: notes.sh VERSION}
v=${v#v}
notes=$(awk -v v="$v" '
  /^## / { if (found) exit; if ($2 == "[" v "]" || $2 == v) { found = 1; next } }
  /^\[[^]]+\]: / { if (found) exit }
  found { print }
' CHANGELOG.md | sed -e '/./,$!d')
if [[ -z ${notes//[[:space:]]/} ]]; then
  echo "notes.sh: CHANGELOG.md has no section \"## [$v]\" with notes; add one before tagging v$v" >&2
  exit 1
fi
printf '%s\n' "$notes"
