#!/usr/bin/env bash
# Start a throwaway ejabberd (Debian's package) on 127.0.0.1 for tests and demos.
#   scripts/ejabberd/start.sh [--prepare]   (--prepare: write the state dir, do not start)
#
# Env (all optional; see lib.sh for EJABBERD_C2S_PORT, EJABBERD_STATE_DIR, EJABBERD_DIST_PORT):
#   EJABBERD_FRESH          1 = wipe the state dir's data first; 0 = keep it (accounts,
#                           rooms, archives); default: fresh when there is no spool yet
#   EJABBERD_ADMINS         admin JIDs (default admin@localhost)
#   EJABBERD_HISTORY_SIZE   MUC history a join gets (default 20, ejabberd's own default)
#   EJABBERD_ROOM_MAM       true/false: new rooms keep an archive (default true)
#   EJABBERD_ERL_FLAGS      more flags for the Erlang VM, e.g. "+sbwt none" (default none)
#   EJABBERD_LOGLEVEL       ejabberd's loglevel (default info)
#   EJABBERD_START_TIMEOUT  seconds to wait for the c2s port (default 30)
#
# The generated ejabberd.yml: one virtual host `localhost`; c2s on the given port bound to
# 127.0.0.1 with STARTTLS offered, not required (the client's PlaintextLoopback); no s2s,
# no HTTP; MUC on conference.localhost with mod_mam (every new room archived and
# persistent), history of EJABBERD_HISTORY_SIZE; PubSub on pubsub.localhost; no in-band
# registration (accounts come from adduser.sh, i.e. `ejabberdctl register`).
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
  *) ejabberd_die "usage: $0 [--prepare]" ;;
esac
case "$EJABBERD_C2S_PORT" in ''|*[!0-9]*) ejabberd_die "EJABBERD_C2S_PORT must be a number" ;; esac
case "${EJABBERD_DIST_PORT:-}" in *[!0-9]*) ejabberd_die "EJABBERD_DIST_PORT must be a number" ;; esac
case "${EJABBERD_ROOM_MAM:-true}" in true|false) ;; *) ejabberd_die "EJABBERD_ROOM_MAM must be true or false" ;; esac
case "${EJABBERD_HISTORY_SIZE:-20}" in ''|*[!0-9]*) ejabberd_die "EJABBERD_HISTORY_SIZE must be a number" ;; esac
[ "$EJABBERD_STATE_DIR" != "/" ] || ejabberd_die "refusing EJABBERD_STATE_DIR=/"

if [ ! -x "$EJABBERDCTL_SYSTEM" ] || ! command -v openssl >/dev/null 2>&1; then
  ejabberd_log "ejabberd/openssl missing; running install.sh"
  "$HERE/install.sh" >&2
fi

S="$EJABBERD_STATE_DIR"
print_exports() {
  cat <<EOF
export EJABBERD_STATE_DIR='$S'
export EJABBERD_C2S_PORT='$EJABBERD_C2S_PORT'
export EJABBERD_DIST_PORT='$(cat "$S/dist-port")'
export EJABBERD_NODE='$(cat "$EJABBERD_NODE_FILE")'
export EJABBERD_HOST='127.0.0.1'
export EJABBERD_DOMAIN='localhost'
export EJABBERD_MUC_DOMAIN='conference.localhost'
export EJABBERD_PUBSUB_DOMAIN='pubsub.localhost'
export EJABBERD_CA_CERT='$S/ca/ca.crt'
export EJABBERD_LOG='$S/logs/ejabberd.log'
EOF
  if [ -n "${1:-}" ]; then echo "export EJABBERD_PID='$1'"; fi
}

# ---------------------------------------------------------------- already running?
running="$(ejabberd_running_pid)"
if [ -n "$running" ]; then
  if [ "${EJABBERD_FRESH:-0}" = 1 ]; then
    ejabberd_log "EJABBERD_FRESH=1 and instance $running is running: stopping it first"
    "$HERE/stop.sh" >&2
    running=""
  elif [ "$MODE" = start ]; then
    ejabberd_log "already running (pid $running) in $S"
    print_exports "$running"
    exit 0
  fi
fi

# ---------------------------------------------------------------- state dir
FRESH="${EJABBERD_FRESH:-}"
if [ -z "$FRESH" ]; then
  if [ -d "$S/spool" ]; then FRESH=0; else FRESH=1; fi
fi
if [ "$FRESH" = 1 ] && [ -z "$running" ]; then
  # Remove only what we create (the dir may be caller-provided).
  rm -rf "$S/spool" "$S/logs" "$S/certs" "$S/ca" "$S/console.log" "$S/ejabberdctl" \
    "$EJABBERD_CFG" "$EJABBERD_CTL_CFG" "$EJABBERD_PIDFILE" "$EJABBERD_RUNAS_FILE" \
    "$EJABBERD_NODE_FILE" "$S/dist-port" "$S/.erlang.cookie"
fi
mkdir -p "$S/spool" "$S/logs" "$S/certs" "$S/ca"

if [ ! -s "$EJABBERD_RUNAS_FILE" ]; then
  runas="$(ejabberd_run_as)"
  if [ "$runas" = ejabberd ]; then
    chown ejabberd:ejabberd "$S"
    if ! setpriv --reuid=ejabberd --regid=ejabberd --init-groups -- test -w "$S"; then
      ejabberd_die "user 'ejabberd' cannot reach $S (parent not traversable?)"
    fi
  fi
  echo "$runas" >"$EJABBERD_RUNAS_FILE"
fi
RUNAS="$(ejabberd_run_as)"
if [ "$RUNAS" != self ] && [ "$(id -u)" -ne 0 ]; then
  ejabberd_die "$S was set up by root (run-as=$RUNAS); use it as root or EJABBERD_FRESH=1 with another dir"
fi

# The node's identity, kept for the life of the state dir (Mnesia's files name the node).
[ -s "$EJABBERD_NODE_FILE" ] || echo "rc-ejabberd-$EJABBERD_C2S_PORT@localhost" >"$EJABBERD_NODE_FILE"
if [ -n "${EJABBERD_DIST_PORT:-}" ]; then
  echo "$EJABBERD_DIST_PORT" >"$S/dist-port"
elif [ ! -s "$S/dist-port" ]; then
  for _ in $(seq 1 100); do
    p=$((20000 + RANDOM % 40000))
    [ "$p" != "$EJABBERD_C2S_PORT" ] && ! rc_port_open "$p" && break
  done
  echo "$p" >"$S/dist-port"
fi
DIST_PORT="$(cat "$S/dist-port")"
if [ ! -s "$S/cookie" ]; then
  (umask 077; openssl rand -hex 16 >"$S/cookie")
fi
COOKIE="$(cat "$S/cookie")"

# ---------------------------------------------------------------- TLS (CA + leaf cert)
CERT="$S/certs/localhost.crt"
KEY="$S/certs/localhost.key"
PEM="$S/certs/localhost.pem"
if [ ! -s "$PEM" ] || [ ! -s "$S/ca/ca.crt" ]; then
  (
    umask 077
    set -e
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -keyout "$S/ca/ca.key" -out "$S/ca/ca.crt" -days 3650 \
      -subj "/CN=rc-ejabberd test CA" \
      -addext "basicConstraints=critical,CA:TRUE" \
      -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
      -keyout "$KEY" -out "$S/ca/localhost.csr" -subj "/CN=localhost" 2>/dev/null
    printf '%s\n' \
      "subjectAltName=DNS:localhost,DNS:conference.localhost,DNS:pubsub.localhost,IP:127.0.0.1" \
      "basicConstraints=critical,CA:FALSE" \
      "keyUsage=critical,digitalSignature,keyEncipherment" \
      "extendedKeyUsage=serverAuth" >"$S/ca/leaf.ext"
    openssl x509 -req -in "$S/ca/localhost.csr" -CA "$S/ca/ca.crt" -CAkey "$S/ca/ca.key" \
      -set_serial "0x$(openssl rand -hex 8)" -days 3650 -sha256 \
      -extfile "$S/ca/leaf.ext" -out "$CERT" 2>/dev/null
    cat "$CERT" "$KEY" "$S/ca/ca.crt" >"$PEM" # the chain, so ejabberd can check it
    chmod 644 "$CERT" "$S/ca/ca.crt"
  ) || ejabberd_die "openssl certificate generation failed"
fi

# ---------------------------------------------------------------- config
yaml_str() { local s=${1//\\/\\\\}; printf '"%s"' "${s//\"/\\\"}"; }
admins_yaml=""
for a in ${EJABBERD_ADMINS-admin@localhost}; do admins_yaml+="      - $(yaml_str "$a")"$'\n'; done
[ -n "$admins_yaml" ] || admins_yaml="      - \"admin@localhost\""$'\n'

cat >"$EJABBERD_CFG.tmp" <<EOF
# Generated by scripts/ejabberd/start.sh; rewritten on every start. Do not edit.
# Throwaway ejabberd test fixture, loopback only.
hosts:
  - localhost
loglevel: ${EJABBERD_LOGLEVEL:-info}
certfiles:
  - $(yaml_str "$PEM")
define_macro: {}

# Network: loopback only, c2s only. No s2s, no HTTP, no proxy65/STUN listeners.
listen:
  -
    port: $EJABBERD_C2S_PORT
    ip: "127.0.0.1"
    module: ejabberd_c2s
    max_stanza_size: 1048576
    shaper: c2s_shaper
    access: c2s
    starttls: true
    starttls_required: false
s2s_access: none

# Accounts: internal (Mnesia), created by ejabberdctl register; PLAIN allowed without TLS
# (loopback tests opt out of TLS explicitly).
auth_method: [internal]
auth_password_format: plain

acl:
  admin:
    user:
$admins_yaml  local:
    user_regexp: ""
  loopback:
    ip:
      - 127.0.0.0/8
      - ::1/128

access_rules:
  local:
    allow: local
  c2s:
    allow: all
  announce:
    allow: admin
  configure:
    allow: admin
  muc_create:
    allow: local
  pubsub_createnode:
    allow: local
  trusted_network:
    allow: loopback
  register:
    deny: all

api_permissions:
  "console commands":
    from:
      - ejabberd_ctl
    who: all
    what: "*"

# No rate limits for loopback load tests.
shaper:
  normal: 100000000
  fast: 100000000
shaper_rules:
  max_user_sessions: 100
  max_user_offline_messages: 5000
  c2s_shaper: none
  s2s_shaper: none

max_fsm_queue: 100000

modules:
  mod_adhoc: {}
  mod_admin_extra: {}
  mod_caps: {}
  mod_carboncopy: {}
  mod_disco: {}
  mod_last: {}
  mod_ping: {}
  mod_private: {}
  mod_roster: {}
  mod_stream_mgmt: {}
  mod_vcard: {}
  mod_version:
    show_os: false
  # XEP-0313 for user archives and (with the room option mam) for rooms.
  mod_mam:
    assume_mam_usage: true
    default: always
  mod_muc:
    host: "conference.localhost"
    name: "rc test rooms"
    access:
      - allow
    access_admin:
      - allow: admin
    access_create: muc_create
    access_persistent: muc_create
    access_mam:
      - allow
    history_size: ${EJABBERD_HISTORY_SIZE:-20}
    max_users: 1000
    max_user_conferences: 1000
    max_users_presence: 1000
    default_room_options:
      mam: ${EJABBERD_ROOM_MAM:-true}
      persistent: true
      public: true
      allow_subscription: true
  mod_muc_admin: {}
  mod_pubsub:
    host: "pubsub.localhost"
    access_createnode: pubsub_createnode
    plugins:
      - flat
      - pep
    force_node_config:
      "*":
        max_items: 1000
  # In-band registration off: mod_register is not loaded.
EOF
mv "$EJABBERD_CFG.tmp" "$EJABBERD_CFG"

# ejabberdctl's own settings for this node (a shell fragment it sources): its Erlang
# cookie, a distribution port of its own on 127.0.0.1 (no epmd), the pidfile.
cat >"$EJABBERD_CTL_CFG" <<EOF
# Generated by scripts/ejabberd/start.sh; rewritten on every start. Do not edit.
ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0 -setcookie $COOKIE -kernel inet_dist_use_interface {127,0,0,1} ${EJABBERD_ERL_FLAGS:-}"
ERL_DIST_PORT=$DIST_PORT
EJABBERD_PID_PATH="$EJABBERD_PIDFILE"
CONTRIB_MODULES_PATH="$S/contrib"
CONTRIB_MODULES_CONF_DIR="$S/contrib/conf"
EJABBERD_BYPASS_WARNINGS=true
EOF
chmod 600 "$EJABBERD_CTL_CFG" "$S/cookie"
# ejabberdctl points ERL_INETRC at the config dir: an empty one, so Erlang does not
# complain that it is missing.
[ -e "$S/inetrc" ] || echo '%% empty: the system resolver' >"$S/inetrc"
if [ "$RUNAS" = self ]; then
  # The package's ejabberdctl runs only as root or 'ejabberd': a copy that runs as anyone.
  sed 's/^INSTALLUSER=ejabberd$/INSTALLUSER=/' "$EJABBERDCTL_SYSTEM" >"$S/ejabberdctl"
fi
if [ "$RUNAS" = ejabberd ]; then
  chown -R ejabberd:ejabberd "$S"
fi

if [ "$MODE" = prepare ]; then
  ejabberd_log "prepared $S (not started)"
  print_exports
  exit 0
fi

# ---------------------------------------------------------------- launch
rc_port_open "$EJABBERD_C2S_PORT" && ejabberd_die "127.0.0.1:$EJABBERD_C2S_PORT is already in use by another process"
rc_port_open "$DIST_PORT" && ejabberd_die "127.0.0.1:$DIST_PORT (Erlang distribution) is already in use by another process"

t0=$(date +%s%N)
printf '\n==== start %s (fresh=%s run-as=%s)\n' "$(date -Is)" "$FRESH" "$RUNAS" >>"$S/console.log"
rm -f "$EJABBERD_PIDFILE"
[ "$RUNAS" = ejabberd ] && chown ejabberd:ejabberd "$S/console.log"

export EJABBERD_STATE_DIR EJABBERD_C2S_PORT
# setsid: own session, so the caller's Ctrl-C / process-group kill doesn't hit it.
cd "$S"
setsid bash -c '. "$1/lib.sh"; ejabberd_ctl foreground' _ "$HERE" </dev/null >>"$S/console.log" 2>&1 &
wrapper=$!

deadline=$((SECONDS + ${EJABBERD_START_TIMEOUT:-30}))
until rc_port_open "$EJABBERD_C2S_PORT" && ejabberd_xmpp_ready "$EJABBERD_C2S_PORT" localhost; do
  if ! kill -0 "$wrapper" 2>/dev/null; then
    ejabberd_log "ejabberd exited during startup; console.log / logs/error.log:"
    tail -n 30 "$S/console.log" >&2 || true
    tail -n 30 "$S/logs/error.log" >&2 2>/dev/null || true
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    ejabberd_log "c2s port $EJABBERD_C2S_PORT not serving XMPP after ${EJABBERD_START_TIMEOUT:-30}s; stopping"
    "$HERE/kill.sh" >&2 || true
    kill -KILL "$wrapper" 2>/dev/null || true
    tail -n 30 "$S/logs/ejabberd.log" >&2 2>/dev/null || true
    exit 1
  fi
  sleep 0.05
done
pid="$(ejabberd_running_pid)"
[ -n "$pid" ] || ejabberd_die "ejabberd serves 127.0.0.1:$EJABBERD_C2S_PORT but wrote no pidfile $EJABBERD_PIDFILE"
t1=$(date +%s%N)
ejabberd_log "ejabberd pid $pid up on 127.0.0.1:$EJABBERD_C2S_PORT in $(( (t1 - t0) / 1000000 )) ms (node $(cat "$EJABBERD_NODE_FILE"), dist port $DIST_PORT, state $S, fresh=$FRESH, run-as=$RUNAS)"
print_exports "$pid"
