"""Start-up time of the CLI commands that neither train nor score (they must not pay for
importing torch and PyG): the median wall time of ``--runs`` runs of each command, as a new
process, on this machine. Bar: each under 1.5 s.

Usage::

    .venv/bin/python -m benchmarks.startup [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.report import command_line, print_table, write_results

BAR_SECONDS = 1.5
COMMANDS = (["--help"], ["--version"], ["kg", "query"], ["neo4j", "status"],
            ["train", "--help"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    exe = Path(sys.executable).with_name("graphrec")
    rows, lines = [], []
    for command in COMMANDS:
        times = []
        for _ in range(args.runs):
            start = time.perf_counter()
            subprocess.run([str(exe), *command], capture_output=True, check=False)
            times.append(time.perf_counter() - start)
        median = statistics.median(times)
        rows.append({"command": "graphrec " + " ".join(command), "median_s": round(median, 3),
                     "runs": args.runs, "bar_s": BAR_SECONDS, "holds": median < BAR_SECONDS})
        lines.append(f"| graphrec {' '.join(command)} | {median:.2f} | "
                     f"{'yes' if median < BAR_SECONDS else 'NO'} |")
    print_table(["command", "median s", f"< {BAR_SECONDS} s"], lines)
    write_results("startup", rows, ["command", "median_s", "runs", "holds"],
                  command_line("benchmarks.startup"),
                  protocol=f"median wall time of {args.runs} fresh processes per command")
    sys.exit(0 if all(r["holds"] for r in rows) else 1)


if __name__ == "__main__":
    main()
