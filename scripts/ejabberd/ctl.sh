#!/usr/bin/env bash
# ejabberdctl for the instance of $EJABBERD_STATE_DIR (its node, cookie and paths):
#   scripts/ejabberd/ctl.sh COMMAND [ARGS]...    e.g. ctl.sh registered_users localhost
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"
[ -s "$EJABBERD_NODE_FILE" ] || ejabberd_die "no instance in $EJABBERD_STATE_DIR"
ejabberd_ctl "$@"
