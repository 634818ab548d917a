#!/usr/bin/env bash
# The demo: a real MediaWiki 1.39 on 127.0.0.1 sends its recent changes over UDP
# ($wgRCFeeds, JSON formatter) to examples/feed_tail, which prints each typed change as
# the XMLRC bridge's line. A few edits are made for you; edit more at
# http://127.0.0.1:$MW_PORT and watch them arrive. Ctrl-C stops everything.
#
#   scripts/demo.sh            # add --json to print JSON lines instead
set -euo pipefail
cd "$(dirname "$0")/.."
export MW_PORT="${MW_PORT:-8080}"
FEED_PORT="${FEED_PORT:-9390}"

scripts/mediawiki/install.sh
cargo build --quiet --example feed_tail
MW_FEED_JSON="127.0.0.1:$FEED_PORT" scripts/mediawiki/start.sh >/dev/null

cleanup() {
  [ -n "${tail_pid:-}" ] && kill "$tail_pid" 2>/dev/null || true
  scripts/mediawiki/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

target/debug/examples/feed_tail --listen "127.0.0.1:$FEED_PORT" "$@" &
tail_pid=$!
sleep 0.5
python3 scripts/mediawiki/demo-edits.py 1 0.3
echo "demo: the wiki runs at http://127.0.0.1:$MW_PORT (Admin / ${MW_ADMIN_PASSWORD:-adminpass123456}); Ctrl-C to stop" >&2
wait "$tail_pid"
