#!/usr/bin/env bash
# SIGKILL the ejabberd instance of $EJABBERD_STATE_DIR (crash simulation).
# Waits until the process is gone; leaves the (stale) pidfile like a real crash.
# Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

pid="$(ejabberd_running_pid)"
if [ -z "$pid" ]; then
  ejabberd_log "not running ($EJABBERD_STATE_DIR)"
  exit 0
fi
kill -KILL "$pid" 2>/dev/null || true
rc_wait_gone "$pid" 5 || ejabberd_die "pid $pid still alive after SIGKILL"
ejabberd_log "killed pid $pid with SIGKILL ($EJABBERD_STATE_DIR)"
