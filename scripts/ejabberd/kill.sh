#!/usr/bin/env bash
# SIGKILL the ejabberd instance of $EJABBERD_STATE_DIR (crash simulation).
# Waits until the process is gone; leaves the (stale) pidfile like a real crash.
# Idempotent: exit 0 if not running.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

rc_kill_server ejabberd "$(ejabberd_running_pid)" "$EJABBERD_STATE_DIR"
