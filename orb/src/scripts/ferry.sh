#!/bin/sh
# Runs ferry for the orb's commands. The step's environment carries the
# settings (FERRY_*, including FERRY_COMMAND); secrets arrive as the names
# of the variables that hold them (PARAM_*_VAR), so their values never
# appear in the configuration. POSIX sh: the executor's image is busybox.
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
unset PARAM_KUBECONFIG_DATA_VAR PARAM_HEROKU_API_KEY_VAR

# The executor's image has ferry at /ferry; in another executor, ferry on
# the PATH.
ferry=/ferry
if [ ! -x "$ferry" ]; then
  ferry=$(command -v ferry) || {
    echo "ferry orb: ferry is neither at /ferry nor on the PATH; use the orb's executor or install ferry first" >&2
    exit 2
  }
fi
exec "$ferry"
