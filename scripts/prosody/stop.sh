#!/usr/bin/env bash
# Stop the Prosody instance of $PROSODY_STATE_DIR: SIGTERM, then SIGKILL after
# $PROSODY_STOP_TIMEOUT seconds (default 10). Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

rc_stop_server prosody "$(prosody_running_pid)" "$PROSODY_PIDFILE" "$PROSODY_STATE_DIR" \
  "${PROSODY_STOP_TIMEOUT:-10}"
