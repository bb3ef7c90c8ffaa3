#!/usr/bin/env bash
# make bench: storage throughput against dd on the same file system.
# BENCH_DIR chooses the file system (default ./var); BENCH_QUICK=1 for a smoke run.
set -euo pipefail
cd "$(dirname "$0")/.."
go build -o bin/tresor-bench ./scripts/bench
args=()
[ -n "${BENCH_DIR:-}" ] && args+=(-dir "$BENCH_DIR")
[ "${BENCH_QUICK:-}" = 1 ] && args+=(-quick)
bin/tresor-bench "${args[@]}"
# WebDAV against Apache mod_dav (scripts/bench-dav.sh).
bash scripts/bench-dav.sh
