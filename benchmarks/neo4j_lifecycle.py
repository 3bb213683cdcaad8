"""Start and stop time of the project's Neo4j server, with and without the class-data archive.

Each run starts a server on a fresh home (so the system database is created, as on a user's
first start) with the launcher (`kg.server.start`: until Bolt answers ``RETURN 1``), then stops
it cleanly (`kg.server.stop`: SIGTERM until the JVM has exited). "off" runs start the JVM
without class-data sharing (``GRAPHREC_NEO4J_CLASS_SHARING=off``, the launcher before the
archive existed); "first start" runs find no archive, so their JVM records its classes and
dumps them when it stops (that stop's time includes the dump); "archive" runs map it. The
Maven build is copied into a scratch cache first, so no run pays for Maven and the user's
cache is left alone.

Usage::

    .venv/bin/python -m benchmarks.neo4j_lifecycle [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from benchmarks.report import command_line, print_table, write_results
from kg import server


def timed_cycle(root: Path, run: int) -> tuple[float, float]:
    """Seconds to start a server on a new home under ``root``, and to stop it."""
    home = root / f"home-{run}"
    begin = time.perf_counter()
    server.start(home, server.free_port())
    started = time.perf_counter()
    server.stop(home)
    return started - begin, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    build = Path(server._maven_classpath("server").split(os.pathsep)[0]).parent
    rows, lines = [], []
    with tempfile.TemporaryDirectory(prefix="graphrec-neo4j-bench-") as scratch:
        root = Path(scratch)
        os.environ["GRAPHREC_CACHE_DIR"] = str(root / "cache")
        shutil.copytree(build, server.build_cache() / "neo4j" / build.name)
        for mode in ("off", "first start", "archive"):
            starts, stops = [], []
            if mode == "off":
                os.environ[server.CLASS_SHARING_ENV] = "off"
            else:
                os.environ.pop(server.CLASS_SHARING_ENV, None)
            for run in range(args.runs):
                if mode == "first start":
                    for archive in (server.build_cache() / "neo4j").glob("classes-*.jsa"):
                        archive.unlink()
                start_s, stop_s = timed_cycle(root, len(rows) * args.runs + run)
                starts.append(start_s)
                stops.append(stop_s)
            row = {"mode": mode, "runs": args.runs,
                   "start_median_s": round(statistics.median(starts), 2),
                   "start_min_s": round(min(starts), 2), "start_max_s": round(max(starts), 2),
                   "stop_median_s": round(statistics.median(stops), 2)}
            rows.append(row)
            lines.append(f"| {mode} | {row['start_median_s']:.2f} ({row['start_min_s']:.2f}-"
                         f"{row['start_max_s']:.2f}) | {row['stop_median_s']:.2f} |")
    print_table(["class-data sharing", "start s, median (min-max)", "stop s, median"], lines)
    write_results("neo4j_lifecycle", rows,
                  ["mode", "runs", "start_median_s", "start_min_s", "start_max_s",
                   "stop_median_s"],
                  command_line("benchmarks.neo4j_lifecycle"),
                  protocol="fresh home per run; start until Bolt answers RETURN 1; clean stop "
                           "until the JVM exited; Maven build excluded")


if __name__ == "__main__":
    main()
