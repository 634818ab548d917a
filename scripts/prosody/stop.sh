#!/usr/bin/env bash
# Stop the Prosody instance of $PROSODY_STATE_DIR: SIGTERM, then SIGKILL after
# $PROSODY_STOP_TIMEOUT seconds (default 10). Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

pid="$(prosody_running_pid)"
if [ -z "$pid" ]; then
  prosody_log "not running ($PROSODY_STATE_DIR)"
  rm -f "$PROSODY_PIDFILE"
  exit 0
fi
kill -TERM "$pid" 2>/dev/null || true
if ! rc_wait_gone "$pid" "${PROSODY_STOP_TIMEOUT:-10}"; then
  prosody_log "pid $pid ignored SIGTERM for ${PROSODY_STOP_TIMEOUT:-10}s; sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  rc_wait_gone "$pid" 5 || prosody_die "pid $pid still alive after SIGKILL"
fi
rm -f "$PROSODY_PIDFILE"
prosody_log "stopped pid $pid ($PROSODY_STATE_DIR)"
