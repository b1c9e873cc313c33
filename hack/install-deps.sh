#!/usr/bin/env bash
# install-deps.sh: check and install what `make test` needs beyond Go, make
# and git: Debian packages, and CircleCI's config parser from npm (orb/check).
# Everything else (control planes, linters, release tools) is built from the
# Go module proxy by the Makefile.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v go >/dev/null || { echo "install-deps: Go is required (https://go.dev/dl/)" >&2; exit 1; }
need=()
# bash and unzip: the orb's install command is run with bash and unpacks
# the Windows archive with unzip (internal/frontends TestOrbInstall).
for cmd in git bash unzip; do command -v "$cmd" >/dev/null || need+=("$cmd"); done
# actionlint (make lint) checks workflow scripts with shellcheck when it is
# there, and silently skips that check when it is not.
command -v shellcheck >/dev/null || need+=(shellcheck)
# bench/internal/measure's tests run tools under GNU time.
[[ -x /usr/bin/time ]] || need+=(time)
# The metric gates' tests run a real Prometheus server (Debian 12 ships
# 2.42.0+ds-5+deb12u1); only its binary is used, never its service.
command -v prometheus >/dev/null || need+=(prometheus)
# The orb checks run CircleCI's config parser in node (orb/check).
command -v node >/dev/null || need+=(nodejs)
command -v npm >/dev/null || need+=(npm)
if ((${#need[@]})); then
  if command -v apt-get >/dev/null && [[ $(id -u) == 0 ]]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}"
  else
    echo "install-deps: please install: ${need[*]}" >&2; exit 1
  fi
fi
# CircleCI's config parser, at the versions orb/check/package-lock.json pins.
if [[ ! -d orb/check/node_modules/@circleci/circleci-config-parser ]]; then
  npm ci --prefix orb/check --no-audit --no-fund --loglevel=error
fi
