#!/usr/bin/env bash
# Stop the throwaway DokuWiki started by start.sh. Idempotent.
# Uses DW_STATE_DIR (default /tmp/rc-dokuwiki-$DW_PORT, DW_PORT default 8090).
set -uo pipefail

DW_PORT="${DW_PORT:-8090}"
DW_STATE_DIR="${DW_STATE_DIR:-/tmp/rc-dokuwiki-$DW_PORT}"
PIDFILE="$DW_STATE_DIR/php.pid"

[ -f "$PIDFILE" ] || exit 0
pid="$(cat "$PIDFILE" 2>/dev/null || true)"
rm -f "$PIDFILE"
case "$pid" in ''|*[!0-9]*) exit 0 ;; esac

# Only touch the process if it still is our php -S (pids get reused).
cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null || true)"
case "$cmd" in
    *php*-S*127.0.0.1:*) ;;
    *) exit 0 ;;
esac

# start.sh runs php -S under setsid: pid is also its process group.
if [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
    target="-$pid"
else
    target="$pid"
fi
alive() {
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
    [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

kill -TERM -- "$target" 2>/dev/null || true
for _ in $(seq 1 50); do
    alive "$pid" || { echo "stop.sh: stopped DokuWiki's php -S (pid $pid)" >&2; exit 0; }
    sleep 0.1
done
kill -KILL -- "$target" 2>/dev/null || true
echo "stop.sh: killed DokuWiki's php -S (pid $pid)" >&2
exit 0
