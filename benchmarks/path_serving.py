"""Serving cost of a ``path-gnn`` run against an embedding run on the same graph.

A :class:`~graphrec.serving.path_recommender.PathRecommender` scores each user by message
passing over the whole graph from that user's items; a
:class:`~graphrec.serving.Recommender` scores by one matrix product. This script builds the
graph of a CDRIB-style data set (every scenario, training interactions), a ``PathGNN`` with
graphrec's ``[strategy.path-gnn]`` defaults and a LightGCN with graphrec's ``[train]``
defaults, both untrained (the cost does not depend on the weights), and times
``recommend(user, target, k=10)`` for single users (p50/p99 over ``--calls`` calls after 3
warm-up calls) and for one batch of ``--batch`` distinct users. With ``--keep-memory`` the
process first calls :func:`graphrec.training.memory.keep_freed_memory` (what training does
under ``[train] keep_memory``), as a serving process may. Usage::

    .venv/bin/python -m benchmarks.path_serving ../shared/data/cdrib_amazon [--keep-memory]
"""

from __future__ import annotations

import argparse
import resource
import time

import numpy as np
import torch

from benchmarks.report import command_line, write_results
from graphrec.data.graph import GraphIndex, build_graph
from graphrec.models import build_model
from graphrec.models.path_gnn import PathGNN, PathGraph, prepare_path_graph
from graphrec.pyg import HeteroData
from graphrec.serving import Recommender
from graphrec.serving.path_recommender import PathRecommender
from graphrec.strategies.path_gnn import PathGNNConfig
from graphrec.training import TrainConfig
from graphrec.training.memory import keep_freed_memory
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables
from loaders import load_dataset


def timings(rec: Recommender, users: list[str], target: str, calls: int, batch: int,
            rng: np.random.Generator) -> dict:
    """p50/p99 milliseconds of single-user ``recommend`` and users per second of one batch."""
    for u in rng.choice(users, 3):
        rec.recommend(u, target, k=10)
    times = []
    for u in rng.choice(users, calls):
        start = time.perf_counter()
        rec.recommend(u, target, k=10)
        times.append(time.perf_counter() - start)
    ms = 1000 * np.array(times)
    chosen = list(rng.choice(users, batch, replace=False))
    start = time.perf_counter()
    rec.recommend(chosen, target, k=10)
    return {"p50_ms": round(float(np.percentile(ms, 50)), 1),
            "p99_ms": round(float(np.percentile(ms, 99)), 1),
            "batch_users_per_s": round(batch / (time.perf_counter() - start), 1)}


def pair_parser(description: str) -> argparse.ArgumentParser:
    """The arguments of the ``path-gnn`` cost scripts: a CDRIB-style folder, ``--pair`` and
    ``--keep-memory``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("path", help="A CDRIB-style folder (pairs X_Y and Y_X).")
    parser.add_argument("--pair", default=None, help="One folder name of the pair (X_Y).")
    parser.add_argument("--keep-memory", action="store_true",
                        help="Keep freed memory in the process (graphrec.training.memory).")
    return parser


def load_pair(args: argparse.Namespace) -> tuple[KGTables, str]:
    """The pair's tables and its first domain (the target), after keeping freed memory when
    ``--keep-memory`` asks for it."""
    if args.keep_memory:
        keep_freed_memory()
    tables = load_dataset("cdrib", args.path, {"pair": args.pair}).tables
    return tables, sorted(set(tables.interactions["scenario"]))[0]


def untrained_path_gnn(tables: KGTables) -> tuple[HeteroData, GraphIndex, PathGraph, PathGNN]:
    """The graph of every scenario's training interactions as the ``path-gnn`` strategy builds
    it (no co-interaction edges) and a ``PathGNN`` with the ``[strategy.path-gnn]`` defaults
    (weights from torch's current random state)."""
    data, index = build_graph(tables, TRAIN_SPLITS, None, 0)
    graph = prepare_path_graph(data)
    settings = PathGNNConfig()
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], settings.dim,
                    settings.num_layers, settings.item_embeddings,
                    graph.num_attribute_values, settings.attribute_embeddings,
                    dropout=settings.dropout)
    return data, index, graph, model


def main() -> None:
    parser = pair_parser(__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args()
    tables, target = load_pair(args)
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    rows = []
    defaults = TrainConfig()
    data, index = build_graph(tables, TRAIN_SPLITS, None, defaults.co_interactions,
                              defaults.co_support, defaults.co_weighted)
    model = build_model(defaults.model, data, defaults.dim, defaults.num_layers, seed=0)
    rec = Recommender(model, model.prepare_graph(data), index, tables, target=target)
    users = list(index.ids["user"])
    rows.append({"model": f"{defaults.model} (embeddings)", "nodes": int(data.num_nodes),
                 **timings(rec, users, target, args.calls, args.batch, rng)})
    print(rows[-1], flush=True)
    data, index, graph, path = untrained_path_gnn(tables)
    rec = PathRecommender(path, graph, index, tables, target=target)
    rows.append({"model": "path-gnn (queries)", "nodes": int(data.num_nodes),
                 **timings(rec, list(index.ids["user"]), target, args.calls, args.batch, rng)})
    print(rows[-1], flush=True)
    name = "path_serving_keep_memory" if args.keep_memory else "path_serving"
    write_results(name, rows, ["model", "nodes", "p50_ms", "p99_ms", "batch_users_per_s"],
                  command_line("benchmarks.path_serving"),
                  dataset=args.path, target=target, batch=args.batch, calls=args.calls,
                  threads=torch.get_num_threads(), keep_memory=args.keep_memory,
                  peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)


if __name__ == "__main__":
    main()
