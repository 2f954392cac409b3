#!/usr/bin/env python3
"""Turns the ```cpp blocks of a Markdown page into one test program.

    doc_examples.py docs/api/futures.md OUT.cpp

Each block becomes the body of a function `example_N(weft::executor& ex)`, with
`using namespace std::chrono_literals;` in scope; main() runs them in order on an executor
with 2 workers. NDEBUG is undefined so that the blocks' assert()s check in release builds.
"""
import re
import sys


def main() -> int:
    source, out = sys.argv[1], sys.argv[2]
    with open(source, encoding="utf-8") as f:
        blocks = re.findall(r"^```cpp\n(.*?)^```", f.read(), flags=re.S | re.M)
    if not blocks:
        print(f"{source}: no ```cpp blocks", file=sys.stderr)
        return 1
    lines = [
        f"// Generated from {source} by examples/doc_examples.py. Do not edit.",
        "#undef NDEBUG",
        "#include <weft/weft.hpp>",
        "",
        "#include <atomic>",
        "#include <cassert>",
        "#include <chrono>",
        "#include <cstdio>",
        "#include <functional>",
        "#include <future>",
        "#include <latch>",
        "#include <memory>",
        "#include <stdexcept>",
        "#include <string>",
        "#include <tuple>",
        "#include <vector>",
        "",
        "namespace {",
    ]
    for i, body in enumerate(blocks):
        lines += [f"void example_{i}([[maybe_unused]] weft::executor& ex) {{",
                  "    using namespace std::chrono_literals;"]
        lines += ["    " + l if l else "" for l in body.rstrip("\n").split("\n")]
        lines += ["}", ""]
    lines += ["}  // namespace", "", "int main() {",
              "    weft::executor ex{weft::executor_options{.workers = 2}};"]
    for i in range(len(blocks)):
        lines += [f"    example_{i}(ex);", f'    std::puts("example {i}: ok");']
    lines += ["    return 0;", "}", ""]
    with open(out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
