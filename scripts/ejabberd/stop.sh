#!/usr/bin/env bash
# Stop the ejabberd instance of $EJABBERD_STATE_DIR: SIGTERM (the Erlang VM shuts down
# cleanly on it), then SIGKILL after $EJABBERD_STOP_TIMEOUT seconds (default 10).
# Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

pid="$(ejabberd_running_pid)"
if [ -z "$pid" ]; then
  ejabberd_log "not running ($EJABBERD_STATE_DIR)"
  rm -f "$EJABBERD_PIDFILE"
  exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
if ! rc_wait_gone "$pid" "${EJABBERD_STOP_TIMEOUT:-10}"; then
  ejabberd_log "pid $pid ignored SIGTERM for ${EJABBERD_STOP_TIMEOUT:-10}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rc_wait_gone "$pid" 5 || ejabberd_die "pid $pid still alive after SIGKILL"
fi
rm -f "$EJABBERD_PIDFILE"
ejabberd_log "stopped pid $pid ($EJABBERD_STATE_DIR)"
