#!/usr/bin/env bash
# Runs the benchmark programs side by side with their peers and prints the ratio tables.
#   scripts/run_benchmarks.sh [OUT_DIR] [-- extra benchmark flags]
# Programs: $WEFT_BENCH_PROGRAMS (default: fib_bench submit_bench roundtrip_bench idle_bench future_bench
# pool_bench graph_bench algorithms_bench), from $WEFT_BENCH_BUILD_DIR/bench/ (default build/bench/).
# Worker counts: $WEFT_BENCH_WORKERS (default 1, 2 and all cores). JSON goes to OUT_DIR
# (default build/bench-results/<date>); copy it under docs/benchmarks/ to keep it.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build/bench-results/$(date +%Y-%m-%d)}
[ $# -gt 0 ] && shift
[ "${1:-}" = "--" ] && shift
programs=${WEFT_BENCH_PROGRAMS:-"fib_bench submit_bench roundtrip_bench idle_bench future_bench pool_bench graph_bench algorithms_bench"}
build_dir=${WEFT_BENCH_BUILD_DIR:-build}
mkdir -p "$out"
{
  echo "date: $(date -u +%Y-%m-%dT%H:%MZ)"
  echo "host: $(hostname)"
  echo "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
  echo "compiler: $(c++ --version | head -1)"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
} > "$out/machine.txt"
for p in $programs; do
  printf 'weft: running %s ...\n' "$p" >&2
  start=$(date +%s)
  "$build_dir"/bench/"$p" --benchmark_out="$out/$p.json" --benchmark_out_format=json "$@" >/dev/null
  printf 'weft: %s done in %d s\n' "$p" $(( $(date +%s) - start )) >&2
done
echo
cat "$out/machine.txt"
python3 scripts/bench_table.py "$out"/*.json
echo
echo "JSON kept in $out"
