#!/usr/bin/env bash
# The pipeline benchmark: edits a second this machine's MediaWiki makes, and the latency
# from an edit to a consumer's callback (p50, p99) through the whole pipeline
#   MediaWiki --$wgRCFeeds JSON/UDP--> rc-xmpp Bridge --> Prosody MUC --> consumer
# split into wiki, bridge, server and client time. The consumer is the Python rcclient
# module (rc-python/python, built by maturin) when it imports, else the Rust rc-xmpp
# client (say which with --consumer python|rust).
#
#   scripts/bench/pipeline.sh [--consumer auto|python|rust] [--edits N] [--paced N] [--rate R]
#
# Starts its own MediaWiki and Prosody on free loopback ports (installing them if
# missing) and stops them. Built in release mode; the driver is tests/pipeline_bench.rs.
set -euo pipefail
cd "$(dirname "$0")/../.."

while [ $# -gt 0 ]; do
  case "$1" in
    --consumer) export BENCH_CONSUMER="$2"; shift 2 ;;
    --edits) export BENCH_EDITS="$2"; shift 2 ;;
    --paced) export BENCH_PACED="$2"; shift 2 ;;
    --rate) export BENCH_RATE="$2"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) echo "pipeline.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

scripts/mediawiki/install.sh
command -v prosody >/dev/null 2>&1 || scripts/prosody/install.sh >&2
cargo test --release --quiet --test pipeline_bench -- --ignored --nocapture --test-threads=1 \
  pipeline_latency_and_edit_rate 2>&1 | grep -v '^running [0-9]* test\|^test \|^test result\|^\.$' || true
