#!/bin/sh
# Runs ferry for the orb's commands. The step's environment carries the
# settings (FERRY_*, including FERRY_COMMAND); secrets arrive as the names
# of the variables that hold them (PARAM_*_VAR), so their values never
# appear in the configuration. What a context holds besides (AWS_*, the
# CI job's CIRCLE_OIDC_TOKEN_V2, FERRY_HEROKU_API_KEY_<APP>) reaches ferry
# as it is. POSIX sh: the executor's image is Alpine's.
set -eu

# from_var NAME VAR: export NAME with the value of the variable named VAR.
from_var() {
  case $2 in
    '' | [!A-Za-z_]* | *[!A-Za-z0-9_]*)
      echo "ferry orb: '$2' is not an environment variable name" >&2
      exit 2
      ;;
  esac
  eval "$1=\${$2:-}"
  export "${1?}"
}

from_var FERRY_KUBECONFIG_DATA "${PARAM_KUBECONFIG_DATA_VAR:-FERRY_KUBECONFIG_DATA}"
from_var FERRY_HEROKU_API_KEY "${PARAM_HEROKU_API_KEY_VAR:-HEROKU_API_KEY}"
from_var FERRY_AZURE_CLIENT_SECRET "${PARAM_AZURE_CLIENT_SECRET_VAR:-AZURE_CLIENT_SECRET}"
from_var FERRY_GITHUB_TOKEN "${PARAM_GITHUB_TOKEN_VAR:-GITHUB_TOKEN}"
unset PARAM_KUBECONFIG_DATA_VAR PARAM_HEROKU_API_KEY_VAR PARAM_AZURE_CLIENT_SECRET_VAR PARAM_GITHUB_TOKEN_VAR

# ferry on the PATH: the executor's image has it there (/ko-app/ferry);
# in another executor, the orb's install command puts it there.
ferry=$(command -v ferry) || {
  echo "ferry orb: ferry is not on the PATH; use the orb's executor, or run the orb's install command first" >&2
  exit 2
}
exec "$ferry"
