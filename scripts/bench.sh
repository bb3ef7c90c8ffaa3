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
# Audit logging at 10,000 entries/s against 64 KiB file writes (issue 8:
# at most 5 % slower); scripts/bench-audit.
go build -o bin/tresor-bench-audit ./scripts/bench-audit
audit_args=()
[ -n "${BENCH_DIR:-}" ] && audit_args+=(-dir "$BENCH_DIR")
[ "${BENCH_QUICK:-}" = 1 ] && audit_args+=(-quick)
# One client writing file after file (latency-bound), then eight at once
# (an office's worth of clients, group-committed).
bin/tresor-bench-audit "${audit_args[@]}"
bin/tresor-bench-audit -writers 8 "${audit_args[@]}"
# The file tree at 1,000,000 files (10 × 1,000 plus 10,000 with BENCH_QUICK=1): scripts/bench-tree.
go build -o bin/tresor-bench-tree ./scripts/bench-tree && bin/tresor-bench-tree ${BENCH_DIR:+-dir "$BENCH_DIR"} $([ "${BENCH_QUICK:-}" = 1 ] && echo -quick)
