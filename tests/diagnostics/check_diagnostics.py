#!/usr/bin/env python3
"""Compiles small wrong programs against weft and checks what the compiler says.

    check_diagnostics.py INCLUDE_DIR COMPILER [ARGS...]

Each case is a program with one mistake a newcomer makes. The compiler must reject it
with exactly one error line, and that line must name the public function the user
called: a static_assert in weft's header, or the [[nodiscard]] warning made an error. Prints one line per case; exits 1 if any case fails.
"""
import os
import re
import subprocess
import sys
import tempfile

PRELUDE = """#include <weft/weft.hpp>
#include <utility>
#include <vector>
int main() {
    weft::executor ex{1};
    weft::thread_pool_executor pool{1};
    weft::future<int> f = weft::make_ready_future(1);
    (void)ex; (void)pool; (void)f;
"""

# (name, body, text the single error line must contain)
CASES = [
    ("async_not_callable", "auto g = weft::async(ex, 42); (void)g;", "weft::async:"),
    ("async_wrong_arguments", "auto g = weft::async(ex, [](int) { return 1; }, \"x\"); (void)g;", "weft::async:"),
    ("async_on_pool_not_callable", "auto g = weft::async(pool, 42); (void)g;", "weft::thread_pool_executor::submit:"),
    ("submit_not_callable", "auto g = pool.submit(42); (void)g;", "weft::thread_pool_executor::submit:"),
    ("then_not_callable", "auto g = f.then(42); (void)g;", "weft::future::then:"),
    ("then_wrong_parameter", "auto g = f.then([](const std::vector<int>&) { return 1; }); (void)g;",
     "weft::future::then:"),
    ("continue_with_wrong_parameter", "auto g = f.continue_with([](int) { return 1; }); (void)g;",
     "weft::future::continue_with:"),
    ("post_not_callable", "ex.post(42);", "weft::executor::post:"),
    ("pool_post_not_callable", "pool.post(42);", "weft::thread_pool_executor::post:"),
    ("done_callback_wrong_parameter", "f.add_done_callback([](int) {});", "weft::future::add_done_callback:"),
    ("async_result_ignored", "weft::async(ex, [] { return 1; });", "nodiscard"),
    ("submit_result_ignored", "pool.submit([] { return 1; });", "nodiscard"),
    ("then_result_ignored", "f.then([](int v) { return v; });", "nodiscard"),
    ("when_all_result_ignored", "weft::when_all(f, f);", "nodiscard"),
    ("when_any_result_ignored", "weft::when_any(f, f);", "nodiscard"),
    ("when_all_values_result_ignored", "weft::when_all_values(f, f);", "nodiscard"),
    ("buffersize_double", "weft::map_options o{.buffersize = 2.0}; (void)o;", "buffersize"),
]


def error_lines(output: str) -> list[str]:
    return [l for l in output.splitlines() if re.search(r"\berror:", l) and "error: ld returned" not in l]


def main() -> int:
    include_dir, compiler = sys.argv[1], sys.argv[2:]
    if "--" in compiler:
        split = compiler.index("--")
        compiler, extra = compiler[:split], compiler[split + 1:]
    else:
        extra = []
    failed = 0
    with tempfile.TemporaryDirectory() as tmp:
        for name, body, expected in CASES:
            src = os.path.join(tmp, name + ".cpp")
            with open(src, "w", encoding="utf-8") as f:
                f.write(PRELUDE + "    " + body + "\n    return 0;\n}\n")
            cmd = compiler + extra + ["-std=c++20", "-Wall", "-Werror=unused-result", "-fsyntax-only",
                                      "-I", include_dir, src]
            run = subprocess.run(cmd, capture_output=True, text=True, check=False)
            errors = error_lines(run.stderr)
            ok = run.returncode != 0 and len(errors) == 1 and expected in errors[0]
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {len(errors)} error line(s)")
            if not ok:
                failed += 1
                print("\n".join("    " + l for l in (errors or run.stderr.splitlines())[:12]))
    print(f"{len(CASES) - failed} of {len(CASES)} cases as expected")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
