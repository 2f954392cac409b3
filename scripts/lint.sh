#!/usr/bin/env bash
# Formatting and static checks: clang-format (report only, or --fix) and clang-tidy on
# the library sources, using the build directory's compile_commands.json.
set -euo pipefail
cd "$(dirname "$0")/.."
fix=${1:-}
files=$(git ls-files 'include/*.hpp' 'lib/*.cpp')
if [ "$fix" = "--fix" ]; then
  clang-format -i $files
else
  clang-format --dry-run $files 2>&1 | grep -c "warning:" | xargs -I{} echo "clang-format: {} places differ (scripts/lint.sh --fix rewrites them)"
fi
[ -f build/compile_commands.json ] || meson setup build >/dev/null
clang-tidy -p build --quiet $(git ls-files 'lib/*.cpp') 2>/dev/null | grep -E "warning:|error:" || echo "clang-tidy: no findings"
