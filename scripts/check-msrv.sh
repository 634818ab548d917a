#!/usr/bin/env bash
# Checks the declared minimum supported Rust version (MSRV, `rust-version` in the root
# Cargo.toml's [workspace.package]) against the dependencies locked in Cargo.lock.
#
#   scripts/check-msrv.sh          # prints the dependencies needing the newest Rust; fails
#                                  # if a publishable crate declares less than they need
#   MSRV_TOP=20 scripts/check-msrv.sh
#
# Only Cargo.lock and the manifests are read (no build; no other toolchain is installed
# here, so this is a check of the declaration, not a build with the old compiler).
#
# Which packages count: those a *user* of the publishable crates compiles. So
#  - the roots are the workspace members whose `publish` is not false (recentchanges,
#    recentchanges-core, -xmpp, -http; rc-python and rc-testkit are publish = false);
#  - from the roots the graph is walked along normal and build dependency edges only.
#    Dev-dependencies (rc-testkit, proptest, criterion, clap, dxr, ...) are compiled only
#    for this workspace's own tests, benches and examples, never for a dependent, so a dev
#    edge of a workspace member is not followed (crates.io packages' dev-dependencies are
#    not in the resolve at all);
#  - every optional dependency is on (`--all-features`: a user may enable any feature) and
#    every target platform counts (`cargo metadata` resolves for all of them; a dependency
#    used only on Windows still sets the MSRV of the Windows users);
#  - caveat: `cargo metadata`'s resolve unifies each package's features across the whole
#    workspace, dev-dependencies included (e.g. rc-xmpp's tests turn on tokio's `process`),
#    so a package enabled only by a dev-dependency's feature can appear on a normal edge.
#    The walk is therefore intersected with `cargo tree -e normal,build --target all
#    --all-features` over the publishable crates, whose feature resolution leaves the dev
#    units out (resolver 2); what only the metadata walk reaches is listed, not counted.
#
# Users do not get our Cargo.lock: with the MSRV-aware resolver (cargo >= 1.84,
# `incompatible-rust-versions = "fallback"`, the default of resolver 3) an older toolchain
# may pick older releases of a dependency. The declaration here is the version the locked,
# tested graph needs, which is the one we can stand behind.
set -euo pipefail
cd "$(dirname "$0")/.."

meta=$(mktemp /tmp/rc-msrv-meta.XXXXXX)
tree=$(mktemp /tmp/rc-msrv-tree.XXXXXX)
trap 'rm -f "$meta" "$tree"' EXIT

cargo metadata --format-version 1 --locked --all-features >"$meta"

# The publishable members, for `cargo tree -p`.
mapfile -t roots < <(/usr/bin/python3 - "$meta" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
pkgs = {p["id"]: p for p in m["packages"]}
for i in m["workspace_members"]:
    if pkgs[i]["publish"] != []:
        print(pkgs[i]["name"])
EOF
)
if [ "${#roots[@]}" -eq 0 ]; then
  echo "check-msrv: no publishable workspace member found" >&2
  exit 1
fi
tree_args=()
for r in "${roots[@]}"; do tree_args+=(-p "$r"); done
cargo tree --locked --quiet -e normal,build --target all --all-features \
  --prefix none --format '{p}' "${tree_args[@]}" >"$tree"

MSRV_TOP="${MSRV_TOP:-10}" /usr/bin/python3 - "$meta" "$tree" <<'EOF'
import json, os, re, sys

meta = json.load(open(sys.argv[1]))
pkgs = {p["id"]: p for p in meta["packages"]}
members = set(meta["workspace_members"])
nodes = {n["id"]: n for n in meta["resolve"]["nodes"]}
top_n = int(os.environ["MSRV_TOP"])


def ver(s):
    """'1.85' / '1.85.0' -> (1, 85, 0); None -> (0, 0, 0)."""
    if not s:
        return (0, 0, 0)
    parts = [int(x) for x in s.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))


def show(v):
    return ".".join(map(str, v[:2])) if v[2] == 0 else ".".join(map(str, v))


roots = [i for i in meta["workspace_members"] if pkgs[i]["publish"] != []]

# What `cargo tree` (features resolved without the dev units) says a user compiles.
in_tree = set()
for line in open(sys.argv[2]):
    m = re.match(r"(\S+) v(\S+)", line.strip())
    if m:
        in_tree.add((m.group(1), m.group(2)))
if not in_tree:
    sys.exit("check-msrv: `cargo tree` listed no package (its output format changed?)")


def walk(root):
    """Normal + build edges from one publishable crate; one path (parent link) to each package."""
    parent = {root: None}
    todo = [root]
    while todo:
        cur = todo.pop()
        for dep in nodes[cur]["deps"]:
            kinds = {k["kind"] for k in dep["dep_kinds"]}
            # kind None = normal, "build" = build-dependency, "dev" = dev-dependency.
            if not kinds & {None, "build"}:
                continue
            if dep["pkg"] not in parent:
                parent[dep["pkg"]] = cur
                todo.append(dep["pkg"])
    return parent


def path_to(parent, pid):
    chain = []
    while pid is not None:
        chain.append(pkgs[pid]["name"])
        pid = parent[pid]
    return " <- ".join(chain)


def label(v):
    return show(v) if v != (0, 0, 0) else "(none)"


# Per publishable crate: the dependencies it makes a user compile, newest rust-version first.
per_root, union, dev_features_only = {}, {}, set()
for r in roots:
    parent = walk(r)
    counted = []
    for pid in parent:
        p = pkgs[pid]
        if pid in members:
            continue  # our own crates: their rust-version is the declaration being checked
        entry = (ver(p.get("rust_version")), p["name"], p["version"], pid)
        if (p["name"], p["version"]) in in_tree:
            counted.append(entry)
            union.setdefault(pid, (entry, path_to(parent, pid)))
        else:
            dev_features_only.add(entry[:3])
    counted.sort(key=lambda e: (e[0], e[1]), reverse=True)
    per_root[r] = counted

everything = sorted(union.values(), key=lambda e: (e[0][0], e[0][1]), reverse=True)
print(f"check-msrv: {len(everything)} locked dependencies of "
      f"{', '.join(pkgs[r]['name'] for r in roots)} (normal + build, all features, all targets);"
      f" the {top_n} needing the newest Rust:")
for (v, name, version, _), path in everything[:top_n]:
    print(f"  {label(v):>7}  {name} {version}   [{path}]")
if dev_features_only:
    print("  not counted (reached only through features a dev-dependency enables): "
          + ", ".join(f"{n} {v} ({label(rv)})" for rv, n, v in sorted(dev_features_only, reverse=True)))

# Each member's rust_version as cargo resolved it (inherited from [workspace.package]); each
# crate is held to what its own dependencies need, which for the shared workspace value
# means the maximum over all of them.
failed = False
for r in roots:
    p, counted = pkgs[r], per_root[r]
    need, why = (counted[0][0], f"{counted[0][1]} {counted[0][2]}") if counted else ((0, 0, 0), "-")
    declared = p.get("rust_version")
    if declared is None:
        state, bad = "FAIL: none declared", True
    elif ver(declared) < need:
        state, bad = f"FAIL: declares {declared}", True
    else:
        state, bad = f"ok: declares {declared}", False
    failed |= bad
    print(f"check-msrv: {p['name']:<20} needs {label(need):>6} ({why}); {state}")
if failed:
    print("check-msrv: raise rust-version in [workspace.package] of Cargo.toml (in a minor "
          "release: the MSRV is part of the public API), or lock the dependency lower")
    sys.exit(1)
EOF
