#!/usr/bin/env bash
# Start a throwaway Prosody 0.12 instance (test fixture) in the background.
#
#   eval "$(scripts/prosody/start.sh)"      # start (or reuse) and export PROSODY_* vars
#   scripts/prosody/start.sh --prepare      # only write config/certs/data dir, don't start
#
# Env (all optional):
#   PROSODY_C2S_PORT        client port on 127.0.0.1 (default 25222)
#   PROSODY_STATE_DIR       instance dir (default /tmp/rc-prosody-$PROSODY_C2S_PORT)
#   PROSODY_FRESH           1 = wipe data/certs/logs first; 0 = keep (default: 1 if the
#                           state dir has no data yet, else 0 so restarts keep accounts/archives)
#   PROSODY_DIRECT_TLS_PORT also listen for direct TLS (XEP-0368) on this port (default: off)
#   PROSODY_AUTH            auth backend for 'localhost' (default internal_hashed; or internal_plain)
#   PROSODY_ALLOW_REGISTRATION  1 = allow in-band registration (XEP-0077) on localhost (default 0)
#   PROSODY_MUC_RESTRICT_CREATION  value of restrict_room_creation (default false = anyone
#                           incl. anon users; "local" = only @localhost users; "admin")
#   PROSODY_MUC_ROOM_LOCKING  true/false: lock new rooms until configured (default false)
#   PROSODY_ADMINS          space-separated admin JIDs (default "admin@localhost"; not created)
#   PROSODY_PUBSUB_ADMINS   space-separated JIDs that administer pubsub.localhost: they may
#                           create nodes and publish (default "publisher@localhost"; stock
#                           Prosody lets only admins create nodes)
#   PROSODY_SAVE_NEW_ROOMS  1 = write each new MUC room to disk at creation (plugins/
#                           mod_rc_save_new_rooms.lua), so rooms survive SIGKILL (default 1;
#                           0 = stock Prosody: unconfigured rooms only saved on clean shutdown)
#   PROSODY_DEBUG           1 = also write a debug log to $PROSODY_STATE_DIR/debug.log
#   PROSODY_START_TIMEOUT   seconds to wait for the c2s port (default 15)
#
# Stdout carries only `export ...` lines; diagnostics go to stderr.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

MODE=start
case "${1:-}" in
  --prepare) MODE=prepare ;;
  "") ;;
  *) prosody_die "usage: $0 [--prepare]" ;;
esac

case "$PROSODY_C2S_PORT" in ''|*[!0-9]*) prosody_die "PROSODY_C2S_PORT must be a number" ;; esac
case "${PROSODY_DIRECT_TLS_PORT:-}" in *[!0-9]*) prosody_die "PROSODY_DIRECT_TLS_PORT must be a number" ;; esac
case "${PROSODY_MUC_ROOM_LOCKING:-false}" in true|false) ;; *) prosody_die "PROSODY_MUC_ROOM_LOCKING must be true or false" ;; esac
case "$PROSODY_STATE_DIR" in /*) ;; *) PROSODY_STATE_DIR="$PWD/$PROSODY_STATE_DIR"; PROSODY_CFG="$PROSODY_STATE_DIR/prosody.cfg.lua"; PROSODY_PIDFILE="$PROSODY_STATE_DIR/prosody.pid"; PROSODY_RUNAS_FILE="$PROSODY_STATE_DIR/run-as" ;; esac
[ "$PROSODY_STATE_DIR" != "/" ] || prosody_die "refusing PROSODY_STATE_DIR=/"

if ! command -v prosody >/dev/null 2>&1 || ! command -v openssl >/dev/null 2>&1; then
  prosody_log "prosody/openssl missing; running install.sh"
  "$HERE/install.sh" >&2
fi

print_exports() {
  local pid="${1:-}"
  cat <<EOF
export PROSODY_STATE_DIR='$PROSODY_STATE_DIR'
export PROSODY_C2S_PORT='$PROSODY_C2S_PORT'
export PROSODY_HOST='127.0.0.1'
export PROSODY_DOMAIN='localhost'
export PROSODY_ANON_DOMAIN='anon.localhost'
export PROSODY_MUC_DOMAIN='conference.localhost'
export PROSODY_PUBSUB_DOMAIN='pubsub.localhost'
export PROSODY_CA_CERT='$PROSODY_STATE_DIR/ca/ca.crt'
export PROSODY_LOG='$PROSODY_STATE_DIR/prosody.log'
EOF
  if [ -n "${PROSODY_DIRECT_TLS_PORT:-}" ]; then
    echo "export PROSODY_DIRECT_TLS_PORT='$PROSODY_DIRECT_TLS_PORT'"
  fi
  if [ -n "$pid" ]; then echo "export PROSODY_PID='$pid'"; fi
}

# ---------------------------------------------------------------- already running?
running="$(prosody_running_pid)"
if [ -n "$running" ]; then
  if [ "${PROSODY_FRESH:-0}" = 1 ]; then
    prosody_log "PROSODY_FRESH=1 and instance $running is running: stopping it first"
    "$HERE/stop.sh" >&2
    running=""
  elif [ "$MODE" = start ]; then
    prosody_log "already running (pid $running) in $PROSODY_STATE_DIR"
    print_exports "$running"
    exit 0
  fi
fi

# ---------------------------------------------------------------- state dir
FRESH="${PROSODY_FRESH:-}"
if [ -z "$FRESH" ]; then
  if [ -d "$PROSODY_STATE_DIR/data" ]; then FRESH=0; else FRESH=1; fi
fi
if [ "$FRESH" = 1 ] && [ -z "$running" ]; then
  # Remove only what we create (the dir may be caller-provided).
  rm -rf "$PROSODY_STATE_DIR/data" "$PROSODY_STATE_DIR/certs" "$PROSODY_STATE_DIR/ca" \
    "$PROSODY_STATE_DIR/prosody.log" "$PROSODY_STATE_DIR/prosody.err" \
    "$PROSODY_STATE_DIR/debug.log" "$PROSODY_STATE_DIR/console.log" \
    "$PROSODY_PIDFILE" "$PROSODY_CFG" "$PROSODY_RUNAS_FILE" "$PROSODY_STATE_DIR/plugins" \
    "$PROSODY_STATE_DIR/custom_plugins"
fi
mkdir -p "$PROSODY_STATE_DIR/data" "$PROSODY_STATE_DIR/certs" "$PROSODY_STATE_DIR/ca" "$PROSODY_STATE_DIR/plugins"
# Our own tiny plugins are copied in, so the server user needn't reach this checkout.
cp "$HERE"/plugins/mod_*.lua "$PROSODY_STATE_DIR/plugins/"

# Decide (once per state dir) which user runs the server.
if [ ! -s "$PROSODY_RUNAS_FILE" ]; then
  runas="$(prosody_run_as)"
  if [ "$runas" = prosody ]; then
    chown prosody:prosody "$PROSODY_STATE_DIR"
    if ! setpriv --reuid=prosody --regid=prosody --init-groups -- test -w "$PROSODY_STATE_DIR"; then
      prosody_log "user 'prosody' cannot reach $PROSODY_STATE_DIR (parent not traversable?); running as root with run_as_root = true"
      runas=root
      chown "$(id -u):$(id -g)" "$PROSODY_STATE_DIR"
    fi
  fi
  echo "$runas" >"$PROSODY_RUNAS_FILE"
fi
RUNAS="$(prosody_run_as)"
if [ "$RUNAS" != self ] && [ "$(id -u)" -ne 0 ]; then
  prosody_die "$PROSODY_STATE_DIR was set up by root (run-as=$RUNAS); use it as root or PROSODY_FRESH=1 with another dir"
fi

# ---------------------------------------------------------------- TLS (CA + leaf cert)
CA_DIR="$PROSODY_STATE_DIR/ca"
CERT="$PROSODY_STATE_DIR/certs/localhost.crt"
KEY="$PROSODY_STATE_DIR/certs/localhost.key"
if [ ! -s "$CERT" ] || [ ! -s "$KEY" ] || [ ! -s "$CA_DIR/ca.crt" ]; then
  (
    umask 077
    set -e
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -keyout "$CA_DIR/ca.key" -out "$CA_DIR/ca.crt" -days 3650 \
      -subj "/CN=rc-prosody test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -keyout "$KEY" -out "$CA_DIR/localhost.csr" -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=DNS:localhost,DNS:anon.localhost,DNS:conference.localhost,DNS:pubsub.localhost,IP:127.0.0.1" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >"$CA_DIR/leaf.ext"
    openssl x509 -req -in "$CA_DIR/localhost.csr" -CA "$CA_DIR/ca.crt" -CAkey "$CA_DIR/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 \
      -extfile "$CA_DIR/leaf.ext" -out "$CERT" 2>/dev/null
    chmod 644 "$CERT" "$CA_DIR/ca.crt"
  ) || prosody_die "openssl certificate generation failed"
fi

# ---------------------------------------------------------------- config
admins_lua=""
for a in ${PROSODY_ADMINS-admin@localhost}; do admins_lua+="$(lua_str "$a"), "; done
pubsub_admins_lua="$admins_lua"
for a in ${PROSODY_PUBSUB_ADMINS-publisher@localhost}; do pubsub_admins_lua+="$(lua_str "$a"), "; done
direct_tls=""
if [ -n "${PROSODY_DIRECT_TLS_PORT:-}" ]; then direct_tls="$PROSODY_DIRECT_TLS_PORT"; fi
restrict="${PROSODY_MUC_RESTRICT_CREATION:-false}"
case "$restrict" in true|false) ;; *) restrict="$(lua_str "$restrict")" ;; esac
allow_reg=false; [ "${PROSODY_ALLOW_REGISTRATION:-0}" = 1 ] && allow_reg=true
run_as_root=false; [ "$RUNAS" = root ] && run_as_root=true
S="$PROSODY_STATE_DIR"
debug_log=""
muc_extra=""
[ "${PROSODY_SAVE_NEW_ROOMS:-1}" = 1 ] && muc_extra='; "rc_save_new_rooms"'
[ "${PROSODY_DEBUG:-0}" = 1 ] && debug_log="debug = $(lua_str "$S/debug.log");"

cat >"$PROSODY_CFG.tmp" <<EOF
-- Generated by scripts/prosody/start.sh; rewritten on every start. Do not edit.
-- Throwaway Prosody 0.12 test fixture, loopback only.

run_as_root = $run_as_root  -- true only when the 'prosody' user can't be used
pidfile = $(lua_str "$S/prosody.pid")
data_path = $(lua_str "$S/data")
installer_plugin_path = $(lua_str "$S/custom_plugins")
plugin_paths = { $(lua_str "$S/plugins") }
log = {
  info = $(lua_str "$S/prosody.log");
  error = $(lua_str "$S/prosody.err");
  $debug_log
}

admins = { $admins_lua}

-- Network: loopback only, c2s only. No s2s, no http, no external components.
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
c2s_ports = { $PROSODY_C2S_PORT }
c2s_direct_tls_ports = { $direct_tls }
s2s_ports = { }
s2s_direct_tls_ports = { }
component_ports = { }
http_ports = { }
https_ports = { }
http_interfaces = { "127.0.0.1" }
https_interfaces = { "127.0.0.1" }

modules_enabled = {
  "roster"; "saslauth"; "tls"; "disco";
  "ping";      -- XEP-0199 (core module)
  "smacks";    -- XEP-0198 (core module since 0.12)
  "carbons";   -- XEP-0280
  "mam";       -- XEP-0313 for user archives
  "pep"; "private"; "blocklist"; "vcard_legacy";
  "version"; "uptime"; "time";
  "register";  -- password change; in-band registration only if allow_registration
  "admin_adhoc"; "admin_shell"; -- admin_shell listens on a unix socket in data_path
}
-- mod_posix is auto-loaded (platform module); we run in the foreground (-F).
modules_disabled = { "s2s"; "s2s_auth_certs"; }

-- TLS: STARTTLS offered, but plaintext allowed so loopback tests can opt out.
certificates = $(lua_str "$S/certs")
ssl = {
  certificate = $(lua_str "$CERT");
  key = $(lua_str "$KEY");
}
c2s_require_encryption = false
s2s_require_encryption = false
allow_unencrypted_plain_auth = true
allow_registration = $allow_reg

-- Storage: flat files in data_path (survive SIGKILL + restart).
storage = "internal"
default_archive_policy = true
archive_expires_after = "never"
max_archive_query_results = 1000
storage_archive_item_limit = 100000

-- Relaxed limits for loopback load tests (mod_limits is not loaded, so c2s
-- reads are not throttled at all; this only matters if someone enables it).
limits = {
  c2s = { rate = "100mb/s"; burst = "10s"; };
  c2s_unauth = { rate = "100mb/s"; burst = "10s"; };
}
c2s_stanza_size_limit = 1024 * 1024

VirtualHost "localhost"
  authentication = $(lua_str "${PROSODY_AUTH:-internal_hashed}")

VirtualHost "anon.localhost"
  authentication = "anonymous"
  allow_anonymous_s2s = false

Component "conference.localhost" "muc"
  name = "rc test rooms"
  modules_enabled = { "muc_mam"$muc_extra }   -- XEP-0313 room archives
  muc_log_by_default = true
  muc_log_all_rooms = true          -- every room archived, not configurable per room
  muc_log_expires_after = "never"
  muc_log_presences = false
  restrict_room_creation = $restrict
  muc_room_locking = ${PROSODY_MUC_ROOM_LOCKING:-false}
  muc_room_default_persistent = true  -- non-persistent rooms (and their archive!) are destroyed when empty
  muc_room_default_public = true
  muc_room_default_history_length = 20
  muc_room_cache_size = 1000
  muc_tombstones = false

Component "pubsub.localhost" "pubsub"
  pubsub_max_items = 1000
  -- Only admins may create nodes (they own what they create); anyone, anonymous users
  -- included, may subscribe to and read an open node. Nodes, subscriptions and items
  -- are stored in data_path as they change, so they survive SIGKILL.
  admins = { $pubsub_admins_lua}
EOF
mv "$PROSODY_CFG.tmp" "$PROSODY_CFG"
chmod 644 "$PROSODY_CFG"

if [ "$RUNAS" = prosody ]; then
  chown -R prosody:prosody "$PROSODY_STATE_DIR"
fi

if [ "$MODE" = prepare ]; then
  prosody_log "prepared $PROSODY_STATE_DIR (not started)"
  exit 0
fi

# ---------------------------------------------------------------- launch
if rc_port_open "$PROSODY_C2S_PORT"; then
  prosody_die "127.0.0.1:$PROSODY_C2S_PORT is already in use by another process"
fi

t0=$(date +%s%N)
printf '\n==== start %s (fresh=%s run-as=%s)\n' "$(date -Is)" "$FRESH" "$RUNAS" >>"$S/console.log"
: >"$PROSODY_PIDFILE"
[ "$RUNAS" = prosody ] && chown prosody:prosody "$PROSODY_PIDFILE" "$S/console.log"

# setsid: own session, so the caller's Ctrl-C / process-group kill doesn't hit it.
# Neither setsid (not a group leader here) nor setpriv fork, so $! is prosody's pid.
cd "$S"
if [ "$RUNAS" = prosody ]; then
  setsid setpriv --reuid=prosody --regid=prosody --init-groups -- \
    prosody -F --config "$PROSODY_CFG" </dev/null >>"$S/console.log" 2>&1 &
else
  setsid prosody -F --config "$PROSODY_CFG" </dev/null >>"$S/console.log" 2>&1 &
fi
pid=$!
printf '%s' "$pid" >"$PROSODY_PIDFILE"

deadline=$((SECONDS + ${PROSODY_START_TIMEOUT:-15}))
until rc_port_open "$PROSODY_C2S_PORT" && prosody_xmpp_ready "$PROSODY_C2S_PORT" localhost; do
  if ! kill -0 "$pid" 2>/dev/null; then
    prosody_log "prosody exited during startup; console.log / prosody.err:"
    tail -n 30 "$S/console.log" >&2 || true
    tail -n 30 "$S/prosody.err" >&2 2>/dev/null || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    prosody_log "c2s port $PROSODY_C2S_PORT not serving XMPP after ${PROSODY_START_TIMEOUT:-15}s; killing $pid"
    kill -KILL "$pid" 2>/dev/null || true
    tail -n 30 "$S/prosody.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.05
done
# mod_posix rewrites the pidfile itself; make sure it names the process we started.
printf '%s' "$pid" >"$PROSODY_PIDFILE"
t1=$(date +%s%N)
prosody_log "prosody pid $pid up on 127.0.0.1:$PROSODY_C2S_PORT in $(( (t1 - t0) / 1000000 )) ms (state $S, fresh=$FRESH, run-as=$RUNAS)"
print_exports "$pid"
