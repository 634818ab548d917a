# shellcheck shell=bash
# Shared helpers for scripts/ejabberd/*.sh, on top of scripts/lib.sh. Source it; do not
# execute it.
#
# Env (all optional):
#   EJABBERD_C2S_PORT   client port (default 25232)
#   EJABBERD_STATE_DIR  instance directory (default /tmp/rc-ejabberd-$EJABBERD_C2S_PORT)
#   EJABBERD_DIST_PORT  Erlang distribution port of the node (default: a free one, chosen
#                       at the first start and kept in the state dir)
#
# Each instance is an Erlang node of its own: its name (rc-ejabberd-PORT@localhost),
# cookie, distribution port (no epmd: ERL_DIST_PORT), config, logs and Mnesia spool all
# live in the state dir, so several instances run side by side. ejabberdctl reaches the
# node through the per-instance ejabberdctl.cfg (--ctl-config) that start.sh writes.

# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

EJABBERD_C2S_PORT="${EJABBERD_C2S_PORT:-25232}"
EJABBERD_STATE_DIR="${EJABBERD_STATE_DIR:-/tmp/rc-ejabberd-$EJABBERD_C2S_PORT}"
case "$EJABBERD_STATE_DIR" in /*) ;; *) EJABBERD_STATE_DIR="$PWD/$EJABBERD_STATE_DIR" ;; esac
EJABBERD_CFG="$EJABBERD_STATE_DIR/ejabberd.yml"
EJABBERD_CTL_CFG="$EJABBERD_STATE_DIR/ejabberdctl.cfg"
EJABBERD_PIDFILE="$EJABBERD_STATE_DIR/ejabberd.pid"
EJABBERD_RUNAS_FILE="$EJABBERD_STATE_DIR/run-as"
EJABBERD_NODE_FILE="$EJABBERD_STATE_DIR/node"
EJABBERDCTL_SYSTEM=/usr/sbin/ejabberdctl

ejabberd_log() { printf '[ejabberd-fixture] %s\n' "$*" >&2; }
ejabberd_die() { ejabberd_log "ERROR: $*"; exit 1; }

# Which user the instance runs as:
#   "ejabberd" - we are root: drop to the Debian 'ejabberd' system user (setpriv)
#   "self"     - anyone else: run as ourselves, through a copy of ejabberdctl that does
#                not insist on root or 'ejabberd'
ejabberd_run_as() {
  if [ -s "$EJABBERD_RUNAS_FILE" ]; then cat "$EJABBERD_RUNAS_FILE"; return; fi
  if [ "$(id -u)" -eq 0 ] && id ejabberd >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
    echo ejabberd
  else
    echo self
  fi
}

# ejabberdctl ARGS... for this instance (its node, cookie, config, logs and spool), as the
# instance's user, with HOME in the state dir (no ~/.erlang.cookie of anyone else).
ejabberd_ctl() {
  local S="$EJABBERD_STATE_DIR"
  local args=(--config-dir "$S" --config "$EJABBERD_CFG" --ctl-config "$EJABBERD_CTL_CFG"
    --logs "$S/logs" --spool "$S/spool" --node "$(cat "$EJABBERD_NODE_FILE")")
  case "$(ejabberd_run_as)" in
    ejabberd)
      setpriv --reuid=ejabberd --regid=ejabberd --init-groups -- \
        env HOME="$S" "$EJABBERDCTL_SYSTEM" "${args[@]}" "$@" ;;
    *)
      HOME="$S" bash "$S/ejabberdctl" "${args[@]}" "$@" ;;
  esac
}

# Print the pid of the running node of this state dir (beam.smp, from the pidfile ejabberd
# writes), or nothing. Guards against pid reuse: its command line must name our spool.
ejabberd_running_pid() {
  rc_pidfile_pid "$EJABBERD_PIDFILE" "$EJABBERD_STATE_DIR/spool"
}

# True once the server answers an XMPP stream header on 127.0.0.1:$1 with
# <stream:features> for domain $2 (default localhost).
ejabberd_xmpp_ready() {
  rc_xmpp_ready "$@"
}
