"""Where the local store's bookkeeping meets its limits: many scenarios, many attribute values.

Two synthetic shapes that stress what per-row Python would make slow:

* ``scenarios``: N scenarios of 2 items and 4 interactions each; times ``stats_from_tables``
  (run on every ``kg stats``) and a local-store load;
* ``attribute values``: N items with one distinct attribute value each (N attribute nodes);
  times a local-store load and reads it back, with the peak RSS of the process.

Usage::

    .venv/bin/python -m benchmarks.limits [--scenarios 10000,30000] [--values 100000,1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import pandas as pd

from benchmarks.report import command_line, peak_rss_gib, print_table, write_results
from kg.store import LocalStore, stats_from_tables
from kg.tables import make_tables


def many_scenarios(n: int):
    scen = [f"s{k}" for k in range(n)]
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(2 * n)],
                          "scenario": [scen[k // 2] for k in range(2 * n)]})
    inter = pd.DataFrame({"user_id": [f"u{k % 1000}" for k in range(4 * n)],
                          "item_id": [f"i{(k * 7) % (2 * n)}" for k in range(4 * n)]})
    inter = inter.drop_duplicates(["user_id", "item_id"])
    inter["scenario"] = inter["item_id"].map(dict(zip(items["item_id"], items["scenario"],
                                                      strict=True)))
    return make_tables(scenarios=pd.DataFrame({"scenario": scen}),
                       users=pd.DataFrame({"user_id": inter["user_id"].unique()}),
                       items=items, interactions=inter)


def many_values(n: int):
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(n)], "scenario": "s"})
    inter = pd.DataFrame({"user_id": [f"u{k % 5000}" for k in range(n)],
                          "item_id": items["item_id"], "scenario": "s"})
    attrs = pd.DataFrame({"item_id": items["item_id"], "kind": "sku",
                          "value": [f"v{k}" for k in range(n)]})
    return make_tables(scenarios=pd.DataFrame({"scenario": ["s"]}),
                       users=pd.DataFrame({"user_id": inter["user_id"].unique()}),
                       items=items, interactions=inter, item_attributes=attrs)


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(tables) -> dict:
    """Seconds of the statistics, a local-store load and a read of ``tables``; peak RSS."""
    with tempfile.TemporaryDirectory() as tmp:
        store = LocalStore(tmp)
        return {"stats_s": round(timed(lambda: stats_from_tables(tables)), 2),
                "load_s": round(timed(lambda: store.load(tables, progress=False)), 2),
                "read_s": round(timed(store.read), 2),
                "peak_rss_gib": round(peak_rss_gib(), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenarios", default="10000,30000")
    parser.add_argument("--values", default="100000,1000000")
    args = parser.parse_args()
    rows = []
    shapes = [("scenarios", many_scenarios, args.scenarios),
              ("attribute values", many_values, args.values)]
    for shape, build, sizes in shapes:
        for n in [int(x) for x in sizes.split(",") if x]:
            rows.append({"shape": shape, "n": n, **measure(build(n))})
    columns = ["shape", "n", "stats_s", "load_s", "read_s", "peak_rss_gib"]
    print_table(columns, ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows])
    write_results("limits", rows, columns, command_line("benchmarks.limits"),
                  protocol="one run per size, local store in a temporary folder; peak RSS "
                               "is the process's so far (it only grows down the table)")


if __name__ == "__main__":
    main()
