#!/usr/bin/env bash
# The root crate's features, proved: `--no-default-features` (the typed model, parsers and
# filters) pulls none of the transports' heavy crates, each feature pulls only what it
# says, and each feature alone builds clean (clippy -D warnings) and passes its unit and
# doc tests (and the integration tests it alone enables).
#
#   scripts/check-features.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# The crates each build must not compile (normal dependencies: what a user compiles).
xmpp='tokio-xmpp|xmpp-parsers|minidom|sasl'
http='reqwest|hyper|hyper-util|cookie_store'
tls='rustls|tokio-rustls|rustls-platform-verifier|ring'
dns='hickory-resolver|hickory-proto'
server='axum|axum-core'
sse='sse-parse'
declare -A forbidden=(
  [none]="$xmpp|$http|$tls|$dns|$server|$sse|tokio"
  [xmpp]="$http|$server|$sse"
  [http]="$xmpp|$server|$sse"
  [eventstreams]="$xmpp|$server"
  [wikiping]="$xmpp|$sse"
)

for feature in none xmpp http eventstreams wikiping; do
  args=(-p recentchanges --no-default-features --locked)
  [ "$feature" = none ] || args+=(--features "$feature")
  echo "== feature $feature: dependencies"
  tree=$(cargo tree "${args[@]}" -e normal --prefix none --format '{p}' | awk '{print $1}' | sort -u)
  if found=$(grep -Ex "${forbidden[$feature]}" <<<"$tree"); then
    echo "feature $feature pulls what it must not: $(tr '\n' ' ' <<<"$found")" >&2
    exit 1
  fi
  echo "   $(wc -l <<<"$tree") crates, none of: ${forbidden[$feature]}"
  echo "== feature $feature: clippy, unit, doc and integration tests"
  cargo clippy "${args[@]}" --all-targets -q -- -D warnings
  cargo test "${args[@]}" -q --lib --tests
  cargo test "${args[@]}" -q --doc
done
