#!/usr/bin/env bash
# Packaging checks: weft as a consumer gets it, installed or as a Meson subproject.
#
#   tests/packaging/run.sh [BUILD_DIR]
#
#   installed headers    `meson install` of BUILD_DIR into a temporary destdir installs
#                        every header under include/weft/, and weft.pc names no Boost
#   pkg-config consumer  tests/packaging/consumer.cpp, compiled with -std=c++20 -Wall
#                        -Wextra -Wpedantic -Werror and nothing else but
#                        `pkg-config --cflags --libs weft` against that destdir, runs right
#   subproject consumer  tests/packaging/subproject_consumer, in a temporary directory
#                        whose subprojects/weft is a copy of this tree's files (tracked
#                        and untracked, not ignored: no build directories), configures
#                        without network, has no weft test, benchmark or example target,
#                        builds and runs right
#   pre-C++20 error      a -std=c++17 compile of <weft/weft.hpp> (each compiler found of
#                        c++, clang++) fails with config.hpp's #error as its only error
#
# BUILD_DIR: a configured build of this tree (scripts/test.sh passes its release build);
# `meson install` builds what is stale. Without it, a library-only build is made in the
# temporary directory. Prints "packaging: <check>: OK" or "packaging: <check>: FAIL"
# (with the failing step's log) per check, and exits 1 when one failed.
# WEFT_PACKAGING_KEEP=1 keeps the temporary directory and its logs.
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

work=$(mktemp -d /tmp/weft-packaging.XXXXXX)
if [ -n "${WEFT_PACKAGING_KEEP:-}" ]; then
  echo "packaging: keeping $work (each check's log is <check>.log there)"
else
  trap 'rm -rf "$work"' EXIT
fi
failures=0

# check NAME FUNCTION: runs FUNCTION with its output in a log; prints the verdict.
check() {
  local name=$1 fn=$2 log=$work/$2.log
  if "$fn" >"$log" 2>&1; then
    echo "packaging: $name: OK"
  else
    echo "packaging: $name: FAIL"
    tail -n 40 "$log" | sed 's/^/    /'
    failures=$((failures + 1))
  fi
}

build=${1:-}
if [ -z "$build" ]; then
  build=$work/build
  echo "packaging: configuring a library-only build in $build"
  meson setup "$build" -Dtests=disabled -Dbenchmarks=disabled -Dexamples=disabled \
    >"$work/setup.log" 2>&1 || { cat "$work/setup.log"; exit 1; }
fi
destdir=$work/destdir

installed_headers() {
  meson install -C "$build" --destdir "$destdir" --quiet || return 1
  local inc
  inc=$(find "$destdir" -path '*/include/weft/weft.hpp' -printf '%h\n' | head -1)
  [ -n "$inc" ] || { echo "no include/weft/weft.hpp under $destdir"; return 1; }
  # Every header of the tree is installed (a header the list forgets breaks consumers).
  local missing
  missing=$(comm -23 <(cd include/weft && find . -name '*.hpp' | sort) \
                     <(cd "$inc" && find . -name '*.hpp' | sort))
  [ -z "$missing" ] || { echo "not installed (include/weft/meson.build):"; echo "$missing"; return 1; }
  local pc
  pc=$(find "$destdir" -name weft.pc | head -1)
  [ -n "$pc" ] || { echo "no weft.pc under $destdir"; return 1; }
  cat "$pc"
  if grep -qi boost "$pc"; then echo "weft.pc mentions Boost"; return 1; fi
}

pkg_config_consumer() {
  local pc_dir flags
  pc_dir=$(dirname "$(find "$destdir" -name weft.pc | head -1)")
  flags=$(PKG_CONFIG_SYSROOT_DIR=$destdir PKG_CONFIG_PATH=$pc_dir pkg-config --cflags --libs weft) \
    || return 1
  echo "pkg-config --cflags --libs weft: $flags"
  # shellcheck disable=SC2086  # the flags are a word list
  c++ -std=c++20 -Wall -Wextra -Wpedantic -Werror tests/packaging/consumer.cpp \
    -o "$work/consumer" $flags || return 1
  "$work/consumer"
}

subproject_consumer() {
  local project=$work/subproject_consumer sub=$work/subproject_consumer/subprojects/weft
  cp -r tests/packaging/subproject_consumer "$project"
  mkdir -p "$sub"
  # This tree's files as a consumer would vendor them: tracked and untracked ones that
  # git does not ignore (so no build directory), as they are in the working tree.
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\0' "$f"; done \
    | tar --null -T - -cf - | tar -xf - -C "$sub" || return 1
  meson setup "$work/sub-build" "$project" --wrap-mode=nodownload --force-fallback-for=weft \
    || return 1
  # weft as a subproject configures its library and nothing of tests/, bench/, examples/.
  meson introspect --targets --tests "$work/sub-build" | python3 -c '
import json, sys
info = json.load(sys.stdin)
weft = [t for t in info["targets"] if t.get("subproject") == "weft"]
extra = [t["name"] for t in weft
         if any("/subprojects/weft/" + d + "/" in t["defined_in"]
                for d in ("tests", "bench", "examples"))]
tests = [t["name"] for t in info["tests"] if t.get("name") != "consumer"]
print("weft targets:", sorted(t["name"] for t in weft))
if not any(t["name"] == "weft" for t in weft):
    sys.exit("no weft library target in the subproject")
if extra or tests:
    sys.exit(f"weft tests, benchmarks or examples configured: {extra + tests}")
' || return 1
  ninja -C "$work/sub-build" -j "$(nproc 2>/dev/null || echo 2)" || return 1
  "$work/sub-build/consumer"
}

pre_cxx20_error() {
  local cxx out errors ran=0
  for cxx in c++ clang++; do
    command -v "$cxx" >/dev/null || continue
    ran=$((ran + 1))
    if out=$(echo '#include <weft/weft.hpp>' \
               | "$cxx" -std=c++17 -Iinclude -fsyntax-only -x c++ - 2>&1); then
      echo "$cxx -std=c++17 compiled <weft/weft.hpp>"; return 1
    fi
    echo "$out"
    errors=$(grep -c 'error:' <<<"$out")
    if [ "$errors" -ne 1 ] || ! grep -q 'error:.*weft requires C++20 or later' <<<"$out"; then
      echo "$cxx: want config.hpp's #error as the only error, got $errors errors"; return 1
    fi
  done
  [ "$ran" -gt 0 ]
}

check "installed headers" installed_headers
check "pkg-config consumer" pkg_config_consumer
check "subproject consumer" subproject_consumer
check "pre-C++20 error" pre_cxx20_error
[ "$failures" -eq 0 ]
