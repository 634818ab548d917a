#!/usr/bin/env bash
# Stop the ejabberd instance of $EJABBERD_STATE_DIR: SIGTERM (the Erlang VM shuts down
# cleanly on it), then SIGKILL after $EJABBERD_STOP_TIMEOUT seconds (default 10).
# Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

rc_stop_server ejabberd "$(ejabberd_running_pid)" "$EJABBERD_PIDFILE" "$EJABBERD_STATE_DIR" \
  "${EJABBERD_STOP_TIMEOUT:-10}"
