#!/usr/bin/env bash
# Did a commit give speed back? Builds the weft library of two commits side by side, links
# the SAME benchmark sources against each, runs them alternately and compares medians.
#
#   scripts/compare_commits.sh OLD NEW [ROUNDS]        e.g. HEAD~1 HEAD 5
#
# * Each commit is exported with `git archive` into a temporary directory (no worktree is
#   registered in the repository, so nothing is left behind) and its library alone is
#   built: meson release, static, -Dwerror=false (a warning a newer compiler finds in an
#   old commit must not stop it), tests, examples and benchmarks off where the commit has
#   those options (`=false` where they are booleans, `=disabled` where they are features).
# * The benchmark programs (fib_bench, uts_bench and future_bench unless
#   WEFT_COMPARE_PROGRAMS names others) are compiled from the working tree's bench/
#   (copied once at the start) against each commit's headers and library, with the same
#   compiler and flags. The public API is the same across commits, so only the library
#   varies. If a program does not compile against a commit, that commit's own copy is
#   used and RESULTS.md says so; if neither compiles, the program is left out for both.
# * Rounds run old, new, old, new, ... (each program in turn), ROUNDS times (default 5);
#   each run is one process with 3 repetitions after a 0.2 s warm-up:
#     fib(30)        fib/weft                                   workers 1, 2
#     UTS tree       uts/weft                                   workers 1, 2
#     futures tree   future_tree/weft_async_get, weft_when_all  workers 1, 2
#   and, when WEFT_COMPARE_PROGRAMS names them:
#     submit_bench   submit/weft, submit_4p/weft                workers 1, 2
#     pool_bench     pool_{roundtrip,submit,map}/weft_{pool,async}  workers 1, 2
# * Prints, and writes to RESULTS.md, the median real time per benchmark for each commit
#   (over all repetitions of all rounds), the ratio new/old, the range of the per-round
#   ratios (the noise), and flags ratios above the threshold. Every run's JSON is kept
#   in raw/.
#
# Output: docs/benchmarks/<YYYY-MM-DD>-compare-<old7>-<new7>/ (a -2, -3, ... suffix if it
# exists), or $WEFT_COMPARE_OUT.
# Environment: WEFT_COMPARE_PROGRAMS, the programs to run, separated by spaces (default
# "fib_bench uts_bench future_bench"; also submit_bench, pool_bench);
# WEFT_COMPARE_THRESHOLD (1.05); WEFT_COMPARE_BENCH_FLAGS, the Google
# Benchmark flags of every run (default "--benchmark_repetitions=3
# --benchmark_min_warmup_time=0.2"); CXX (c++); WEFT_COMPARE_JOBS (nproc) for the builds.
# Exit status: 0 no ratio above the threshold, 3 some ratio above it, 1 a build or a run
# failed (a wrong answer is a failure), 2 bad arguments.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

usage() { echo "usage: scripts/compare_commits.sh OLD NEW [ROUNDS]   (e.g. HEAD~1 HEAD 5)" >&2; exit 2; }
if [ $# -lt 2 ] || [ $# -gt 3 ]; then usage; fi
rounds=${3:-5}
[[ $rounds =~ ^[1-9][0-9]*$ ]] || { echo "compare: ROUNDS wants a positive integer" >&2; exit 2; }
threshold=${WEFT_COMPARE_THRESHOLD:-1.05}
bench_flags=${WEFT_COMPARE_BENCH_FLAGS-"--benchmark_repetitions=3 --benchmark_min_warmup_time=0.2"}
jobs=${WEFT_COMPARE_JOBS:-$(weft_jobs)}
cxx=${CXX:-c++}

resolve() {
  git rev-parse --verify --quiet "$1^{commit}" || { echo "compare: no commit '$1'" >&2; exit 2; }
}
old=$(resolve "$1")
new=$(resolve "$2")

# name | arguments (besides --benchmark_out*) that pick the workloads to compare
declare -A program_args=(
  [fib_bench]="--n=30 --workers=1,2 --benchmark_filter=^fib/weft/"
  [uts_bench]="--workers=1,2 --benchmark_filter=^uts/weft/"
  [future_bench]="--workers=1,2 --benchmark_filter=^future_tree/weft_(async_get|when_all)/"
  [submit_bench]="--workers=1,2 --benchmark_filter=^submit(_[0-9]+p)?/weft/"
  [pool_bench]="--workers=1,2 --benchmark_filter=^pool_(roundtrip|submit|map)/weft_(pool|async)/"
)
read -r -a programs <<<"${WEFT_COMPARE_PROGRAMS:-fib_bench uts_bench future_bench}"
for p in "${programs[@]}"; do
  [ -n "${program_args[$p]+set}" ] || {
    echo "compare: WEFT_COMPARE_PROGRAMS: no program '$p' (known: ${!program_args[*]})" >&2
    exit 2
  }
done

out=${WEFT_COMPARE_OUT:-docs/benchmarks/$(date +%Y-%m-%d)-compare-${old:0:7}-${new:0:7}}
if [ -z "${WEFT_COMPARE_OUT:-}" ] && [ -e "$out" ]; then
  i=2
  while [ -e "$out-$i" ]; do i=$((i + 1)); done
  out=$out-$i
fi
mkdir -p "$out/raw"

work=$(mktemp -d /tmp/weft-compare.XXXXXX)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT
trap 'echo "compare: interrupted" >&2; exit 130' INT TERM

start=$(date +%s)
elapsed() { printf '%4ds' $(( $(date +%s) - start )); }
say() { printf '[%s] %s\n' "$(elapsed)" "$*" >&2; }

# The working tree's benchmark sources, frozen now: edits made during the run do not
# leak into one side only.
cp -r bench "$work/bench-src"
bench_rev="$(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- bench)" ] \
  || echo ' with uncommitted changes')"

cxxflags=(-std=c++20 -O3 -DNDEBUG -D_FILE_OFFSET_BITS=64 -DBOOST_ALL_NO_LIB -pthread
          -Wall -Wextra -Wpedantic)
notes=()

# build_library SIDE COMMIT: exports COMMIT to $work/SIDE/src and builds its libweft.a.
build_library() {
  local side=$1 commit=$2 src=$work/$1/src build=$work/$1/build
  mkdir -p "$src"
  git archive "$commit" | tar -x -C "$src"
  local opts=(--buildtype=release -Ddefault_library=static -Dwerror=false)
  local o
  # Booleans before the packaging change, features (auto: on at top level) after it.
  for o in tests examples benchmarks; do
    if grep -q "option('$o', *type: *'feature'" "$src/meson_options.txt" 2>/dev/null; then
      opts+=("-D$o=disabled")
    elif grep -q "option('$o'" "$src/meson_options.txt" 2>/dev/null; then
      opts+=("-D$o=false")
    fi
  done
  say "building $side library (${commit:0:7}) ..."
  if ! meson setup "$build" "$src" "${opts[@]}" >"$work/$side/setup.log" 2>&1; then
    cat "$work/$side/setup.log" >&2
    say "meson setup failed for $side (${commit:0:7})"
    exit 1
  fi
  local target
  target=$(ninja -C "$build" -t targets all | sed -n 's/^\([^:]*libweft\.a\): .*/\1/p' | head -1)
  [ -n "$target" ] || { say "no libweft.a target in $side (${commit:0:7})"; exit 1; }
  if ! ninja -C "$build" -j "$jobs" "$target" >"$work/$side/build.log" 2>&1; then
    tail -40 "$work/$side/build.log" >&2
    say "library build failed for $side (${commit:0:7})"
    exit 1
  fi
  printf '%s\n' "$build/$target" >"$work/$side/lib_path"
}

# compile SIDE PROGRAM BENCH_DIR TAG: links BENCH_DIR/PROGRAM.cpp against SIDE's library;
# the compiler's output goes to $work/SIDE/PROGRAM.TAG.log.
compile() {
  local side=$1 p=$2 dir=$3 src=$work/$1/src log=$work/$1/$2.$4.log
  mkdir -p "$work/$side/bin"
  [ -f "$dir/$p.cpp" ] || { echo "no $dir/$p.cpp" >"$log"; return 1; }
  "$cxx" "${cxxflags[@]}" -I"$src/include" -I"$dir" "$dir/$p.cpp" -o "$work/$side/bin/$p" \
    "$(cat "$work/$side/lib_path")" -lbenchmark -pthread >"$log" 2>&1
}

# compile_program SIDE PROGRAM: the working tree's source, else the commit's own.
# Prints the source used: "tree", "own" or "none".
compile_program() {
  local side=$1 p=$2
  if compile "$side" "$p" "$work/bench-src" tree; then
    echo tree
  elif compile "$side" "$p" "$work/$side/src/bench" own; then
    echo own
  else
    echo none
  fi
}

build_library old "$old"
build_library new "$new"

declare -A source_of
active=()
for p in "${programs[@]}"; do
  say "compiling $p against both libraries ..."
  compile_program old "$p" >"$work/old.$p.source" &
  pid_old=$!
  compile_program new "$p" >"$work/new.$p.source" &
  pid_new=$!
  wait "$pid_old" "$pid_new"
  for side in old new; do
    source_of[$side.$p]=$(cat "$work/$side.$p.source")
  done
  if [ "${source_of[old.$p]}" = none ] || [ "${source_of[new.$p]}" = none ]; then
    for side in old new; do
      [ "${source_of[$side.$p]}" = none ] && grep -m 10 -h "error" \
        "$work/$side/$p.tree.log" "$work/$side/$p.own.log" >&2
    done
    notes+=("$p: left out, it compiles against neither the working tree's nor the commit's source on one side (old: ${source_of[old.$p]}, new: ${source_of[new.$p]})")
    say "$p left out (see above)"
    continue
  fi
  for side in old new; do
    if [ "${source_of[$side.$p]}" = own ]; then
      notes+=("$p: the working tree's bench/$p.cpp does not compile against $side; that commit's own copy was used, so the two sides ran different sources")
    fi
  done
  active+=("$p")
done
[ ${#active[@]} -gt 0 ] || { say "nothing to run"; exit 1; }

failed=0
for ((r = 1; r <= rounds; r++)); do
  for p in "${active[@]}"; do
    for side in old new; do
      commit=$old
      [ "$side" = new ] && commit=$new
      json=$out/raw/$p.$side.r$r.json
      t0=$(date +%s)
      # shellcheck disable=SC2086  # the argument strings are word lists
      if "$work/$side/bin/$p" ${program_args[$p]} $bench_flags \
           --benchmark_out="$json" --benchmark_out_format=json >"$work/run.log" 2>&1; then
        say "round $r/$rounds  $p  $side (${commit:0:7})  $(( $(date +%s) - t0 )) s"
      else
        failed=1
        tail -20 "$work/run.log" >&2
        say "round $r/$rounds  $p  $side (${commit:0:7})  FAILED"
      fi
    done
  done
done

{
  echo "# Commit comparison: ${old:0:7} → ${new:0:7}"
  echo
  echo "* old: \`${old:0:7}\` $(git log -1 --format=%s "$old" | cut -c1-100)"
  echo "* new: \`${new:0:7}\` $(git log -1 --format=%s "$new" | cut -c1-100)"
  echo "* finished: $(date -u +%Y-%m-%dT%H:%MZ), host: $(hostname),"\
       "cpu: $(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -1), $(nproc) cores"
  echo "* compiler: $("$cxx" --version | head -1); flags: ${cxxflags[*]}"
  echo "* benchmark sources: the working tree's bench/ at $bench_rev"
  echo "* rounds: $rounds, alternating old/new per program; extra flags: ${bench_flags:-none}"
  for n in "${notes[@]+"${notes[@]}"}"; do echo "* note: $n"; done
} >"$work/header.md"

table_rc=0
python3 - "$out" "$threshold" "$work/header.md" <<'PY' || table_rc=$?
import glob, json, os, statistics, sys

out, threshold, header = sys.argv[1], float(sys.argv[2]), sys.argv[3]
samples = {}  # (program, name) -> side -> round -> [real time of each repetition]
units = {}
errors = set()
load = {}  # side -> [1-minute load average as each run started]
for path in sorted(glob.glob(os.path.join(out, "raw", "*.json"))):
    program, side, rnd, _ = os.path.basename(path).split(".")
    try:
        with open(path) as f:
            data = json.load(f)
        runs = data["benchmarks"]
        load.setdefault(side, []).extend(data.get("context", {}).get("load_avg", [])[:1])
    except (OSError, ValueError, KeyError):
        continue
    for run in runs:
        if run.get("run_type", "iteration") != "iteration":
            continue
        key = (program, run.get("run_name", run["name"]))
        if run.get("error_occurred") or run.get("skipped"):
            errors.add(key)
            continue
        units[key] = run["time_unit"]
        by_round = samples.setdefault(key, {}).setdefault(side, {})
        by_round.setdefault(rnd, []).append(run["real_time"])

def median_of(by_round):
    return statistics.median(x for xs in by_round.values() for x in xs)

lines = ["| benchmark | old | new | new/old | new/old per round, min–max | |",
         "|---|---:|---:|---:|---:|---|"]
slow = broken = False
for key in sorted(set(samples) | errors):
    label = key[1].removesuffix("/real_time")
    sides = samples.get(key, {})
    if key in errors or "old" not in sides or "new" not in sides:
        lines.append(f"| {label} | | | | | ERROR: a run failed or is missing |")
        broken = True
        continue
    unit = units[key]
    old, new = median_of(sides["old"]), median_of(sides["new"])
    ratio = new / old
    per_round = [statistics.median(sides["new"][r]) / statistics.median(sides["old"][r])
                 for r in sides["old"] if r in sides["new"]]
    mark = f"**slower > {threshold:g}x**" if ratio > threshold else ""
    slow = slow or ratio > threshold
    lines.append(f"| {label} | {old:.3g} {unit} | {new:.3g} {unit} | {ratio:.3f} | "
                 f"{min(per_round):.2f}–{max(per_round):.2f} | {mark} |")

with open(header) as f:
    text = f.read()
text += ("\nMedian real time per iteration over every repetition of every round. The "
         "per-round column divides each round's medians: its width is the noise. "
         f"Flagged: new/old > {threshold:g}.\n\n" + "\n".join(lines) + "\n")
if load:
    text += ("\nLoad average (1 min) as the runs started: " + ", ".join(
        f"{side} {min(v):.1f}–{max(v):.1f}" for side, v in sorted(load.items(), reverse=True))
        + ". Other work on the machine during the runs shows up here and in the noise.\n")
with open(os.path.join(out, "RESULTS.md"), "w") as f:
    f.write(text)
print(text)
sys.exit(1 if broken else 3 if slow else 0)
PY

total=$(( $(date +%s) - start ))
printf '\nWhole script (builds, compiles, %d rounds): %d s.\n' "$rounds" "$total" >>"$out/RESULTS.md"
say "done in $total s; results in $out/RESULTS.md"
if [ "$failed" -ne 0 ]; then
  exit 1
fi
exit "$table_rc"
