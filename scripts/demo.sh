#!/usr/bin/env bash
# The demo, the whole XMLRC pipeline on 127.0.0.1:
#   MediaWiki 1.39 --($wgRCFeeds, UDP JSON)--> udp2xmpp bridge --(XMPP)--> Prosody room
#   wikidb@conference.localhost --> tail, printing each typed change as it arrives.
# A few edits are made for you; edit more at http://127.0.0.1:$MW_PORT (Admin /
# adminpass123456) and watch them arrive. Ctrl-C stops everything.
#
#   scripts/demo.sh            # add --json for JSON lines
set -euo pipefail
cd "$(dirname "$0")/.."
export MW_PORT="${MW_PORT:-8080}"
export PROSODY_C2S_PORT="${PROSODY_C2S_PORT:-25222}"
export PROSODY_STATE_DIR="${PROSODY_STATE_DIR:-/tmp/rc-demo-prosody}"
FEED_PORT="${FEED_PORT:-9390}"
ROOM=wikidb@conference.localhost

scripts/mediawiki/install.sh
scripts/prosody/install.sh
cargo build --quiet --example udp2xmpp --example tail

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  scripts/mediawiki/stop.sh >/dev/null 2>&1 || true
  scripts/prosody/stop.sh >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

PROSODY_FRESH=1 scripts/prosody/start.sh >/dev/null
scripts/prosody/adduser.sh bridge bridgebridge >/dev/null
scripts/prosody/adduser.sh reader readerreader >/dev/null

config=$(mktemp /tmp/rc-demo-bridge.XXXXXX.toml)
cat > "$config" <<TOML
listen = "127.0.0.1:$FEED_PORT"
jid = "bridge@localhost"
server = "127.0.0.1:$PROSODY_C2S_PORT"
tls = "plaintext-loopback"
[rooms]
wikidb = "$ROOM"
TOML
BRIDGE_PASSWORD=bridgebridge RUST_LOG=warn target/debug/examples/udp2xmpp "$config" &
pids+=($!)
XMPP_PASSWORD=readerreader target/debug/examples/tail --jid reader@localhost --server "127.0.0.1:$PROSODY_C2S_PORT" \
  --tls plaintext-loopback "$ROOM" "$@" &
pids+=($!)
MW_FEED_JSON="127.0.0.1:$FEED_PORT" scripts/mediawiki/start.sh >/dev/null
sleep 1
python3 scripts/mediawiki/demo-edits.py 1 0.3
echo "demo: the wiki runs at http://127.0.0.1:$MW_PORT (Admin / ${MW_ADMIN_PASSWORD:-adminpass123456}); changes appear above; Ctrl-C to stop" >&2
wait "${pids[1]}"
