#!/usr/bin/env bash
# Regression test for scripts/check-package.sh: a copy of our crate left unpacked in
# cargo's registry cache by an earlier run must not be built in place of the new package.
#
#   scripts/check-package-stale.sh   # after a scripts/check-package.sh run (warm: ~20 s)
#
# CI checks out to the same path every time, so cargo's overlay registry has the same hash
# and cargo reuses recentchanges-core-<version>/ unpacked by an earlier run; verifying
# recentchanges-xmpp then failed with E0432 on an item added to core since. This poisons
# that unpacked copy (a compile_error!) and runs the check again: it must pass, and the
# poisoned copy must be gone.
set -euo pipefail
cd "$(dirname "$0")/.."

cargo_home="${CARGO_HOME:-$HOME/.cargo}"
version=$(cargo metadata --format-version 1 --no-deps | /usr/bin/python3 -c '
import json, sys
print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "recentchanges-core"))')
shopt -s nullglob
copies=("$cargo_home"/registry/src/-*/"recentchanges-core-$version")
if [ "${#copies[@]}" != 1 ]; then
  echo "check-package-stale: expected one unpacked recentchanges-core-$version after scripts/check-package.sh, found ${#copies[@]}" >&2
  exit 1
fi
lib="${copies[0]}/src/lib.rs"
echo 'compile_error!("a stale unpacked copy of recentchanges-core was built");' >>"$lib"

if ! scripts/check-package.sh >/tmp/check-package-stale.$$.log 2>&1; then
  tail -20 /tmp/check-package-stale.$$.log >&2
  echo "check-package-stale: FAIL scripts/check-package.sh built a stale unpacked copy" >&2
  exit 1
fi
rm -f /tmp/check-package-stale.$$.log
if grep -q 'stale unpacked copy' "$lib" 2>/dev/null; then
  echo "check-package-stale: FAIL the poisoned copy $lib is still there" >&2
  exit 1
fi
echo "check-package-stale: ok (a poisoned unpacked copy was replaced, not built)"
