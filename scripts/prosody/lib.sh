# shellcheck shell=bash
# Shared helpers for scripts/prosody/*.sh, on top of scripts/lib.sh (rc_port_open,
# rc_wait_gone, ...). Source it; do not execute it.
#
# Env (all optional):
#   PROSODY_C2S_PORT   client port (default 25222)
#   PROSODY_STATE_DIR  instance directory (default /tmp/rc-prosody-$PROSODY_C2S_PORT)

# shellcheck source=../lib.sh
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/../lib.sh"

PROSODY_C2S_PORT="${PROSODY_C2S_PORT:-25222}"
PROSODY_STATE_DIR="${PROSODY_STATE_DIR:-/tmp/rc-prosody-$PROSODY_C2S_PORT}"
PROSODY_CFG="$PROSODY_STATE_DIR/prosody.cfg.lua"
PROSODY_PIDFILE="$PROSODY_STATE_DIR/prosody.pid"
PROSODY_RUNAS_FILE="$PROSODY_STATE_DIR/run-as"

prosody_log() { printf '[prosody-fixture] %s\n' "$*" >&2; }
prosody_die() { prosody_log "ERROR: $*"; exit 1; }

# Quote a string as a Lua string literal.
lua_str() {
  local s=${1//\\/\\\\}
  s=${s//\"/\\\"}
  printf '"%s"' "$s"
}

# Which user the instance runs as:
#   "prosody" - we are root: drop to the Debian 'prosody' system user (setpriv)
#   "root"    - we are root but cannot use the prosody user: run_as_root = true
#   "self"    - we are not root: run as ourselves
prosody_run_as() {
  if [ -s "$PROSODY_RUNAS_FILE" ]; then cat "$PROSODY_RUNAS_FILE"; return; fi
  if [ "$(id -u)" -ne 0 ]; then echo self; return; fi
  if id prosody >/dev/null 2>&1 && command -v setpriv >/dev/null 2>&1; then
    echo prosody
  else
    echo root
  fi
}

# Run a command as the instance's user (stdin/out/err passed through).
prosody_as_user() {
  case "$(prosody_run_as)" in
    prosody) setpriv --reuid=prosody --regid=prosody --init-groups -- "$@" ;;
    *) "$@" ;;
  esac
}

# Print the pid of the running instance of this state dir, or nothing.
# Guards against pid reuse: the process must be a prosody started with our config.
prosody_running_pid() {
  rc_pidfile_pid "$PROSODY_PIDFILE" "$PROSODY_CFG"
}

# True once the server answers an XMPP stream header on 127.0.0.1:$1 with
# <stream:features> for domain $2 (default localhost), i.e. the event loop runs
# and the host is active (a bare TCP accept can precede that).
prosody_xmpp_ready() {
  rc_xmpp_ready "$@"
}
