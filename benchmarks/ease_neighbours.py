"""Co-interaction edges chosen by EASE instead of cosine (validation only; an experiment).

The default graph links every item to its ``co_interactions`` most similar items of each
scenario by the cosine of their user columns (:mod:`graphrec.data.co_interactions`). EASE
(:class:`graphrec.evaluation.baselines.EASE`) beats cosine item-kNN as a scorer on CDRIB and
XMarket; this experiment asks whether its weights also pick better neighbours for the graph
model to propagate through. Item ``i``'s neighbours become the items ``j`` of each scenario
with the largest positive EASE weight ``B[j, i]`` (how much taking ``j`` predicts ``i``), among
the pairs that ``co_support`` users share, as before. Everything else is graphrec's defaults;
``joint`` is trained and selected on the target's ``valid`` split only (test splits are never
scored here).

    python -m benchmarks.ease_neighbours cdrib-game ../shared/data/cdrib_amazon --l2 100
    python -m benchmarks.ease_neighbours xmarket ../shared/data/xmarket_electronics --l2 100

Data sets and their selection protocol are those of ``benchmarks.levers``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
import torch

import graphrec.data.graph as graph_module
from benchmarks.cdrib import authors_protocol
from benchmarks.levers import DATA, load
from benchmarks.report import train_config
from graphrec.data.co_interactions import edge_tensor, top_per_group
from graphrec.evaluation import evaluate
from graphrec.evaluation.baselines import ease_weights
from graphrec.strategies import run_strategy


def ease_neighbour_edges(user_item: torch.Tensor, num_users: int, item_scenario: np.ndarray,
                         k: int, min_users: int = 1, l2: float = 100.0,
                         chunk: int = 512) -> torch.Tensor:
    """``[2, E]`` edges from each item ``i`` to the ``k`` items ``j`` of every scenario with the
    largest positive EASE weight ``B[j, i]``, pairs shared by fewer than ``min_users`` users
    left out (the signature of :func:`graphrec.data.co_interactions.co_interaction_edges`)."""
    num_items = len(item_scenario)
    users, items = user_item.cpu().numpy()
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                           shape=(num_users, num_items))
    matrix.data[:] = 1.0
    active = np.flatnonzero(np.asarray(matrix.sum(0)).ravel() > 0)
    history = matrix[:, active].tocsr()
    weights = ease_weights(history, l2)  # [a, a], weights[j, i]
    shared = (history.T @ history).tocsr()  # users taking both
    scenario = item_scenario[active]
    groups = [np.flatnonzero(scenario == s) for s in np.unique(scenario)]
    src, dst = [], []
    for start in range(0, len(active), chunk):
        part = np.arange(start, min(start + chunk, len(active)))
        scores = weights[:, part].T.copy()  # [chunk, a]: row i holds B[j, i] over j
        scores[np.arange(len(part)), part] = 0.0
        if min_users > 1:
            support = np.asarray(shared[part].todense())
            scores[support < min_users] = 0.0
        rows, cols = top_per_group(part, scores, groups, k)
        src.append(active[rows])
        dst.append(active[cols])
    return edge_tensor(src, dst)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", choices=sorted(DATA))
    parser.add_argument("path")
    parser.add_argument("--l2", type=float, default=100.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    target, k = DATA[args.data]
    tables, protocol = load(args.data, args.path)
    graph_module.co_interaction_edges = (
        lambda *a, **kw: ease_neighbour_edges(*a, **kw, l2=args.l2))
    config = train_config("{}", None, k=k, seed=args.seed)
    start = time.perf_counter()
    result = run_strategy("joint", tables, target, config, progress=False, protocol=protocol)
    seconds = time.perf_counter() - start
    mrr = "-"
    if args.data.startswith("cdrib"):
        res = evaluate(result.scorer, result.index, tables, target, "valid", (10,), ("all",),
                       authors_protocol(target, ties="expected"), ("train",))
        mrr = f"{res['all']['mrr']:.4f}"
    print(f"| {args.data} | joint, EASE neighbours (l2 {args.l2:g}) | valid NDCG@{k} "
          f"{result.valid_score:.4f} | valid MRR {mrr} | best epoch {result.best_epoch} of "
          f"{len(result.history)} | {result.stopped} | {seconds:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
