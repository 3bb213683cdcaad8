"""Seconds per ``path-gnn`` training step and per scored batch, on a CDRIB-style pair.

Builds the graph of every scenario's training interactions (as the ``path-gnn`` strategy
does: no co-interaction edges), a ``PathGNN`` with graphrec's ``[strategy.path-gnn]``
defaults and the strategy's training queries (every bridge user cold, as on CDRIB), then
times ``--steps`` optimiser steps of ``batch_size`` queries (forward, softmax loss over the
target's items, backward, Adam) after one warm-up step, and ``--batches`` scored batches of
64 users over the target's items (what validation and serving run). With ``--keep-memory``
the process first calls :func:`graphrec.training.memory.keep_freed_memory`, as the trainer
does under ``[train] keep_memory = true`` (the default). With ``--per-pass N`` each step runs
its batch in passes of at most ``N`` queries (the objective's ``per_pass``, what a graph too
large for memory gets; the gradient is the same). Usage::

    .venv/bin/python -m benchmarks.path_speed ../shared/data/cdrib_amazon [--keep-memory] \
        [--per-pass N]
"""

from __future__ import annotations

import time

import numpy as np
import torch

from benchmarks.path_serving import load_pair, pair_parser, untrained_path_gnn
from benchmarks.report import command_line, peak_rss_gib, write_results
from graphrec.strategies.path_gnn import PathGNNConfig
from graphrec.training.queries import QueryObjective


def main() -> None:
    parser = pair_parser(__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batches", type=int, default=4)
    parser.add_argument("--per-pass", type=int, default=None,
                        help="Queries per pass of a training step (default: from the memory "
                             "left, the whole batch on CDRIB).")
    args = parser.parse_args()
    tables, target = load_pair(args)
    torch.manual_seed(0)
    data, index, graph, model = untrained_path_gnn(tables)
    settings = PathGNNConfig()
    objective = QueryObjective(graph, index.scenario_items(target), 1.0, settings.batch_size,
                               settings.max_queries, per_pass=args.per_pass)
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
           "queries_per_pass": min(objective.per_pass, settings.batch_size),
           "s_per_step": round(float(np.mean(steps[1:])), 2),
           "s_per_64_users": round(float(np.mean(scored[1:])), 2),
           "peak_gib": round(peak_rss_gib(), 2)}
    print(row, flush=True)
    name = "path_speed_keep_memory" if args.keep_memory else "path_speed"
    if args.per_pass is not None:
        name += f"_per_pass{args.per_pass}"
    write_results(name, [row], list(row), command_line("benchmarks.path_speed"),
                  dataset=args.path, target=target,
                  threads=torch.get_num_threads(), steps=args.steps, batches=args.batches)


if __name__ == "__main__":
    main()
