#!/bin/sh
# Logs the promotion as a CircleCI deploy marker with the commands CircleCI
# documents for them (circleci run release plan / update, in the job's own
# CLI): MARKER_STEP is plan (a deploy planned, then running), success or
# failed. The deploy's name is the job's, so the steps of one job update
# the deploy it planned. Without MARKER_ENVIRONMENT (the orb's
# deploy-environment parameter) it logs nothing. POSIX sh: the executor's
# image is Alpine's.
set -eu

[ -n "${MARKER_ENVIRONMENT:-}" ] || exit 0

name=${CIRCLE_JOB:-ferry}
case ${MARKER_STEP:?} in
  plan)
    set -- circleci run release plan "$name" \
      --environment-name="$MARKER_ENVIRONMENT" \
      --component-name="${MARKER_COMPONENT:-${CIRCLE_PROJECT_REPONAME:?}}" \
      --target-version="${MARKER_VERSION:-${CIRCLE_SHA1:?}}"
    "$@"
    circleci run release update "$name" --status=RUNNING
    ;;
  success)
    circleci run release update "$name" --status=SUCCESS
    ;;
  failed)
    circleci run release update "$name" --status=FAILED --failure-reason="${MARKER_REASON:-ferry failed, see the log of the job}"
    ;;
  *)
    echo "ferry orb: unknown deploy marker step '$MARKER_STEP'" >&2
    exit 2
    ;;
esac
