#!/usr/bin/env bash
# Smoke check of the Prosody test fixture with a real XMPP client (slixmpp):
# fresh instance on a non-default port, accounts created before and during the
# run, login (STARTTLS + plaintext + anonymous), MUC join, groupchat, room MAM;
# then SIGKILL + restart and a graceful stop + restart, each time checking that
# accounts and the room archive survived. Stops the instance at the end.
#
# Env: PROSODY_SMOKE_PORT (default 25322), PROSODY_SMOKE_VENV (default /tmp/rc-prosody-venv)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

export PROSODY_C2S_PORT="${PROSODY_SMOKE_PORT:-25322}"
export PROSODY_STATE_DIR="/tmp/rc-prosody-smoke-$PROSODY_C2S_PORT"
VENV="${PROSODY_SMOKE_VENV:-/tmp/rc-prosody-venv}"

say() { printf '\n== %s\n' "$*" >&2; }

"$HERE/install.sh" >/dev/null 2>&1 || "$HERE/install.sh"

if ! "$VENV/bin/python" -c 'import slixmpp' 2>/dev/null; then
  say "creating venv $VENV with slixmpp"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install -q --disable-pip-version-check slixmpp
fi
PY="$VENV/bin/python"

out1="" out2=""
cleanup() { "$HERE/stop.sh" || true; }
trap cleanup EXIT

client() { "$PY" "$HERE/smoke_client.py" --port "$PROSODY_C2S_PORT" --ca "$PROSODY_CA_CERT" "$@"; }
token_of() { sed -n 's/^TOKEN //p' <<<"$1"; }
# run_client VAR ARGS...: run the client, echo its output, store it in VAR, fail loudly.
run_client() {
  local __var="$1" __out __rc=0; shift
  __out="$(client "$@")" || __rc=$?
  printf '%s\n' "$__out"
  if [ "$__rc" -ne 0 ]; then
    echo "FAIL smoke client exited $__rc; tail of $PROSODY_STATE_DIR/prosody.log:" >&2
    tail -n 20 "$PROSODY_STATE_DIR/prosody.log" >&2 || true
    exit 1
  fi
  [ "$__var" = _ ] || printf -v "$__var" '%s' "$__out"
}

say "fresh state dir; account alice created before the server starts"
"$HERE/stop.sh" 2>/dev/null || true
PROSODY_FRESH=1 "$HERE/start.sh" --prepare
"$HERE/adduser.sh" alice alice-pw

say "start"
eval "$("$HERE/start.sh")"
echo "pid $PROSODY_PID, c2s 127.0.0.1:$PROSODY_C2S_PORT, state $PROSODY_STATE_DIR" >&2

say "account bob created while the server runs"
"$HERE/adduser.sh" bob bob-pw

say "round 1"
run_client out1
t1="$(token_of "$out1")"

say "SIGKILL + restart (accounts and archive must survive)"
old_pid="$PROSODY_PID"
"$HERE/kill.sh"
if kill -0 "$old_pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$old_pid/stat" 2>/dev/null)" != Z ]; then
  echo "FAIL pid $old_pid survived kill.sh" >&2; exit 1
fi
eval "$("$HERE/start.sh")"
[ "$PROSODY_PID" != "$old_pid" ] || { echo "FAIL not restarted" >&2; exit 1; }

say "round 2"
run_client out2 --expect "$t1"
t2="$(token_of "$out2")"

say "graceful stop + restart"
"$HERE/stop.sh"
eval "$("$HERE/start.sh")"

say "round 3"
run_client _ --expect "$t1" --expect "$t2"

say "stop"
"$HERE/stop.sh"
if (exec 3<>"/dev/tcp/127.0.0.1/$PROSODY_C2S_PORT") 2>/dev/null; then
  echo "FAIL port $PROSODY_C2S_PORT still open after stop" >&2; exit 1
fi
if [ -s "$PROSODY_STATE_DIR/prosody.err" ]; then
  echo "FAIL errors logged in $PROSODY_STATE_DIR/prosody.err:" >&2
  cat "$PROSODY_STATE_DIR/prosody.err" >&2
  exit 1
fi
warnings="$(grep -c $'\twarn\t' "$PROSODY_STATE_DIR/prosody.log" || true)"
echo "prosody.log: $warnings warning line(s)" >&2
grep $'\twarn\t' "$PROSODY_STATE_DIR/prosody.log" | sort -u -k3 | head -n 20 >&2 || true
echo "SMOKE OK"
