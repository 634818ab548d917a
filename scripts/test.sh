#!/usr/bin/env bash
# Runs every test: lints, the Rust test suites (unit, doc, property), and the cross-form
# agreement test on changes freshly recorded from a real MediaWiki 1.39 started on
# 127.0.0.1 by scripts/mediawiki/ (installed if missing).
#
#   scripts/test.sh            # everything
#   RC_SKIP_MEDIAWIKI=1 scripts/test.sh   # only what needs no PHP (committed fixtures)
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== MSRV: the declared rust-version against the locked dependencies"
scripts/check-msrv.sh
echo "== cargo package: the publishable crates as crates.io would get them"
scripts/check-package.sh
scripts/check-package-stale.sh
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo test (committed fixtures)"
cargo test --workspace --all-features
echo "== features: what --no-default-features pulls, and each feature alone"
scripts/check-features.sh

if [ "${RC_SKIP_MEDIAWIKI:-0}" != 1 ]; then
  echo "== fresh fixtures from a real MediaWiki 1.39"
  fresh=$(mktemp -d /tmp/rc-fixtures.XXXXXX)
  FIXTURES_DIR="$fresh" python3 scripts/mediawiki/gen-fixtures.py
  RC_FIXTURES_DIR="$fresh" cargo test --workspace --all-features --test fixtures
fi

if [ "${RC_SKIP_PYTHON:-0}" != 1 ]; then
  # The rcclient Python module (rc-python/, distribution `recentchanges`): one sdist and
  # one wheel built from it, shared by every Python test, against a real Prosody the tests
  # start themselves.
  echo "== rc-python: build the sdist, and the wheel from it (maturin build --sdist)"
  venv="${RC_PY_VENV:-$PWD/target/rc-python-venv}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # The venv's own maturin (first on PATH), so the build never depends on a maturin
  # installed elsewhere on the machine.
  export PATH="$venv/bin:$PATH"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check maturin pytest pandas pyarrow polars tqdm mypy
  dist=$(mktemp -d /tmp/rc-dist.XXXXXX)
  # --sdist builds the sdist, unpacks it and builds the wheel from the unpacked tree: a
  # wheel proves the sdist complete. --target-dir keeps the dependencies' release builds
  # in the shared target/ rather than in a fresh temporary directory each run.
  (cd rc-python && maturin build --quiet --release --sdist --target-dir "$PWD/../target" \
    --interpreter "$venv/bin/python" --out "$dist")
  wheel=$(ls "$dist"/recentchanges-*.whl)
  sdist=$(ls "$dist"/recentchanges-*.tar.gz)
  echo "   $(basename "$wheel"), $(basename "$sdist")"

  echo "== rc-python: the sdist holds the build's sources and PEP 639 metadata"
  listing=$(tar tzf "$sdist")
  for f in PKG-INFO pyproject.toml Cargo.toml Cargo.lock LICENSE-MIT LICENSE-APACHE \
    python/rcclient/__init__.py python/rcclient/_rcclient.pyi python/rcclient/py.typed \
    rc-python/Cargo.toml rc-python/src/lib.rs rc-python/src/change.rs src/lib.rs \
    rc-core/Cargo.toml rc-core/src/lib.rs rc-xmpp/Cargo.toml rc-xmpp/src/lib.rs \
    rc-http/Cargo.toml rc-http/src/lib.rs; do
    if ! grep -qx "recentchanges-[^/]*/$f" <<<"$listing"; then
      echo "the sdist $sdist lacks $f" >&2
      exit 1
    fi
  done
  pkg_info=$(tar xzf "$sdist" --wildcards -O 'recentchanges-*/PKG-INFO')
  for line in "Name: recentchanges" "License-Expression: MIT OR Apache-2.0" \
    "License-File: LICENSE-MIT" "License-File: LICENSE-APACHE" "Classifier: Typing :: Typed"; do
    if ! grep -qxF "$line" <<<"$pkg_info"; then
      echo "the sdist's PKG-INFO lacks \"$line\"" >&2
      exit 1
    fi
  done

  echo "== rc-python: the wheel in a fresh venv, without Rust on PATH"
  fresh=$(mktemp -d /tmp/rc-fresh-venv.XXXXXX)
  env -i HOME="$fresh" PATH=/usr/bin:/bin python3 -m venv "$fresh/venv"
  # Only the new venv's bin on PATH: no cargo, no rustc, no maturin. --no-index: the wheel
  # needs nothing else, and pip installs a wheel without building anything.
  if env -i PATH="$fresh/venv/bin" /bin/sh -c 'command -v cargo || command -v rustc' >/dev/null; then
    echo "cargo or rustc found on the fresh venv's PATH" >&2
    exit 1
  fi
  env -i HOME="$fresh" PATH="$fresh/venv/bin" "$fresh/venv/bin/python" -m pip install -q \
    --no-index --disable-pip-version-check "$wheel"
  fixture="$PWD/rc-core/tests/fixtures/mediawiki-1.39/0004.rc.xml"
  (cd "$fresh" && env -i HOME="$fresh" PATH="$fresh/venv/bin" "$fresh/venv/bin/python" -c '
import importlib.metadata, sys
import rcclient
assert rcclient.__file__.startswith(sys.prefix), rcclient.__file__
rc = rcclient.parse(open(sys.argv[1], "rb").read())
assert (rc.title, rc.rcid) == ("User:Botty", 4), rc
version = importlib.metadata.version("recentchanges")
assert version == rcclient.__version__, (version, rcclient.__version__)
print("   recentchanges", version, "imported as rcclient, parsed rcid", rc.rcid, rc.title)
' "$fixture")
  rm -rf "$fresh"

  echo "== rc-python: install the wheel into the test venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  echo "== rc-python: stubtest (the .pyi against the built module)"
  # From the build's temporary directory (outside the source tree, so the installed
  # package is checked; mypy's .mypy_cache lands there too).
  allowlist="$PWD/rc-python/stubtest-allowlist.txt"
  (cd "$dist" && "$venv/bin/python" -m mypy.stubtest rcclient --allowlist "$allowlist")
  cargo build -q -p rc-python --bin rc-json
  # The EventStreams stand-in of rc-testkit (Wikimedia's service needs Kafka).
  cargo build -q -p rc-testkit --features eventstreams --bin eventstreams-standin
  echo "== rc-python: pytest"
  (cd rc-python && RCCLIENT_WHEEL="$wheel" RC_JSON_BIN="$PWD/../target/debug/rc-json" \
    RC_ES_STANDIN_BIN="$PWD/../target/debug/eventstreams-standin" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
fi
