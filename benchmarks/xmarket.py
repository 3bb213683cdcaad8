"""A sparse target market helped by dense ones: XMarket electronics, target ``de``.

The target market is split leave-one-out (each user's latest rating is ``test``, the one before
``valid``; users with at least three ratings), the source markets (default ``uk`` and ``ca``)
keep all their ratings for training. Markets share products: the same ASIN in two markets is
joined by a ``SAME_PRODUCT`` link and an ``asin`` attribute node, the only bridge (users are
per market). Every strategy selects its epoch on ``valid`` and is scored on ``test`` under

* the XMarket paper's protocol (Bonab et al., CIKM 2021): the held-out item against 99
  negatives sampled from the market's training items (the user's own items skipped), NDCG@10
  and HR@10 averaged over users;
* full ranking over all items of the target market (NDCG@10, Recall@10, MRR).

95% bootstrap intervals over test users. Usage::

    .venv/bin/python -m benchmarks.xmarket ../shared/data/xmarket_electronics [--target de]
"""

from __future__ import annotations

import argparse
import platform

import torch

from benchmarks.report import print_table, with_ci
from graphrec.data.splits import leave_one_out
from graphrec.evaluation import Protocol, evaluate
from graphrec.strategies import run_strategy
from graphrec.training import TrainConfig
from loaders import get_loader

SAMPLED = Protocol("sampled", negatives=99, seed=2021)
DEFAULT_STRATEGIES = "popularity,item-knn,target-only,joint,finetune,adabn"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--target", default="de")
    parser.add_argument("--sources", default="uk,ca")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    markets = [args.target, *args.sources.split(",")]
    tables = get_loader("xmarket")(args.path, markets=markets).tables
    tables = leave_one_out(tables, args.target)
    inter = tables.interactions
    target = inter[inter["scenario"] == args.target]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; markets {markets}; target splits "
          f"{target['split'].value_counts().to_dict()}; seed {args.seed}\n")
    config = TrainConfig(epochs=args.epochs, patience=5, k=10, seed=args.seed)
    lines = []
    for name in args.strategies.split(","):
        result = run_strategy(name, tables, args.target, config, progress=False,
                              protocol=SAMPLED)
        s = evaluate(result.scorer, result.index, tables, args.target, "test", (10,), ("all",),
                     SAMPLED, bootstrap=1000)["all"]
        f = evaluate(result.scorer, result.index, tables, args.target, "test", (10,), ("all",),
                     bootstrap=1000)["all"]
        lines.append(
            f"| {name} | {with_ci(s, 'ndcg@10')} | {s['hr@10']:.4f} | {with_ci(f, 'ndcg@10')} | "
            f"{f['recall@10']:.4f} | {f['mrr']:.4f} | {s['users']} | {result.best_epoch} |")
        print(lines[-1], flush=True)
    print()
    print_table(["method", "sampled NDCG@10 [95% CI]", "sampled HR@10", "full NDCG@10 [95% CI]",
                 "full Recall@10", "full MRR", "users", "epoch"], lines)


if __name__ == "__main__":
    main()
