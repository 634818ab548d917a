#!/usr/bin/env bash
# Create accounts in the running instance of $EJABBERD_STATE_DIR (`ejabberdctl register`;
# an existing account gets the password given):
#   scripts/ejabberd/adduser.sh USER PASSWORD [USER PASSWORD]...   (all on host localhost)
# Several accounts in one call share one ejabberdctl node start-up each, run side by side.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -ge 2 ] && [ $(($# % 2)) -eq 0 ] || ejabberd_die "usage: $0 USER PASSWORD [USER PASSWORD]..."
[ -n "$(ejabberd_running_pid)" ] || ejabberd_die "not running ($EJABBERD_STATE_DIR): start.sh first"

one() {
  local user="$1" password="$2" out
  if out="$(ejabberd_ctl register "$user" localhost "$password" 2>&1)"; then
    return 0
  fi
  case "$out" in
    *"already registered"*)
      ejabberd_ctl change_password "$user" localhost "$password" >/dev/null 2>&1 && return 0 ;;
  esac
  printf '%s\n' "$out" >&2
  ejabberd_log "could not register $user@localhost"
  return 1
}

pids=()
while [ $# -gt 0 ]; do
  one "$1" "$2" &
  pids+=($!)
  shift 2
done
failed=0
for p in "${pids[@]}"; do wait "$p" || failed=1; done
[ "$failed" = 0 ] || exit 1
ejabberd_log "accounts ready"
