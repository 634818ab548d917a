#!/usr/bin/env bash
# Create (or reset the password of) an account in the instance of $PROSODY_STATE_DIR.
#   scripts/prosody/adduser.sh USER PASSWORD [HOST]     (HOST defaults to localhost)
# Works while the server runs (it reads accounts from disk on every login) and
# before the first start (the state dir and config are prepared, not started).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
. "$HERE/lib.sh"

[ $# -ge 2 ] && [ $# -le 3 ] || prosody_die "usage: $0 USER PASSWORD [HOST]"
user="$1" password="$2" host="${3:-localhost}"

if [ ! -s "$PROSODY_CFG" ]; then
  "$HERE/start.sh" --prepare
fi
cd "$PROSODY_STATE_DIR"
# prosodyctl would switch to the 'prosody' user by itself when run as root, but be
# explicit so the account files always get the server's owner.
if ! out="$(prosody_as_user prosodyctl --config "$PROSODY_CFG" register "$user" "$host" "$password" 2>&1)"; then
  printf '%s\n' "$out" >&2
  prosody_die "could not register $user@$host"
fi
[ -z "$out" ] || printf '%s\n' "$out" >&2
prosody_log "account $user@$host ready"
