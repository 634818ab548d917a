#!/usr/bin/env bash
# Packages every publishable crate as crates.io would receive it, and fails if that fails.
#
#   scripts/check-package.sh                     # package and verify (CI)
#   RC_PACKAGE_VERIFY=0 scripts/check-package.sh # --no-verify: a quick local look
#
# `cargo package --workspace` packages the publishable members (recentchanges,
# recentchanges-core, -xmpp, -http; rc-python and rc-testkit, publish = false, are
# excluded: see below) and, since they depend on each other unpublished, resolves them
# against a local registry overlay of the packages it just made (cargo 1.95 here). That
# catches a path dependency without a version, a dependency or feature the packaged
# manifest no longer resolves, and a missing readme / license file. `--allow-dirty`: the
# check is of the tree as it is (CI checks out a clean tree anyway; nothing is published).
#
# Verification is on: each .crate is unpacked and built (dev profile, default features)
# against the others, which catches what only a build of the packaged files shows (a file
# left out of the package but read by include_str!, #[path] or a build script). Measured on
# the 2-core development machine, cargo 1.95, while other builds ran (load 6-7):
#   cold (empty target dir, 303 crates compiled): 486 s wall, 6.4 min CPU (5m37s user +
#     47s sys), so ~4 min wall on an idle 2-core runner;
#   warm (dependencies already built in the target dir): 16 s;
#   --no-verify: 13 s (packaging and resolving the packaged manifests against the overlay
#     and crates.io's index only).
# With the rest of CI at ~15 min against a 45 min budget, the cold figure fits, so CI
# verifies in full; RC_PACKAGE_VERIFY=0 is for a quick local run.
#
# After packaging, each .crate is opened and must hold Cargo.toml, README.md, LICENSE-MIT
# and LICENSE-APACHE, and no rc-python / rc-testkit package may have been made.
set -euo pipefail
cd "$(dirname "$0")/.."

verify_flag=
[ "${RC_PACKAGE_VERIFY:-1}" = 0 ] && verify_flag=--no-verify
target_dir=$(cargo metadata --format-version 1 --no-deps | /usr/bin/python3 -c \
  'import json, sys; print(json.load(sys.stdin)["target_directory"])')
out="$target_dir/package"
rm -f "$out"/*.crate

# Cargo unpacks each .crate of the overlay into $CARGO_HOME/registry/src/-<hash of the
# overlay's path>/<name>-<version>/ and, finding that directory on a later run (same
# checkout path, same version), builds the old unpacked files instead of the new .crate.
# A CI that checks out to a fixed path would then verify one crate against another's stale
# sources (E0432 on an item added since). Our crates' unpacked copies from earlier runs are
# removed first; a local registry's directory name starts with "-", crates.io's does not.
cargo_home="${CARGO_HOME:-$HOME/.cargo}"
mapfile -t publishable < <(cargo metadata --format-version 1 --no-deps | /usr/bin/python3 -c '
import json, sys
m = json.load(sys.stdin)
for p in m["packages"]:
    if p["publish"] != []:
        print(p["name"] + "-" + p["version"])
')
stale=0
for name in "${publishable[@]}"; do
  for dir in "$cargo_home"/registry/src/-*/"$name"; do
    [ -d "$dir" ] || continue
    rm -rf "$dir"
    stale=$((stale + 1))
  done
done
echo "check-package: removed $stale unpacked copies of our crates left by earlier runs"
# Cargo takes a registry package's build as fresh while its version is unchanged, so a
# warm target dir would also link the verification against our crates as an earlier run
# compiled them: their dev artifacts (path and overlay alike) are cleaned. On CI's fresh
# checkout there are none; locally, our four crates compile again (~30 s).
clean_args=()
for name in "${publishable[@]}"; do clean_args+=(-p "${name%-*}"); done
cargo clean --quiet "${clean_args[@]}"

# `cargo package --workspace` alone would package the publish = false members too (and fail
# on rc-python's versionless path dependency): they are excluded by name, read from
# `cargo metadata` (publish = false shows as "publish": []), so a new private member needs
# no edit here.
mapfile -t private < <(cargo metadata --format-version 1 --no-deps | /usr/bin/python3 -c '
import json, sys
for p in json.load(sys.stdin)["packages"]:
    if p["publish"] == []:
        print(p["name"])
')
exclude=()
for name in "${private[@]}"; do exclude+=(--exclude "$name"); done

start=$(date +%s)
if ! cargo package --workspace "${exclude[@]}" --locked --allow-dirty $verify_flag; then
  echo "check-package: cargo package failed after $(($(date +%s) - start)) s" >&2
  exit 1
fi
echo "check-package: cargo package --workspace ${verify_flag:-(verified)} took $(($(date +%s) - start)) s"

failed=0
for name in "${publishable[@]}"; do
  crate="$out/$name.crate"
  if [ ! -f "$crate" ]; then
    echo "check-package: FAIL no $crate" >&2
    failed=1
    continue
  fi
  files=$(tar -tzf "$crate")
  for f in Cargo.toml README.md LICENSE-MIT LICENSE-APACHE; do
    if ! grep -qx "$name/$f" <<<"$files"; then
      echo "check-package: FAIL $name.crate lacks $f" >&2
      failed=1
    fi
  done
  echo "check-package: $name.crate: $(wc -l <<<"$files") files, $(du -k "$crate" | cut -f1) KiB"
done
for f in "$out"/rc-python-*.crate "$out"/rc-testkit-*.crate; do
  if [ -e "$f" ]; then
    echo "check-package: FAIL $f was packaged (it is publish = false)" >&2
    failed=1
  fi
done
exit "$failed"
