#!/usr/bin/env bash
# The whole test suite: installs what is missing, then
#   1. g++ release build: unit, stress, model (Relacy) and benchmark smoke suites, then
#      the packaging checks (tests/packaging/run.sh: install, pkg-config and Meson
#      subproject consumers, the pre-C++20 error);
#   2. clang ThreadSanitizer build of everything (so clang -Werror sees all code): stress
#      and unit suites (zero reports allowed);
#   3. g++ AddressSanitizer + UndefinedBehaviorSanitizer build: unit, stress, bench-smoke.
# WEFT_STRESS_SCALE (default 1) sizes the stress suite; the sanitizer builds run it at
# 0.3 times that. Ends with the line "N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

scripts/install-deps.sh

scale=${WEFT_STRESS_SCALE:-1}
san_scale=$(python3 -c "print(max(0.01, round(float('$scale') * 0.3, 3)))")
export TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1 print_stacktrace=1 ${UBSAN_OPTIONS:-}"
export ASAN_OPTIONS="detect_leaks=1 ${ASAN_OPTIONS:-}"

passed=0
failed=0
# Runs `meson test` with the given arguments and adds its counts to the totals.
run_suite() {
  local log rc=0
  log=$(mktemp)
  meson test --print-errorlogs "$@" 2>&1 | tee "$log" || rc=$?
  local ok fail expfail timeout unexp
  ok=$(awk '/^Ok:/{print $2}' "$log"); fail=$(awk '/^Fail:/{print $2}' "$log")
  expfail=$(awk '/^Expected Fail:/{print $3}' "$log"); timeout=$(awk '/^Timeout:/{print $2}' "$log")
  unexp=$(awk '/^Unexpected Pass:/{print $3}' "$log")
  passed=$((passed + ${ok:-0} + ${expfail:-0}))
  failed=$((failed + ${fail:-0} + ${timeout:-0} + ${unexp:-0}))
  if [ "$rc" -ne 0 ] && [ "${fail:-0}${timeout:-0}" = "00" ]; then failed=$((failed + 1)); fi
  rm -f "$log"
}

start=$(date +%s)
weft_banner "g++ release build"
weft_setup build -Dstress_scale="$scale"
ninja -C build -j "$(weft_jobs)"
run_suite -C build --suite unit --suite model --suite bench-smoke
run_suite -C build --suite stress --num-processes 1

weft_banner "packaging: installed headers, pkg-config and Meson subproject consumers, pre-C++20 error"
# tests/packaging/run.sh prints one "packaging: <check>: OK|FAIL" line per check; each
# adds 1 to passed or failed. A driver that fails before its checks counts once.
packaging_log=$(mktemp)
packaging_rc=0
tests/packaging/run.sh build >"$packaging_log" 2>&1 || packaging_rc=$?
cat "$packaging_log"
packaging_ok=$(grep -c '^packaging: .*: OK$' "$packaging_log" || true)
packaging_fail=$(grep -c '^packaging: .*: FAIL$' "$packaging_log" || true)
passed=$((passed + packaging_ok))
failed=$((failed + packaging_fail))
if [ "$packaging_rc" -ne 0 ] && [ "$packaging_fail" -eq 0 ]; then failed=$((failed + 1)); fi
rm -f "$packaging_log"

weft_banner "clang ThreadSanitizer build (stress scale $san_scale)"
CC=clang CXX=clang++ weft_setup build-tsan -Db_sanitize=thread -Dbuildtype=debugoptimized \
  -Drelacy_models=disabled -Dstress_scale="$san_scale"
ninja -C build-tsan -j "$(weft_jobs)"
run_suite -C build-tsan --suite unit --suite stress --num-processes 1

weft_banner "g++ AddressSanitizer + UndefinedBehaviorSanitizer build (stress scale $san_scale)"
weft_setup build-asan -Db_sanitize=address,undefined -Db_lundef=false -Dbuildtype=debugoptimized \
  -Drelacy_models=disabled -Dstress_scale="$san_scale"
ninja -C build-asan -j "$(weft_jobs)"
run_suite -C build-asan --suite unit --suite bench-smoke
run_suite -C build-asan --suite stress --num-processes 1

echo
echo "weft: test suite finished in $(( $(date +%s) - start )) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
