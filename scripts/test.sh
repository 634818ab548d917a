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
