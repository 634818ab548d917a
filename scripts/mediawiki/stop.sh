#!/usr/bin/env bash
# Stop the throwaway MediaWiki started by start.sh. Idempotent.
# Uses MW_STATE_DIR (default /tmp/rc-mediawiki-$MW_PORT, MW_PORT default 8080).
set -uo pipefail

MW_PORT="${MW_PORT:-8080}"
MW_STATE_DIR="${MW_STATE_DIR:-/tmp/rc-mediawiki-$MW_PORT}"
PIDFILE="$MW_STATE_DIR/php.pid"

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

# start.sh runs php -S under setsid, so pid is also the process group id
# (which includes PHP_CLI_SERVER_WORKERS children).
if [ "$(ps -o pgid= -p "$pid" 2>/dev/null | tr -d ' ')" = "$pid" ]; then
    target="-$pid"
else
    target="$pid"
fi
# Alive = exists and is not a zombie (the detached server is reparented, and
# its new parent may take a while to reap it; a zombie holds no sockets).
alive() {
    local st
    st="$(ps -o stat= -p "$1" 2>/dev/null | tr -d ' ')"
    [ -n "$st" ] && [ "${st#Z}" = "$st" ]
}

kill -TERM -- "$target" 2>/dev/null || true
for _ in $(seq 1 50); do
    alive "$pid" || { echo "stop.sh: stopped php -S (pid $pid)" >&2; exit 0; }
    sleep 0.1
done
kill -KILL -- "$target" 2>/dev/null || true
echo "stop.sh: killed php -S (pid $pid)" >&2
exit 0
