"""System performance: training seconds per epoch and peak memory per data set, the same epoch
with PyG's stock ``LightGCN``, and ``recommend()`` latency over 10^5 items.

Each data set runs in its own child process so that its peak resident memory (``ru_maxrss``)
is its own. Training: graphrec's heterogeneous LightGCN (64 dims, 2 layers, BPR, batch 4,096)
over every scenario of the data set, ``--epochs`` epochs timed without validation; then PyG's
``torch_geometric.nn.models.LightGCN`` (same dims, layers, batch and loss) on the user-item
edges of the same graph. Serving: a model trained ``--train-epochs`` epochs with graphrec's
defaults over a synthetic graph with 10^5 items in one scenario;
``Recommender.recommend(user, scenario, k=10)`` called for single users (seen items excluded),
p50/p99 over ``--calls`` calls after 20 warm-up calls; then batches of 1,000 users, scored
exactly and with the inverted-file index (``approximate=True``) at several probe counts, with
the index's recall@10 against the exact top 10. Usage::

    .venv/bin/python -m benchmarks.system --data cdrib=../shared/data/cdrib_amazon \\
        --data ml1m=../shared/data/ml1m_coldstart --data amazon-hin=../shared/data/amazon_hin
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

import numpy as np
import torch
from torch import nn

from benchmarks.report import command_line, write_results
from graphrec.data.graph import build_graph
from graphrec.models import build_model
from graphrec.serving.ivf import DEFAULT_PROBES
from kg import schema
from loaders import SyntheticConfig, generate_synthetic, get_loader

TRAIN_SPLITS = ("train", "all", "meta_training")
BATCH_USERS = 1000
P99_BAR_MS = 2.0
BATCH_BAR_USERS_PER_S = 20_000
#: cells probed per user in the approximate rows (graphrec.serving.ivf.DEFAULT_PROBES among them)
PROBES = (4, 8, 16, 32)


def _bpr_epoch(embed, users: torch.Tensor, items: torch.Tensor, pool: np.ndarray,
               params, batch_size: int, rng: np.random.Generator) -> float:
    """One BPR epoch; ``embed()`` -> (user [U, d], item [I, d]). Returns seconds."""
    opt = torch.optim.Adam(params, lr=0.01)
    neg = torch.as_tensor(pool[rng.integers(len(pool), size=len(users))])
    order = torch.as_tensor(rng.permutation(len(users)))
    start = time.perf_counter()
    for s in range(0, len(order), batch_size):
        b = order[s:s + batch_size]
        user_emb, item_emb = embed()
        u = user_emb[users[b]]
        diff = (u * item_emb[items[b]]).sum(-1) - (u * item_emb[neg[b]]).sum(-1)
        loss = -nn.functional.logsigmoid(diff).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return time.perf_counter() - start


def train_one(name: str, path: str, epochs: int, batch_size: int) -> dict:
    """Time graphrec's and PyG's LightGCN epochs on one data set (run in a child process)."""
    from torch_geometric.nn.models import LightGCN

    tables = get_loader(name)(path).tables
    data, index = build_graph(tables, TRAIN_SPLITS)
    users, items = data[schema.USER_ITEM].edge_index
    pool = np.arange(data["item"].num_nodes)
    rng = np.random.default_rng(0)
    model = build_model("lightgcn", data, 64, 2, seed=0)
    graph = model.prepare_graph(data)
    torch.manual_seed(0)

    def ours():
        out = model(graph)
        return out["user"], out["item"]

    ours_s = [_bpr_epoch(ours, users, items, pool, model.parameters(), batch_size, rng)
              for _ in range(epochs)]
    n_users = data["user"].num_nodes
    shifted = items + n_users
    edge_index = torch.cat([torch.stack([users, shifted]), torch.stack([shifted, users])], 1)
    stock = LightGCN(n_users + data["item"].num_nodes, 64, 2)

    def theirs():
        out = stock.get_embedding(edge_index)
        return out[:n_users], out[n_users:]

    stock_s = [_bpr_epoch(theirs, users, items, pool, stock.parameters(), batch_size, rng)
               for _ in range(epochs)]
    return {"data": name, "pairs": int(users.numel()),
            "edges": int(sum(data[et].edge_index.shape[1] for et in data.edge_types)),
            "graphrec_s": float(np.median(ours_s)), "stock_s": float(np.median(stock_s)),
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _recall(approx, exact) -> float:
    """Mean share of each user's exact top-k that the approximate top-k found."""
    found = approx.groupby("user_id")["item_id"].agg(set)
    truth = exact.groupby("user_id")["item_id"].agg(set)
    return float(np.mean([len(found.get(u, set()) & t) / len(t) for u, t in truth.items()]))


def latency(n_items: int, calls: int, train_epochs: int) -> dict:
    """p50/p99 of single-user ``recommend`` over a scenario of ``n_items`` items, the
    throughput of batches of :data:`BATCH_USERS` users exactly and with the inverted-file
    index at several probe counts, and that index's recall@10 against exact search."""
    from graphrec.serving import Recommender
    from graphrec.strategies import run_strategy
    from graphrec.training import TrainConfig

    config = SyntheticConfig(n_users=2000, items_per_scenario=n_items, source_scenarios=(),
                             target_scenario="shop", target_user_fraction=1.0,
                             target_interactions=20, seed=0)
    tables = generate_synthetic(config).tables
    # a trained model, so that the index's cells follow real structure (latency alone does
    # not depend on the weights; recall does)
    start = time.perf_counter()
    trained = run_strategy("target-only", tables, "shop",
                           TrainConfig(epochs=train_epochs, seed=0), progress=False)
    train_s = time.perf_counter() - start
    rec = Recommender(trained.model, trained.graph, trained.index, tables, target="shop")
    users = trained.index.ids["user"]
    rng = np.random.default_rng(0)
    for u in rng.choice(users, 20):
        rec.recommend(u, "shop", k=10)
    times = []
    for u in rng.choice(users, calls):
        start = time.perf_counter()
        rec.recommend(u, "shop", k=10)
        times.append(time.perf_counter() - start)
    ms = 1000 * np.array(times)
    batches = [list(rng.choice(users, BATCH_USERS, replace=False)) for _ in range(5)]

    def throughput(**kwargs) -> tuple[float, list]:
        seconds, outs = [], []
        for chosen in batches:  # batches of BATCH_USERS distinct users, median of 5
            start = time.perf_counter()
            outs.append(rec.recommend(chosen, "shop", k=10, **kwargs))
            seconds.append(time.perf_counter() - start)
        return float(BATCH_USERS / np.median(seconds)), outs

    exact_rate, exact = throughput()
    start = time.perf_counter()
    index = rec.item_index("shop")  # built once per scenario and cached
    build_s = time.perf_counter() - start
    approximate = []
    for probes in PROBES:
        rate, outs = throughput(approximate=True, probes=probes)
        approximate.append({"probes": probes, "users_per_s": rate,
                            "recall_at_10": float(np.mean([_recall(a, e) for a, e in
                                                           zip(outs, exact, strict=True)]))})
    return {"items": len(trained.index.scenario_items("shop")),
            "p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99)),
            "batch_users_per_s": exact_rate, "cells": index.clusters,
            "index_build_s": build_s, "train_s": train_s, "train_epochs": train_epochs,
            "approximate": approximate,
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", action="append", default=[],
                        help="NAME=PATH of a registered loader (repeatable); synthetic always.")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--calls", type=int, default=500)
    parser.add_argument("--train-epochs", type=int, default=10,
                        help="Epochs of the served model (trained so recall is meaningful).")
    parser.add_argument("--serving-only", action="store_true",
                        help="Only the recommend() latency and batch throughput.")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:  # one measurement in this process, printed as JSON
        kind, _, rest = args.child.partition(":")
        if kind == "latency":
            out = latency(args.items, args.calls, args.train_epochs)
        else:
            name, _, path = rest.partition("=")
            out = train_one(name, path, args.epochs, args.batch_size)
        print(json.dumps(out))
        return
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, Python "
          f"{platform.python_version()}, torch {torch.__version__}\n")

    def child(spec: str) -> dict:
        cmd = [sys.executable, "-m", "benchmarks.system", "--child", spec, "--epochs",
               str(args.epochs), "--batch-size", str(args.batch_size), "--items",
               str(args.items), "--calls", str(args.calls), "--train-epochs",
               str(args.train_epochs)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        return json.loads(done.stdout.strip().splitlines()[-1])

    rows = [] if args.serving_only else [child(f"train:{spec}")
                                         for spec in ["synthetic=-", *args.data]]
    if rows:
        print("| data set | training pairs | edges (with reverses) | graphrec s/epoch | "
              "PyG LightGCN s/epoch | ratio | peak RSS MB |")
        print("|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['data']} | {r['pairs']:,} | {r['edges']:,} | {r['graphrec_s']:.2f} | "
              f"{r['stock_s']:.2f} | {r['stock_s'] / r['graphrec_s']:.2f} | "
              f"{r['peak_mb']:,.0f} |")
    lat = child("latency:")
    print(f"\nrecommend(user, k=10) over {lat['items']:,} items: p50 {lat['p50_ms']:.2f} ms, "
          f"p99 {lat['p99_ms']:.2f} ms ({args.calls} calls; peak RSS {lat['peak_mb']:,.0f} MB)")
    print(f"\nbatches of {BATCH_USERS:,} users (model trained {lat['train_epochs']} epochs in "
          f"{lat['train_s']:.0f} s; index of {lat['cells']} cells built in "
          f"{lat['index_build_s']:.1f} s)\n")
    print("| search | probes | users/s | recall@10 vs exact |\n|---|---|---|---|")
    print(f"| exact | - | {lat['batch_users_per_s']:,.0f} | 1.000 |")
    for a in lat["approximate"]:
        print(f"| approximate | {a['probes']} | {a['users_per_s']:,.0f} | "
              f"{a['recall_at_10']:.3f} |")
    default = next(a for a in lat["approximate"] if a["probes"] == DEFAULT_PROBES)
    serving = {**{k: v for k, v in lat.items() if k != "approximate"}, "calls": args.calls,
               "batch_users": BATCH_USERS, "p99_bar_ms": P99_BAR_MS,
               "batch_bar_users_per_s": BATCH_BAR_USERS_PER_S,
               "p99_holds": lat["p99_ms"] <= P99_BAR_MS,
               "batch_holds": lat["batch_users_per_s"] >= BATCH_BAR_USERS_PER_S,
               "approximate_users_per_s": default["users_per_s"],
               "approximate_probes": DEFAULT_PROBES,
               "approximate_recall_at_10": default["recall_at_10"],
               "approximate_batch_holds": default["users_per_s"] >= BATCH_BAR_USERS_PER_S}
    command = command_line("benchmarks.system")
    write_results("system_serving", [serving], ["items", "p50_ms", "p99_ms",
                                                "batch_users_per_s", "p99_holds",
                                                "batch_holds", "approximate_users_per_s",
                                                "approximate_recall_at_10",
                                                "approximate_batch_holds"],
                  command,
                  protocol="synthetic graph, one scenario of --items items, 2,000 users, "
                           "target-only lightgcn (64 dims) trained --train-epochs epochs with "
                           "graphrec's defaults; single-user recommend(k=10) with seen items "
                           "excluded after 20 warm-up calls; batches of 1,000 distinct users, "
                           "median of 5; approximate: the inverted-file index at "
                           f"{DEFAULT_PROBES} probes (graphrec's default), recall@10 against "
                           "exact search on the same batches")
    write_results("system_serving_probes", lat["approximate"],
                  ["probes", "users_per_s", "recall_at_10"], command,
                  protocol="as system_serving; one row per probe count")
    if rows:
        write_results("system_training", rows, ["data", "pairs", "edges", "graphrec_s",
                                                "stock_s", "peak_mb"], command,
                      protocol=f"median of {args.epochs} BPR epochs, batch {args.batch_size}, "
                               "no validation, each data set in its own process")


if __name__ == "__main__":
    main()
