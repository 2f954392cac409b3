#!/usr/bin/env python3
"""Tables of weft against its peers, from Google Benchmark JSON files.

    python3 scripts/bench_table.py docs/benchmarks/<date>/*.json [--markdown]

Benchmark names follow `family/impl[/workers:N][/...]` (see bench/bench_support.hpp).
For every family and worker count it prints each implementation's time per operation
and the ratio weft / impl: below 1 means weft is faster (or uses less), above 1 slower.
Every metric is lower-is-better:

  * the counter `ns_per_task` where a benchmark sets it (submit_bench, and pool_bench's
    pool_submit and pool_map: the peers run different task counts, so the per-task
    time is what compares);
  * the counters `ns_per_node`, `ns_per_link`, `ns_per_round_trip` (future_bench: trees
    of different depths, chains, round trips counted inside one task);
  * the counter `ns_per_graph_node` (graph_bench: one run, or one build, of a task
    graph divided by its node count);
  * the counters `idle_cpu_per_s`, `rss_delta_mib`, `max_rss_mib` (idle_bench); idle
    CPU under 0.001 CPU s/s on both sides is noise, and its ratio is shown as `~1`;
  * otherwise the real time per iteration, in the benchmark's time unit.

An implementation whose name starts with `weft` is a weft variant; each variant gets its
own ratio column. A run whose label starts with `reference` (serial fib, depth-limited
std::async) is shown but left out of "best peer". An implementation registered without a
worker count (std::async, serial) appears in every worker-count group, marked `*`.

With repetitions, the median aggregate is used; a benchmark seen several times (several
files, or repetitions without aggregates) shows the median of its runs. Standard library
only.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import sys
from collections import OrderedDict
from dataclasses import dataclass, field

COUNTER_METRICS = [
    # (counter, heading, unit)
    ("ns_per_task", "time per task", "ns"),
    ("ns_per_node", "time per tree node", "ns"),
    ("ns_per_link", "time per chain link", "ns"),
    ("ns_per_round_trip", "time per round trip", "ns"),
    ("ns_per_graph_node", "time per graph node", "ns"),
    ("idle_cpu_per_s", "idle CPU per wall second", "CPU s/s"),
    ("rss_delta_mib", "resident memory added by the pool", "MiB"),
    ("max_rss_mib", "peak resident memory of the process", "MiB"),
]
# Below these, two values are both "nothing" and their ratio is noise: shown as `~1`.
# 1e-3 CPU s/s is 0.1 % of one core — timer ticks and the measuring thread itself.
NOISE_FLOOR = {"idle_cpu_per_s": 1e-3}
ANY_WORKERS = None  # worker count of an implementation that is not swept


@dataclass
class Series:
    """All measurements of one (family, impl, workers, metric)."""

    values: list = field(default_factory=list)
    medians: list = field(default_factory=list)  # from `median` aggregates, preferred
    reference: bool = False

    def value(self):
        chosen = self.medians or self.values
        return statistics.median(chosen) if chosen else None


def parse_name(name: str):
    """`fib/weft/workers:2/real_time` -> ('fib', 'weft', 2)."""
    parts = name.split("/")
    family = parts[0]
    impl = parts[1] if len(parts) > 1 and ":" not in parts[1] else family
    workers = ANY_WORKERS
    for part in parts[1:]:
        key, _, value = part.partition(":")
        if key == "workers" and value.isdigit():
            workers = int(value)
    return family, impl, workers


def metrics_of(bench: dict):
    """The (metric key, heading, unit, value) pairs a benchmark entry reports."""
    found = [
        (counter, heading, unit, float(bench[counter]))
        for counter, heading, unit in COUNTER_METRICS
        if counter in bench
    ]
    if found:
        return found
    if "real_time" not in bench:
        return []
    unit = bench.get("time_unit", "ns")
    return [("real_time:" + unit, "real time per op", unit, float(bench["real_time"]))]


class Collection:
    def __init__(self):
        # family -> metric key -> (heading, unit); family -> impl -> workers -> key -> Series
        self.metrics = OrderedDict()
        self.series = OrderedDict()
        self.errors = OrderedDict()  # (family, impl, workers) -> first error message
        self.contexts = []

    def add_file(self, path: str):
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
        self.contexts.append((path, data.get("context", {})))
        for bench in data.get("benchmarks", []):
            self.add_benchmark(bench)

    def add_benchmark(self, bench: dict):
        run_type = bench.get("run_type", "iteration")
        aggregate = bench.get("aggregate_name", "")
        if run_type == "aggregate" and aggregate != "median":
            return
        family, impl, workers = parse_name(bench.get("run_name") or bench["name"])
        impls = self.series.setdefault(family, OrderedDict())
        per_workers = impls.setdefault(impl, OrderedDict())
        family_metrics = self.metrics.setdefault(family, OrderedDict())
        if bench.get("error_occurred") or bench.get("skipped") == "error":
            per_workers.setdefault(workers, {})
            self.errors.setdefault((family, impl, workers), bench.get("error_message", "error"))
            return
        for key, heading, unit, value in metrics_of(bench):
            family_metrics.setdefault(key, (heading, unit))
            series = per_workers.setdefault(workers, {}).setdefault(key, Series())
            label = bench.get("label", "")
            series.reference = series.reference or label.startswith("reference")
            (series.medians if run_type == "aggregate" else series.values).append(value)


def fmt_value(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 100:
        return f"{v:.1f}"
    if a >= 1:
        return f"{v:.2f}"
    if a == 0:
        return "0"
    return f"{v:.3g}"


def ratio(a, b, floor=0.0):
    """a / b as text; None when either is missing, `~1` when both are under `floor`."""
    if a is None or b is None:
        return None
    if a < floor and b < floor:
        return "~1"
    if b == 0:
        return "n/a" if a == 0 else "inf"
    r = a / b
    return f"{r:.2f}" if r >= 0.01 else f"{r:.1g}"


def render(headers, rows, aligns, markdown: bool) -> str:
    cells = [headers] + [[c if c is not None else "" for c in row] for row in rows]
    widths = [max(len(str(r[i])) for r in cells) for i in range(len(headers))]

    def line(row):
        out = []
        for i, c in enumerate(row):
            c = str(c)
            out.append(c.rjust(widths[i]) if aligns[i] == "r" else c.ljust(widths[i]))
        return ("| " + " | ".join(out) + " |") if markdown else "  ".join(out).rstrip()

    if markdown:
        rule = "|" + "|".join(
            "-" * (w + 1) + ":" if a == "r" else "-" * (w + 2) for w, a in zip(widths, aligns)
        ) + "|"
    else:
        rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule] + [line(r) for r in rows])


def family_table(col: Collection, family: str, key: str, markdown: bool, summary: dict):
    heading, unit = col.metrics[family][key]
    floor = NOISE_FLOOR.get(key, 0.0)
    impls = col.series[family]
    weft_impls = [i for i in impls if i.startswith("weft")]
    others = [i for i in impls if not i.startswith("weft")]
    swept = sorted({w for i in impls for w in impls[i] if w is not ANY_WORKERS})
    groups = swept or [ANY_WORKERS]

    def series(impl, workers):
        per = impls[impl]
        s = per.get(workers, {}).get(key)
        if s is None:
            s = per.get(ANY_WORKERS, {}).get(key)
        return s

    def is_ref(impl, workers):
        s = series(impl, workers)
        return s is not None and s.reference

    def unswept(impl):
        return bool(swept) and list(impls[impl].keys()) == [ANY_WORKERS]

    headers = ["workers", "impl", unit] + [f"{w}/impl" for w in weft_impls]
    aligns = ["r", "l", "r"] + ["r"] * len(weft_impls)
    rows = []
    for workers in groups:
        ordered = weft_impls + [i for i in others if not is_ref(i, workers)]
        ordered += [i for i in others if is_ref(i, workers)]
        values = {}
        group_rows = []
        for impl in ordered:
            s = series(impl, workers)
            error = col.errors.get((family, impl, workers)) or col.errors.get(
                (family, impl, ANY_WORKERS))
            if s is None and error is None:
                continue
            v = s.value() if s is not None else None
            values[impl] = v
            name = impl + ("*" if unswept(impl) else "")
            name += " (ref)" if is_ref(impl, workers) else ""
            group_rows.append(["", name, "ERROR: " + error if v is None else fmt_value(v)])
        for row, impl in zip(group_rows, values):  # values keeps the rows' order
            row += [ratio(values.get(w), values[impl], floor) for w in weft_impls]
        peers = [i for i in others if values.get(i) is not None and not is_ref(i, workers)]
        if peers and weft_impls:
            best = min(peers, key=lambda i: values[i])
            row = ["", f"best peer: {best}", fmt_value(values[best])]
            row += [ratio(values.get(w), values[best], floor) for w in weft_impls]
            group_rows.append(row)
            for w in weft_impls:
                r = ratio(values.get(w), values[best], floor)
                if r is not None:
                    summary.setdefault((family, key, w), OrderedDict())[workers] = r
        if group_rows and workers is not ANY_WORKERS:
            group_rows[0][0] = str(workers)
        if rows and not markdown:
            rows.append([""] * len(headers))
        rows += group_rows
    title = f"{family} — {heading} ({unit}); ratio = weft / impl, < 1: weft faster"
    out = [("### " if markdown else "== ") + title, "", render(headers, rows, aligns, markdown)]
    if any(unswept(i) for i in impls):
        out += ["", "* not swept over workers: the same run is shown in every group"]
    return "\n".join(out)


def summary_table(summary: dict, markdown: bool) -> str:
    workers = sorted({w for per in summary.values() for w in per if w is not ANY_WORKERS})
    headers = ["family", "metric", "weft"] + [f"w={w}" for w in workers]
    aligns = ["l", "l", "l"] + ["r"] * len(workers)
    rows = []
    for (family, key, weft), per in summary.items():
        rows.append([family, key.split(":")[0], weft] + [per.get(w) for w in workers])
    title = "summary — weft / best peer per worker count (< 1: weft faster)"
    return "\n".join([("### " if markdown else "== ") + title, "",
                      render(headers, rows, aligns, markdown)])


def context_lines(col: Collection):
    lines = []
    for path, ctx in col.contexts:
        parts = [path]
        for key in ("host_name", "date"):
            if ctx.get(key):
                parts.append(str(ctx[key]))
        if ctx.get("num_cpus"):
            parts.append(f"{ctx['num_cpus']} cpus")
        if ctx.get("mhz_per_cpu"):
            parts.append(f"{ctx['mhz_per_cpu']} MHz")
        if ctx.get("load_avg"):
            parts.append("load " + " ".join(f"{x:.2f}" for x in ctx["load_avg"]))
        lines.append("  ".join(parts))
    return lines


def main(argv=None) -> int:
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # `| head` ends quietly
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", help="Google Benchmark JSON output files")
    parser.add_argument("--markdown", action="store_true", help="Markdown tables")
    args = parser.parse_args(argv)

    col = Collection()
    for path in args.files:
        try:
            col.add_file(path)
        except (OSError, ValueError) as e:
            print(f"{path}: {e}", file=sys.stderr)
            return 1
    if not col.series:
        print("no benchmarks in the given files", file=sys.stderr)
        return 1

    blocks = ["\n".join(("- " if args.markdown else "") + l for l in context_lines(col))]
    summary = OrderedDict()
    for family in col.series:
        for key in col.metrics.get(family, {}):
            blocks.append(family_table(col, family, key, args.markdown, summary))
        if not col.metrics.get(family):
            failed = [f"  {i}: {m}" for (f, i, _), m in col.errors.items() if f == family]
            blocks.append(f"== {family} — every run failed\n" + "\n".join(failed))
    if summary:
        blocks.append(summary_table(summary, args.markdown))
    print("\n\n".join(blocks))
    return 0


if __name__ == "__main__":
    sys.exit(main())
