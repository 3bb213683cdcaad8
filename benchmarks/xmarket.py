"""A sparse target market helped by dense ones: XMarket electronics, target ``de``.

The target market is split leave-one-out (each user's latest rating is ``test``, the one before
``valid``; users with at least three ratings), the source markets (default ``uk`` and ``ca``)
keep all their ratings for training. Markets share products: the same ASIN in two markets is
joined by a ``SAME_PRODUCT`` link and an ``asin`` attribute node, the only bridge (users are
per market). Every strategy selects its epoch on ``valid`` and is scored on ``test`` under

* the XMarket paper's protocol (Bonab et al., CIKM 2021): the held-out item against 99
  negatives sampled from the market's training items (the user's own items skipped), NDCG@10
  and HR@10 averaged over users;
* full ranking over all items of the target market (NDCG@10, Recall@10, MRR; ties by
  expected rank).

The epoch (and the ``hybrid`` blend weight) is selected on ``valid`` under full ranking
(``--select full``, the protocol of the bars) or the paper's sampled protocol
(``--select sampled``). graphrec's default ``[train]`` settings, except ``k = 10``. 95%
bootstrap intervals over test users, and each method's ratio to ``--baseline`` (default
item-kNN) with a paired bootstrap interval over the same users; rows also go to
``benchmarks/results/`` as JSON. Usage::

    .venv/bin/python -m benchmarks.xmarket ../shared/data/xmarket_electronics [--target de]
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from benchmarks.report import (
    add_paired,
    add_run_arguments,
    command_line,
    print_paired,
    print_table,
    strategy_options,
    train_config,
    valid_curve,
    with_ci,
    write_results,
)
from graphrec.data.splits import leave_one_out
from graphrec.evaluation import Protocol, evaluate, without_values
from graphrec.strategies import run_strategy
from loaders import get_loader

SAMPLED = Protocol("sampled", negatives=99, seed=2021)
DEFAULT_STRATEGIES = ("popularity,item-knn,ease,target-only,joint,finetune,adabn,hybrid,"
                      "path-gnn")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--target", default="de")
    parser.add_argument("--sources", default="uk,ca",
                        help='Comma-separated source markets; "" for the target alone (what '
                             'a strategy reaches without transfer).')
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    parser.add_argument("--select", choices=("full", "sampled"), default="full",
                        help="Validation protocol of epoch and blend selection.")
    add_run_arguments(parser, "xmarket_<target>_<tag>", baseline="item-knn")
    args = parser.parse_args()
    options = strategy_options(args.options)
    markets = [args.target, *(m for m in args.sources.split(",") if m)]
    tables = get_loader("xmarket")(args.path, markets=markets).tables
    tables = leave_one_out(tables, args.target)
    inter = tables.interactions
    target = inter[inter["scenario"] == args.target]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; markets {markets}; target splits "
          f"{target['split'].value_counts().to_dict()}; seed {args.seed}\n")
    config = train_config(args.train, args.epochs, k=10, seed=args.seed)
    lines, rows, kept = [], [], []
    shared: dict = {}  # path-gnn trained once for a hybrid on it (StrategyRun.once)
    for name in args.strategies.split(","):
        start = time.perf_counter()
        result = run_strategy(name, tables, args.target, config, progress=False,
                              protocol=SAMPLED if args.select == "sampled" else None,
                              options=options, shared=shared)
        seconds = time.perf_counter() - start
        s = evaluate(result.scorer, result.index, tables, args.target, "test", (10,), ("all",),
                     SAMPLED, bootstrap=1000, keep_values=True)["all"]
        f = evaluate(result.scorer, result.index, tables, args.target, "test", (10,), ("all",),
                     bootstrap=1000, keep_values=True)["all"]
        kept.append({"full_ndcg@10": (f, "ndcg@10"), "sampled_ndcg@10": (s, "ndcg@10")})
        lines.append(
            f"| {name} | {with_ci(s, 'ndcg@10')} | {s['hr@10']:.4f} | {with_ci(f, 'ndcg@10')} | "
            f"{f['recall@10']:.4f} | {f['mrr']:.4f} | {s['users']} | {result.best_epoch} |")
        print(lines[-1], flush=True)
        rows.append({"method": name, "valid": round(result.valid_score, 4),
                     "full_ndcg@10": round(f["ndcg@10"], 4),
                     "sampled_ndcg@10": round(s["ndcg@10"], 4),
                     "best_epoch": result.best_epoch, "epochs_run": len(result.history),
                     "stopped": result.stopped, "valid_curve": valid_curve(result),
                     "seconds": round(seconds, 1),
                     "sampled": without_values(s), "full": without_values(f),
                     "decision": result.decision})
    command = command_line("benchmarks.xmarket")
    paired, paired_columns = add_paired(rows, kept, args.baseline)
    columns = ["method", "valid", "full_ndcg@10", "sampled_ndcg@10", "best_epoch",
               "epochs_run", "stopped", "seconds", *paired_columns]
    write_results(f"xmarket_{args.target}" + (f"_{args.tag}" if args.tag else ""), rows,
                  columns, command, seed=args.seed,
                  dataset=str(args.path), markets=markets, config=str(config),
                  protocol=f"target leave-one-out test; selection on valid ({args.select} "
                           "ranking, NDCG@10); sampled: 99 negatives (seed 2021), full: all "
                           "target items, ties by expected rank; averaged over users")
    print()
    print_table(["method", "sampled NDCG@10 [95% CI]", "sampled HR@10", "full NDCG@10 [95% CI]",
                 "full Recall@10", "full MRR", "users", "epoch"], lines)
    print_paired(paired, args.baseline, ["method", "full NDCG@10", "sampled NDCG@10"])


if __name__ == "__main__":
    main()
