"""Ingest throughput: a shared data set into a fresh Neo4j and into the local Parquet store.

Starts a throw-away Neo4j 5.26 with the project's launcher (own home, free port), loads the data
set twice (the first load creates everything, the second shows the cost of an idempotent
re-run), and prints a Markdown table. Usage::

    .venv/bin/python -m benchmarks.ingest ml1m ../shared/data/ml1m_coldstart
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time

import torch

from benchmarks.report import command_line, write_results
from kg import server
from kg.store import LocalStore, Neo4jConfig, Neo4jStore
from loaders import get_loader


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dataset")
    parser.add_argument("path")
    parser.add_argument("--batch-size", type=int, default=10_000)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ds = get_loader(args.dataset)(args.path)
    parse_s = time.perf_counter() - t0
    counts = ds.tables.counts()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        local = LocalStore(f"{tmp}/local")
        start = time.perf_counter()
        local.load(ds.tables, progress=False)
        local_s = time.perf_counter() - start
        home = f"{tmp}/neo4j"
        state = server.start(home, server.free_port())
        try:
            with Neo4jStore(Neo4jConfig(uri=state.uri, batch_size=args.batch_size)) as store:
                runs = (("first load (bulk CREATE path)", "auto"),
                        ("re-run (idempotent MERGE)", "auto"),
                        ("first load forced through MERGE", "merge"))
                for run, mode in runs:
                    if mode == "merge":
                        store.clear()
                    report = store.load(ds.tables, progress=False, mode=mode)
                    n_nodes = sum(report.nodes.values())
                    n_rels = sum(report.relationships.values())
                    node_s = sum(report.seconds[k] for k in report.nodes)
                    rel_s = sum(report.seconds[k] for k in report.relationships)
                    rows.append((run, n_nodes, n_nodes / node_s, n_rels, n_rels / rel_s,
                                 report.relationships["INTERACTED"]
                                 / report.seconds["INTERACTED"], report.seconds["total"]))
                stats = store.stats()
        finally:
            server.stop(home)
    assert stats["totals"]["interactions"] == counts["interactions"]
    print(f"data set: {args.dataset} ({args.path}); {counts['users']:,} users, "
          f"{counts['items']:,} items, {counts['interactions']:,} interactions; parse "
          f"{parse_s:.1f}s")
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, "
          f"Python {platform.python_version()}; Neo4j 5.26 Community, -Xmx1g, batch "
          f"{args.batch_size:,} rows\n")
    print("| store | run | nodes | nodes/s | relationships | relationships/s | "
          "INTERACTED/s | total s |")
    print("|---|---|---|---|---|---|---|---|")
    for run, n_nodes, nps, n_rels, rps, ips, total in rows:
        print(f"| neo4j | {run} | {n_nodes:,} | {nps:,.0f} | {n_rels:,} | {rps:,.0f} | "
              f"{ips:,.0f} | {total:.1f} |")
    print(f"| local (Parquet) | first load | – | – | – | – | – | {local_s:.1f} |")
    write_results(f"ingest_{args.dataset}", [
        {"store": "neo4j", "run": run, "nodes": n, "nodes_per_s": round(nps),
         "relationships": r, "relationships_per_s": round(rps), "interacted_per_s": round(ips),
         "total_s": round(total, 1)} for run, n, nps, r, rps, ips, total in rows] + [
        {"store": "local", "run": "first load", "total_s": round(local_s, 1)}],
        ["store", "run", "nodes", "nodes_per_s", "relationships", "relationships_per_s",
         "interacted_per_s", "total_s"],
        command_line("benchmarks.ingest"), dataset=args.dataset,
        protocol=f"Neo4j 5.26 Community, -Xmx1g, batch {args.batch_size} rows, fresh server")


if __name__ == "__main__":
    main()
