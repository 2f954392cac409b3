#!/usr/bin/env bash
# weft's main job on a fresh machine: install what is missing, build (release), run the
# examples, then the headline benchmarks against std::async, oneTBB, OpenMP and a
# mutex+condvar pool, printed as tables of ratios.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

scripts/install-deps.sh
weft_banner "building (release)"
weft_setup build
ninja -C build -j "$(weft_jobs)"

weft_banner "examples/hello"
build/examples/hello
weft_banner "examples/fib (fib(30) with task_group)"
build/examples/fib 30
weft_banner "examples/tutorial_submit (the Python tutorial's first example, on thread_pool_executor)"
build/examples/tutorial_submit

weft_banner "benchmarks: weft against its peers (ratios < 1: weft is faster)"
WEFT_BENCH_PROGRAMS=${WEFT_BENCH_PROGRAMS:-"fib_bench submit_bench roundtrip_bench idle_bench future_bench pool_bench graph_bench algorithms_bench"} \
  scripts/run_benchmarks.sh "build/bench-results/$(date +%Y-%m-%d)"
