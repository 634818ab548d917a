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
echo "== cargo clippy"
cargo clippy --workspace --all-targets --all-features -- -D warnings
echo "== cargo test (committed fixtures)"
cargo test --workspace --all-features

if [ "${RC_SKIP_MEDIAWIKI:-0}" != 1 ]; then
  echo "== fresh fixtures from a real MediaWiki 1.39"
  fresh=$(mktemp -d /tmp/rc-fixtures.XXXXXX)
  FIXTURES_DIR="$fresh" python3 scripts/mediawiki/gen-fixtures.py
  RC_FIXTURES_DIR="$fresh" cargo test --workspace --all-features --test fixtures
fi

if [ "${RC_SKIP_PYTHON:-0}" != 1 ]; then
  # The rcclient Python module (rc-python/): one wheel build, shared by every Python test,
  # against a real Prosody the tests start themselves.
  echo "== rc-python: build the rcclient wheel once (pip's PEP 517 build of ./rc-python)"
  venv="${RC_PY_VENV:-$PWD/target/rc-python-venv}"
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  # maturin's PEP 517 backend runs the `maturin` program it finds on PATH: the venv's own,
  # so the build never depends on a maturin installed elsewhere on the machine.
  export PATH="$venv/bin:$PATH"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check maturin pytest pandas
  wheels=$(mktemp -d /tmp/rc-wheels.XXXXXX)
  "$venv/bin/python" -m pip wheel -q --disable-pip-version-check --no-build-isolation --no-deps \
    -w "$wheels" ./rc-python
  wheel=$(ls "$wheels"/rcclient-*.whl)
  "$venv/bin/python" -m pip install -q --disable-pip-version-check --force-reinstall --no-deps "$wheel"
  cargo build -q -p rc-python --bin rc-json
  echo "== rc-python: pytest"
  (cd rc-python && RCCLIENT_WHEEL="$wheel" RC_JSON_BIN="$PWD/../target/debug/rc-json" \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests)
fi
