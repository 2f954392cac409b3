#!/usr/bin/env python3
"""Runs one of the tutorial examples and checks its output (spec/python_parity.md T1-T3).

    check_example.py t1 build/examples/tutorial_submit
    check_example.py t2 build/examples/tutorial_context
    check_example.py t3 build/examples/crawler PAGES LATENCY_MS

Exit status 0 when the output says what the tutorial says; otherwise 1, with the reason
and the program's output. The crawler's speedup is printed by the example and never
checked here: speed goals are benchmarks, not tests.
"""

from __future__ import annotations

import re
import subprocess
import sys

POOL_THREAD = re.compile(r"ThreadPoolExecutor-\d+_\d+")


def check_t1(lines: list[str]) -> list[str]:
    """Two tasks: each prints its three lines; two distinct pool threads ran them."""
    problems = []
    for line, count in (("Executing our Task", 2), ("I: 45", 2)):
        if lines.count(line) != count:
            problems.append(f"expected {count} lines {line!r}, got {lines.count(line)}")
    names = [l[len("Task Executed "):] for l in lines if l.startswith("Task Executed ")]
    if len(names) != 2:
        problems.append(f"expected 2 'Task Executed' lines, got {len(names)}")
    bad = [n for n in names if not POOL_THREAD.fullmatch(n)]
    if bad:
        problems.append(f"not a pool thread name (ThreadPoolExecutor-<k>_<i>): {bad}")
    if len(names) == 2 and names[0] == names[1]:
        problems.append(f"both tasks report the same thread {names[0]!r}; expected two")
    if len(lines) != 6:
        problems.append(f"expected 6 lines in all, got {len(lines)}")
    return problems


def check_t2(lines: list[str]) -> list[str]:
    """Start line, the three Processing lines in any order, then the completion line."""
    expected_middle = {"Processing 2", "Processing 3", "Processing 4"}
    if (len(lines) == 5 and lines[0] == "Starting ThreadPoolExecutor"
            and set(lines[1:4]) == expected_middle and lines[4] == "All tasks complete"):
        return []
    return ["expected 'Starting ThreadPoolExecutor', then 'Processing 2/3/4' in any order, "
            "then 'All tasks complete' last"]


def check_t3(lines: list[str], pages: int) -> list[str]:
    """Both crawls fetched and verified every page; the speedup line is there."""
    problems = []
    for workers in (1, 8):
        pattern = re.compile(
            rf"max_workers={workers}: {pages} of {pages} pages fetched and verified in [\d.]+ ms")
        if not any(pattern.fullmatch(l) for l in lines):
            problems.append(f"no line saying all {pages} pages were verified with max_workers={workers}")
    if not any(l.startswith("speedup of max_workers=8 over max_workers=1: ") for l in lines):
        problems.append("no speedup line")
    failures = [l for l in lines if "generated an exception" in l]
    if failures:
        problems.append(f"{len(failures)} fetches failed")
    return problems


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] not in ("t1", "t2", "t3"):
        print(__doc__, file=sys.stderr)
        return 2
    which, command = argv[1], argv[2:]
    run = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    lines = run.stdout.splitlines()
    problems = [] if run.returncode == 0 else [f"exit status {run.returncode}"]
    if run.stderr.strip():
        problems.append("unexpected output on stderr")
    if which == "t1":
        problems += check_t1(lines)
    elif which == "t2":
        problems += check_t2(lines)
    else:
        problems += check_t3(lines, int(command[1]) if len(command) > 1 else 40)
    if problems:
        print(f"{' '.join(command)}: output does not match the tutorial:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        print("--- stdout ---\n" + run.stdout + "--- stderr ---\n" + run.stderr, file=sys.stderr)
        return 1
    print(run.stdout, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
