"""A short-lived Neo4j server under the JVM's default compilers and under the quick one alone.

Each run starts a server on a fresh home with the project's launcher, loads a small synthetic
graph into it (the bulk path), re-runs the load (the idempotent ``MERGE`` path, as after an
interrupted load), reads the statistics, and stops it: the life of the test suite's throw-away
servers. It is timed with the JVM's tiered compilation as shipped (C1 then C2) and with
``-XX:TieredStopAtLevel=1`` (C1 only, passed through ``JAVA_TOOL_OPTIONS``, as scripts/test.sh
does), each with the other core idle and with it busy (a Python process spinning, as the
other test worker keeps it). Maven's build and the class-data archive are already in the
cache.

Usage::

    .venv/bin/python -m benchmarks.neo4j_jit [--runs 2] [--users 120]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.report import command_line, print_table, write_results
from kg import server
from kg.store import Neo4jConfig, Neo4jStore
from loaders import SyntheticConfig, generate_synthetic

QUICK = "-XX:TieredStopAtLevel=1"


def set_jit(quick: bool, before: str | None) -> None:
    """``JAVA_TOOL_OPTIONS`` as it was (``before``), plus C1 only when ``quick``."""
    value = " ".join(o for o in (before, QUICK if quick else None) if o)
    if value:
        os.environ["JAVA_TOOL_OPTIONS"] = value
    else:
        os.environ.pop("JAVA_TOOL_OPTIONS", None)


def timed_life(home: Path, tables) -> dict[str, float]:
    """Seconds of each step of one server's life on ``home``."""
    marks = [time.perf_counter()]
    state = server.start(home, server.free_port())
    marks.append(time.perf_counter())
    with Neo4jStore(Neo4jConfig(uri=state.uri)) as store:
        store.load(tables, progress=False)
        marks.append(time.perf_counter())
        store.load(tables, progress=False)
        marks.append(time.perf_counter())
        store.stats()
    server.stop(home)
    marks.append(time.perf_counter())
    steps = ("start", "first load", "re-run", "stats and stop")
    out = {step: marks[k + 1] - marks[k] for k, step in enumerate(steps)}
    out["total"] = marks[-1] - marks[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--users", type=int, default=120)
    args = parser.parse_args()
    tables = generate_synthetic(SyntheticConfig(n_users=args.users, items_per_scenario=100,
                                                seed=3)).tables
    server._maven_classpath("server")  # build (or find) the jars before any timing
    before = os.environ.get("JAVA_TOOL_OPTIONS")
    rows, lines = [], []
    with tempfile.TemporaryDirectory(prefix="graphrec-neo4j-jit-") as scratch:
        root = Path(scratch)
        for busy in (False, True):
            spinner = (subprocess.Popen([sys.executable, "-c", "while True: pass"])
                       if busy else None)
            try:
                for jit in ("C1 then C2 (default)", "C1 only"):
                    set_jit(jit == "C1 only", before)
                    runs = [timed_life(root / f"home-{len(rows)}-{k}", tables)
                            for k in range(args.runs)]
                    row = {"other_core": "busy" if busy else "idle", "jit": jit,
                           "runs": args.runs,
                           **{f"{step}_s": round(statistics.median(r[step] for r in runs), 2)
                              for step in runs[0]},
                           "total_min_s": round(min(r["total"] for r in runs), 2),
                           "total_max_s": round(max(r["total"] for r in runs), 2)}
                    rows.append(row)
                    lines.append(
                        f"| {row['other_core']} | {jit} | {row['start_s']:.1f} | "
                        f"{row['first load_s']:.1f} | {row['re-run_s']:.1f} | "
                        f"{row['stats and stop_s']:.1f} | **{row['total_s']:.1f}** "
                        f"({row['total_min_s']:.1f}-{row['total_max_s']:.1f}) |")
                    print(lines[-1], flush=True)
            finally:
                if spinner is not None:
                    spinner.kill()
                    spinner.wait()
    set_jit(False, before)
    print()
    print_table(["other core", "JIT", "start s", "first load s", "re-run s", "stats + stop s",
                 "total s, median (min-max)"], lines)
    write_results("neo4j_jit", rows, ["other_core", "jit", "runs", "start_s", "first load_s",
                                      "re-run_s", "stats and stop_s", "total_s"],
                  command_line("benchmarks.neo4j_jit"),
                  dataset=f"synthetic, {args.users} users, 100 items per scenario, seed 3 "
                          f"({len(tables.interactions)} interactions)",
                  protocol="fresh home per run; start until Bolt answers; bulk first load; "
                           "MERGE re-run; stats; clean stop; medians over runs")


if __name__ == "__main__":
    main()
