"""Cold-start users on CDRIB Amazon game <-> video: authors' sampled protocol and full ranking.

For each direction (target ``game``: users served from their video history; target ``video``:
from their game history) every strategy is trained on the pair's training interactions, its
epoch is selected on the target's ``valid.txt`` (full-ranking NDCG@20, all valid users), and the
selected model is scored on ``test.txt`` under

* the CDRIB authors' protocol (as described in shared/data/PEERS.md): each test row's positive
  against 999 negatives drawn once, uniformly with replacement, from the domain's training
  items (seed 2022); the user's own test items are excluded from the draw for the game test
  only; rank = number of candidates scoring strictly higher (ties favour the positive, as the
  authors' code does); metrics averaged over rows;
* full ranking over all items of the domain, the user's other held-out items excluded,
  averaged over users (NDCG@10/20, Recall@20).

95% intervals: bootstrap over test users (1,000 resamples). Usage::

    .venv/bin/python -m benchmarks.cdrib ../shared/data/cdrib_amazon [--epochs 20] [--model sage]
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import torch

from benchmarks.report import print_table, with_ci
from graphrec.evaluation import Protocol, evaluate
from graphrec.strategies import run_strategy
from graphrec.training import TrainConfig
from loaders import get_loader

KS = (1, 5, 10)
SAMPLED_KEYS = ("mrr", "ndcg@5", "ndcg@10", "hr@1", "hr@5", "hr@10")


def authors_protocol(domain: str) -> Protocol:
    """The CDRIB authors' sampled protocol for ``domain``'s test (see the module docstring)."""
    return Protocol("sampled", negatives=999, seed=2022, exclude_own=(domain == "game"),
                    average="rows", ties="optimistic")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--epochs", type=int, default=20)
    # target-only (and the mf model) are left out: cold-start users have no target interaction,
    # so their scores are all equal, and the authors' tie rule (ties favour the positive) would
    # rank every positive first
    parser.add_argument("--strategies",
                        default="popularity,item-knn,joint,finetune,feature-extraction,adabn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="lightgcn", help="Registered model name.")
    parser.add_argument("--id-dropout", type=float, default=0.0,
                        help="Share of user/item id embeddings dropped per training step.")
    parser.add_argument("--options", default="{}",
                        help='JSON settings per strategy, e.g. \'{"reptile": {"iterations": 50}}\'')
    args = parser.parse_args()
    options = json.loads(args.options)
    tables = get_loader("cdrib")(args.path).tables
    config = TrainConfig(model=args.model, epochs=args.epochs, patience=4, seed=args.seed,
                         id_dropout=args.id_dropout)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, Python "
          f"{platform.python_version()}, torch {torch.__version__}; seed {args.seed}; "
          f"{config}\n")
    sampled_lines, full_lines = [], []
    for domain in ("game", "video"):
        for name in args.strategies.split(","):
            start = time.perf_counter()
            result = run_strategy(name, tables, domain, config, progress=False, options=options)
            seconds = time.perf_counter() - start
            sampled = evaluate(result.scorer, result.index, tables, domain, "test", KS,
                               ("all",), authors_protocol(domain), ("train",), bootstrap=1000)
            m = sampled["all"]
            epochs_run = len(result.history) or 0
            per_epoch = (seconds / epochs_run) if epochs_run else 0.0
            cells = [with_ci(m, key) if key in ("mrr", "ndcg@10") else f"{m[key]:.4f}"
                     for key in SAMPLED_KEYS]
            sampled_lines.append(f"| {domain} | {name} | {' | '.join(cells)} | "
                                 f"{result.best_epoch} | {per_epoch:.1f} | {seconds:.0f} |")
            full = evaluate(result.scorer, result.index, tables, domain, "test", (10, 20),
                            ("all",), train_splits=("train",), bootstrap=1000)["all"]
            full_lines.append(
                f"| {domain} | {name} | {full['ndcg@10']:.4f} | {with_ci(full, 'ndcg@20')} | "
                f"{full['recall@20']:.4f} | {full['mrr']:.4f} | {full['coverage@20']:.3f} | "
                f"{full['users']} |")
            print(f"{sampled_lines[-1]}  valid NDCG@20 {result.valid_score:.4f}", flush=True)
    print("\nAuthors' protocol (999 sampled negatives, averaged over test rows):\n")
    print_table(["domain", "method", "MRR [95% CI]", "N@5", "N@10 [95% CI]", "H@1", "H@5",
                 "H@10", "epoch", "s/epoch", "total s"], sampled_lines)
    print("\nFull ranking over all items of the domain (averaged over test users):\n")
    print_table(["domain", "method", "NDCG@10", "NDCG@20 [95% CI]", "Recall@20", "MRR",
                 "coverage@20", "users"], full_lines)


if __name__ == "__main__":
    main()
