"""Seconds per ``path-gnn`` training step and per scored batch, on a CDRIB-style pair.

Builds the graph of every scenario's training interactions (as the ``path-gnn`` strategy
does: no co-interaction edges), a ``PathGNN`` with graphrec's ``[strategy.path-gnn]``
defaults and the strategy's training queries (every bridge user cold, as on CDRIB), then
times ``--steps`` optimiser steps of ``batch_size`` queries (forward, softmax loss over the
target's items, backward, Adam) after one warm-up step, and ``--batches`` scored batches of
64 users over the target's items (what validation and serving run). With ``--keep-memory``
the process first calls :func:`graphrec.training.memory.keep_freed_memory`, as the trainer
does under ``[train] keep_memory = true`` (the default). Usage::

    .venv/bin/python -m benchmarks.path_speed ../shared/data/cdrib_amazon [--keep-memory]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

from benchmarks.report import peak_rss_gib, write_results
from graphrec.data.graph import build_graph
from graphrec.models.path_gnn import PathGNN, prepare_path_graph
from graphrec.strategies.path_gnn import PathGNNConfig
from graphrec.training.memory import keep_freed_memory
from graphrec.training.queries import QueryObjective
from kg.schema import TRAIN_SPLITS
from loaders import load_dataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", help="A CDRIB-style folder (pairs X_Y and Y_X).")
    parser.add_argument("--pair", default=None, help="One folder name of the pair (X_Y).")
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--keep-memory", action="store_true",
                        help="Keep freed memory in the process (graphrec.training.memory).")
    args = parser.parse_args()
    if args.keep_memory:
        keep_freed_memory()
    tables = load_dataset("cdrib", args.path, {"pair": args.pair}).tables
    target = sorted(set(tables.interactions["scenario"]))[0]
    data, index = build_graph(tables, TRAIN_SPLITS, None, 0)
    graph = prepare_path_graph(data)
    settings = PathGNNConfig()
    torch.manual_seed(0)
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], settings.dim,
                    settings.num_layers, settings.item_embeddings)
    objective = QueryObjective(graph, index.scenario_items(target), 1.0, settings.batch_size,
                               settings.max_queries)
    batches = objective.epoch_batches(model, graph, np.random.default_rng(0))
    optimizer = torch.optim.Adam(model.parameters(), settings.lr)
    steps = []
    for batch in batches[:args.steps + 1]:
        start = time.perf_counter()
        optimizer.zero_grad()
        objective.backward(model, graph, batch)
        optimizer.step()
        steps.append(time.perf_counter() - start)
    users = np.arange(64 * (args.batches + 1))
    scored = []
    with torch.no_grad():
        for s in range(0, len(users), 64):
            start = time.perf_counter()
            model(graph, graph.history[users[s:s + 64]], objective.candidates, users[s:s + 64])
            scored.append(time.perf_counter() - start)
    row = {"keep_memory": args.keep_memory, "nodes": int(data.num_nodes),
           "queries_per_step": settings.batch_size,
           "s_per_step": round(float(np.mean(steps[1:])), 2),
           "s_per_64_users": round(float(np.mean(scored[1:])), 2),
           "peak_gib": round(peak_rss_gib(), 2)}
    print(row, flush=True)
    name = "path_speed_keep_memory" if args.keep_memory else "path_speed"
    write_results(name, [row], list(row), "python -m benchmarks.path_speed "
                  + " ".join(sys.argv[1:]), dataset=args.path, target=target,
                  threads=torch.get_num_threads(), steps=args.steps, batches=args.batches)


if __name__ == "__main__":
    main()
