"""Data efficiency: target-scenario NDCG@20 against the amount of target training data used.

For each fraction (default 1%, 5%, 10%, 25%, 100%) the target scenario keeps that share of its
training interactions (nested subsets: one permutation per seed, cut at different lengths;
:func:`graphrec.splits.subsample_training`), or with ``--shots 5,20,50`` that many per user
(``--per user``) or in all (``--per scenario``; :func:`graphrec.splits.k_shot`). The source
scenarios keep all of theirs, and every strategy is trained, selected on the target's ``valid``
split and scored on its ``test`` split (full ranking over the target's items, all test users).
Mean and standard deviation over seeds; the mean adaptation time (seconds spent on the target
alone: the whole run for target-only, the target stage for finetune, reptile, maml and shot);
a PNG of the curves. Usage::

    .venv/bin/python -m benchmarks.data_efficiency                       # synthetic
    .venv/bin/python -m benchmarks.data_efficiency --shots 5,20,50 --per scenario
    .venv/bin/python -m benchmarks.data_efficiency --dataset xmarket \\
        --path ../shared/data/xmarket_electronics --target de --leave-one-out \\
        --shots 5,20,50 --per user --seeds 0
"""

from __future__ import annotations

import argparse
import platform
import time
from pathlib import Path

import numpy as np
import torch

from benchmarks.report import (
    command_line,
    save_figure,
    strategy_options,
    train_config,
    write_results,
)
from graphrec.data.splits import k_shot, leave_one_out, subsample_training
from graphrec.strategies import run_strategy
from loaders import get_loader

DEFAULT_STRATEGIES = ("popularity,item-knn,target-only,joint,finetune,adabn,reptile,maml,shot,"
                      "guarded")


def plot(fractions: list[float], curves: dict[str, np.ndarray], title: str, out: Path) -> None:
    """``curves``: strategy -> ``[len(fractions), n_seeds]`` NDCG@20 values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    x = [100 * f for f in fractions]
    for name, values in curves.items():
        ax.errorbar(x, values.mean(1), yerr=values.std(1), marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xticks(x, [f"{v:g}%" for v in x])
    ax.set_xlabel("share of the target scenario's training interactions")
    ax.set_ylabel("test NDCG@20 (full ranking)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    save_figure(fig, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--path", default="-")
    parser.add_argument("--target", default="cosmetics")
    parser.add_argument("--fractions", default="0.01,0.05,0.1,0.25,1.0")
    parser.add_argument("--strategies", default=DEFAULT_STRATEGIES)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Epoch cap (default graphrec's own, TrainConfig.epochs).")
    parser.add_argument("--shots", default=None,
                        help="k-shot settings instead of fractions, e.g. 5,20,50")
    parser.add_argument("--per", default="user", choices=("user", "scenario"))
    parser.add_argument("--leave-one-out", action="store_true",
                        help="split the target leave-one-out first (data sets without splits)")
    parser.add_argument("--plot", type=Path, default=Path("docs/img/data_efficiency.png"))
    parser.add_argument("--train", default="{}",
                        help="JSON [train] settings over graphrec's defaults, e.g. "
                             "'{\"negative_pool\": \"all\"}'.")
    parser.add_argument("--options", default="{}",
                        help="JSON settings of strategies over graphrec's defaults, e.g. "
                             "'{\"path-gnn\": {\"weighting\": \"queries\"}}'.")
    parser.add_argument("--tag", default="",
                        help="Suffix of the results' file names (a variant beside the "
                             "headline rows) and no figure.")
    args = parser.parse_args()
    tables = get_loader(args.dataset)(args.path).tables
    if args.leave_one_out:
        tables = leave_one_out(tables, args.target)
    shots = [int(k) for k in args.shots.split(",")] if args.shots else None
    fractions = shots or [float(f) for f in args.fractions.split(",")]
    strategies = args.strategies.split(",")
    seeds = [int(s) for s in args.seeds.split(",")]
    options = strategy_options(args.options)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; data {args.dataset} {args.path}, target {args.target}, "
          f"seeds {seeds}\n")
    curves = {name: np.zeros((len(fractions), len(seeds))) for name in strategies}
    rows: list[dict] = []
    seconds = {name: 0.0 for name in strategies}
    adapt = {name: [] for name in strategies}
    for fi, amount in enumerate(fractions):
        for si, seed in enumerate(seeds):
            part = (k_shot(tables, args.target, amount, args.per, seed) if shots
                    else subsample_training(tables, args.target, amount, seed))
            config = train_config(args.train, args.epochs, seed=seed)
            for name in strategies:
                start = time.perf_counter()
                result = run_strategy(name, part, args.target, config, progress=False,
                                      options=options)
                seconds[name] += time.perf_counter() - start
                curves[name][fi, si] = result.test["all"]["ndcg@20"]
                rows.append({"amount": amount, "seed": seed, "method": name,
                             "valid_ndcg@20": round(result.valid_score, 4),
                             "test_ndcg@20": round(result.test["all"]["ndcg@20"], 4),
                             "best_epoch": result.best_epoch, "stopped": result.stopped})
                if result.adapt_seconds is not None:
                    adapt[name].append(result.adapt_seconds)
                elif name == "target-only":
                    adapt[name].append(result.seconds)
            print(f"{'shots' if shots else 'fraction'} {amount:g} seed {seed}: " + ", ".join(
                f"{n} {curves[n][fi, si]:.4f}" for n in strategies), flush=True)
    head = " | ".join(f"{k} per {args.per}" if shots else f"{100 * k:g}%" for k in fractions)
    print(f"\n| strategy | {head} | adaptation s (mean) | seconds (all runs) |")
    print("|---|" + "---|" * len(fractions) + "---|---|")
    for name in strategies:
        cells = " | ".join(f"{v.mean():.4f} ± {v.std():.4f}" for v in curves[name])
        ad = f"{np.mean(adapt[name]):.1f}" if adapt[name] else "-"
        print(f"| {name} | {cells} | {ad} | {seconds[name]:.0f} |")
    kind = f"shots_per_{args.per}" if shots else "fractions"
    tag = f"_{args.tag}" if args.tag else ""
    write_results(f"data_efficiency_{args.dataset}_{kind}{tag}", rows,
                  ["amount", "seed", "method", "valid_ndcg@20", "test_ndcg@20", "best_epoch",
                   "stopped"], command_line("benchmarks.data_efficiency"),
                  seeds=seeds, dataset=f"{args.dataset} {args.path}", target=args.target,
                  protocol="target test split, full ranking over the target's items, all test "
                           "users, ties by expected rank; epoch selected on target valid")
    if shots or args.tag:
        return  # the figure is drawn for the headline fraction sweeps
    plot(fractions, curves, f"{args.dataset}: target {args.target}", args.plot)
    print(f"\nplot: {args.plot}")


if __name__ == "__main__":
    main()
