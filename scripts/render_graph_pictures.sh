#!/usr/bin/env bash
# Draws the pictures of docs/api/graphs.md into docs/images/graphs/: builds the programs
# that print a task graph's DOT (examples/build_graph and the page's own examples,
# doc_examples_graphs) in the build directory given, runs them, and renders what they
# print with Graphviz's dot. Graphviz is needed by this script alone
# (apt-get install graphviz); building and testing weft never use it.
#   scripts/render_graph_pictures.sh [build-dir]      (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

build=${1:-build}
out=docs/images/graphs
if ! command -v dot >/dev/null; then
  echo "render_graph_pictures.sh: Graphviz's dot is missing (apt-get install graphviz)" >&2
  exit 1
fi
[ -f "$build/build.ninja" ] || weft_setup "$build"
ninja -C "$build" -j "${WEFT_JOBS:-$(weft_jobs)}" examples/build_graph examples/doc_examples_graphs
mkdir -p "$out"

# The DOT of one program's output: from its "digraph" line to the "}" that closes it
# (each program prints one graph). Node ids are addresses; they are renumbered in order
# of appearance so that a picture changes only when the graph does.
dot_of() {
  sed -n '/^digraph/,/^}/p' | awk '{
    while (match($0, /n0x[0-9a-f]+/)) {
      id = substr($0, RSTART, RLENGTH)
      if (!(id in seen)) seen[id] = "n" (++count)
      $0 = substr($0, 1, RSTART - 1) seen[id] substr($0, RSTART + RLENGTH)
    }
    print
  }'
}

render() {  # render NAME COMMAND...: runs COMMAND, draws its graph into $out/NAME.svg
  local name=$1 text; shift
  if ! text=$("$@" | dot_of) || [ -z "$text" ]; then
    echo "render_graph_pictures.sh: '$*' failed or printed no digraph; $out/$name.svg is unchanged" >&2
    exit 1
  fi
  printf '%s\n' "$text" | dot -Tsvg -o "$out/$name.svg"
  echo "$out/$name.svg: $*"
}

render dump_dot "$build/examples/doc_examples_graphs"
render build_graph "$build/examples/build_graph" 8
