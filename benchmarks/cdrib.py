"""Cold-start users on CDRIB Amazon game <-> video: authors' sampled protocol and full ranking.

For each direction (target ``game``: users served from their video history; target ``video``:
from their game history) every strategy is trained on the pair's training interactions, its
epoch (and a hybrid's blend weight) is selected on the target's ``valid.txt`` (``--select
full``, the default: full-ranking NDCG@20, all valid users; ``--select sampled``: NDCG@20 of
each valid row's positive among 999 negatives drawn as for the test below, ties by expected
rank, :func:`valid_protocol`), and the selected model is scored on ``test.txt`` under

* the CDRIB authors' protocol (as described in shared/data/PEERS.md): each test row's positive
  against 999 negatives drawn once, uniformly with replacement, from the domain's training
  items (seed 2022); the user's own test items are excluded from the draw for the game test
  only; rank = number of candidates scoring strictly higher (ties favour the positive, as the
  authors' code does); metrics averaged over rows;
* full ranking over all items of the domain, the user's other held-out items excluded,
  averaged over users (NDCG@10/20, Recall@20).

95% intervals: bootstrap over test users (1,000 resamples). Every method is also compared
with ``--baseline`` (default item-kNN) on the same users and draws: the ratio of the means with
a paired bootstrap interval (whole users resampled for both), and the share of resamples in
which it is ahead (the rows' ``vs_<baseline>``). Usage::

    .venv/bin/python -m benchmarks.cdrib ../shared/data/cdrib_amazon [--epochs 20] [--model sage]
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

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
from graphrec.evaluation import Protocol, evaluate, without_values
from graphrec.strategies import run_strategy
from loaders import load_dataset
from loaders.cdrib import find_pair

KS = (1, 5, 10)
SAMPLED_KEYS = ("mrr", "ndcg@5", "ndcg@10", "hr@1", "hr@5", "hr@10")


def authors_protocol(domain: str, first: str = "game", ties: str = "optimistic") -> Protocol:
    """The CDRIB authors' sampled protocol for ``domain``'s test (see the module docstring):
    their draw excludes the user's own items only for the pair's first domain (``first``).
    ``ties="expected"`` scores the same draws with ties broken by expected rank."""
    return Protocol("sampled", negatives=999, seed=2022, exclude_own=(domain == first),
                    average="rows", ties=ties)


def valid_protocol(domain: str, first: str = "game") -> Protocol:
    """The sampled protocol of ``--select sampled``: the test's draw rule
    (:func:`authors_protocol`) on the valid split, ties by expected rank, scored by NDCG@k
    (what every strategy selects on)."""
    return authors_protocol(domain, first, ties="expected")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--pair", default=None, help="One folder name of the pair (X_Y) when "
                                                     "the path holds several.")
    # target-only (and the mf model) are left out: cold-start users have no target interaction,
    # so their scores are all equal, and the authors' tie rule (ties favour the positive) would
    # rank every positive first
    parser.add_argument("--strategies",
                        default="popularity,item-knn,ease,joint,finetune,feature-extraction,adabn,"
                                "hybrid,path-gnn")
    parser.add_argument("--model", default="lightgcn", help="Registered model name.")
    parser.add_argument("--select", choices=("full", "sampled"), default="full",
                        help="Validation protocol of epoch and blend selection.")
    add_run_arguments(parser, "cdrib_<domains>_<tag>", baseline="item-knn")
    args = parser.parse_args()
    options = strategy_options(args.options)
    tables = load_dataset("cdrib", args.path, {"pair": args.pair}).tables
    first = find_pair(Path(args.path), args.pair)[0].name.partition("_")[0]
    domains = [first] + [d for d in sorted(tables.scenarios["scenario"]) if d != first]
    config = train_config(args.train, args.epochs, model=args.model, seed=args.seed)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, Python "
          f"{platform.python_version()}, torch {torch.__version__}; seed {args.seed}; "
          f"{config}\n")
    sampled_lines, full_lines, rows, kept = [], [], [], []
    for domain in domains:
        shared: dict = {}  # path-gnn trained once for a hybrid on it (StrategyRun.once)
        for name in args.strategies.split(","):
            start = time.perf_counter()
            select = valid_protocol(domain, first) if args.select == "sampled" else None
            result = run_strategy(name, tables, domain, config, progress=False, options=options,
                                  protocol=select, shared=shared)
            seconds = time.perf_counter() - start
            sampled = evaluate(result.scorer, result.index, tables, domain, "test", KS,
                               ("all",), authors_protocol(domain, first), ("train",),
                               bootstrap=1000)
            m = sampled["all"]
            fair = evaluate(result.scorer, result.index, tables, domain, "test", KS, ("all",),
                            authors_protocol(domain, first, "expected"), ("train",),
                            bootstrap=1000, keep_values=True)["all"]
            epochs_run = len(result.history) or 0
            per_epoch = (seconds / epochs_run) if epochs_run else 0.0
            cells = [with_ci(m, key) if key in ("mrr", "ndcg@10") else f"{m[key]:.4f}"
                     for key in SAMPLED_KEYS]
            sampled_lines.append(f"| {domain} | {name} | {with_ci(fair, 'mrr')} | "
                                 f"{fair['ndcg@10']:.4f} | {' | '.join(cells)} | "
                                 f"{result.best_epoch} | {per_epoch:.1f} | {seconds:.0f} |")
            full = evaluate(result.scorer, result.index, tables, domain, "test", (10, 20),
                            ("all",), train_splits=("train",), bootstrap=1000,
                            keep_values=True)["all"]
            kept.append({"mrr_expected": (fair, "mrr"), "full_ndcg@20": (full, "ndcg@20")})
            full_lines.append(
                f"| {domain} | {name} | {full['ndcg@10']:.4f} | {with_ci(full, 'ndcg@20')} | "
                f"{full['recall@20']:.4f} | {full['mrr']:.4f} | {full['coverage@20']:.3f} | "
                f"{full['users']} |")
            rows.append({"domain": domain, "method": name,
                         "valid_ndcg@20": round(result.valid_score, 4),
                         "best_epoch": result.best_epoch, "epochs_run": epochs_run,
                         "epoch_cap": config.epochs, "stopped": result.stopped,
                         "valid_curve": valid_curve(result), "seconds": round(seconds, 1),
                         "sampled_expected": without_values(fair),
                         "sampled_authors_ties": m, "full_expected": without_values(full),
                         "mrr_expected": round(fair["mrr"], 4),
                         "mrr_authors_ties": round(m["mrr"], 4),
                         "full_ndcg@20": round(full["ndcg@20"], 4),
                         "decision": result.decision})
            print(f"{sampled_lines[-1]}  valid NDCG@20 {result.valid_score:.4f}", flush=True)
    command = command_line("benchmarks.cdrib")
    paired, paired_columns = add_paired(rows, kept, args.baseline, "domain")
    columns = ["domain", "method", "valid_ndcg@20", "mrr_expected", "mrr_authors_ties",
               "full_ndcg@20", "best_epoch", "epochs_run", "stopped", "seconds",
               *paired_columns]
    model = "" if args.model == "lightgcn" else f"_{args.model}"  # other models: own file
    tag = f"_{args.tag}" if args.tag else ""
    write_results(f"cdrib_{'_'.join(domains)}{model}{tag}", rows, columns, command,
                  seed=args.seed, dataset=str(args.path), config=str(config),
                  protocol="test split; sampled: the authors' 999 negatives, averaged over "
                           "rows, ties by expected rank (sampled_expected) and by the authors' "
                           "rule (sampled_authors_ties); full: all items, expected ties, "
                           "averaged over users; epoch selected on valid ("
                           + ("full NDCG@20" if args.select == "full" else
                              "NDCG@20 of each row among the test's draw rule of 999 sampled "
                              "negatives, expected ties") + ")")
    print("\nAuthors' protocol (999 sampled negatives, averaged over test rows); first two "
          "metric columns with ties broken by expected rank, the rest with the authors' rule "
          "(ties favour the positive):\n")
    print_table(["domain", "method", "MRR, expected ties [95% CI]", "N@10, expected ties",
                 "MRR [95% CI]", "N@5", "N@10 [95% CI]", "H@1", "H@5", "H@10", "epoch",
                 "s/epoch", "total s"], sampled_lines)
    print("\nFull ranking over all items of the domain (averaged over test users):\n")
    print_table(["domain", "method", "NDCG@10", "NDCG@20 [95% CI]", "Recall@20", "MRR",
                 "coverage@20", "users"], full_lines)
    print_paired(paired, args.baseline, ["domain", "method", "MRR, expected ties",
                                         "full NDCG@20"])


if __name__ == "__main__":
    main()
