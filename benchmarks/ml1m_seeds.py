"""`path-gnn` trained at several seeds on MovieLens-1M cold movies, alone and averaged.

The same splits, protocol and selection as :mod:`benchmarks.ml1m`: each seed's model picks its
epoch on the validation movies; the average of the first ``n`` models' scores (``n`` = 2, 3,
...: a seed ensemble, each model's logits weighted alike, which ranks as the mean of their
log-softmax does) is then scored on the same validation movies and on the test. Rows: each
seed alone, each average, and attribute-kNN, every one paired against attribute-kNN on the
same test users. Usage::

    .venv/bin/python -m benchmarks.ml1m_seeds ../shared/data/ml1m_coldstart --seeds 0,1,2
"""

from __future__ import annotations

import argparse
import platform
import time

import torch

from benchmarks.cold_items import test_at_20
from benchmarks.ml1m import PROTOCOL, SCENARIO, cold_item_splits
from benchmarks.report import (
    add_paired,
    command_line,
    print_paired,
    print_table,
    selected_row,
    strategy_options,
    train_config,
    with_ci,
    write_results,
)
from graphrec.evaluation import evaluate, without_values
from graphrec.evaluation.blend import BlendedScorer
from graphrec.strategies import run_strategy
from loaders import get_loader

BASELINE = "attribute-knn"


def averaged(scorers: list) -> BlendedScorer:
    """The mean of ``scorers``' scores (each weighted alike), as nested blends."""
    mean = scorers[0]
    for n, scorer in enumerate(scorers[1:], start=2):
        mean = BlendedScorer(mean, scorer, 1.0 / n)
    return mean


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--seeds", default="0,1,2", help="Comma-separated training seeds.")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Epoch cap (default graphrec's own, TrainConfig.epochs).")
    parser.add_argument("--train", default="{}", help="JSON [train] settings.")
    parser.add_argument("--options", default="{}", help="JSON settings per strategy.")
    parser.add_argument("--tag", default="", help="Write ml1m_cold_items_seeds_<tag>.json.")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    tables = cold_item_splits(get_loader("ml1m")(args.path).tables, seed=0)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; seeds {seeds}\n")
    options = strategy_options(args.options)

    def valid_of(scorer, index) -> float:
        return evaluate(scorer, index, tables, SCENARIO, "valid", (20,), ("all",),
                        PROTOCOL)["all"]["ndcg@20"]

    rows, kept, lines, scorers, index = [], [], [], [], None
    config = train_config(args.train, args.epochs, seed=0)
    baseline = run_strategy(BASELINE, tables, SCENARIO, config, progress=False,
                            protocol=PROTOCOL, options=options)
    results = [(BASELINE, baseline, config)]
    for seed in seeds:
        config = train_config(args.train, args.epochs, seed=seed)
        result = run_strategy("path-gnn", tables, SCENARIO, config, progress=False,
                              protocol=PROTOCOL, options=options)
        results.append((f"path-gnn seed {seed}", result, config))
        scorers.append(result.scorer)
        index = result.index
    for name, result, config in results:
        m, measures = test_at_20(result.scorer, result.index, tables, SCENARIO, PROTOCOL)
        rows.append(selected_row(name, result, config, m))
        kept.append(measures)
        lines.append(f"| {name} | {with_ci(m, 'recall@20')} | {with_ci(m, 'ndcg@20')} | "
                     f"{result.valid_score:.4f} |")
        print(lines[-1], flush=True)
    for n in range(2, len(scorers) + 1):
        started = time.perf_counter()
        mean = averaged(scorers[:n])
        valid = valid_of(mean, index)
        m, measures = test_at_20(mean, index, tables, SCENARIO, PROTOCOL)
        name = f"path-gnn seeds {','.join(map(str, seeds[:n]))} averaged"
        rows.append({"method": name, "valid_ndcg@20": round(valid, 4),
                     "recall@20": round(m["recall@20"], 4), "ndcg@20": round(m["ndcg@20"], 4),
                     "seconds_to_score": round(time.perf_counter() - started, 1),
                     "test": without_values(m)})
        kept.append(measures)
        lines.append(f"| {name} | {with_ci(m, 'recall@20')} | {with_ci(m, 'ndcg@20')} | "
                     f"{valid:.4f} |")
        print(lines[-1], flush=True)
    name = "ml1m_cold_items_seeds" + (f"_{args.tag}" if args.tag else "")
    paired, paired_columns = add_paired(rows, kept, BASELINE)
    write_results(name, rows, ["method", "recall@20", "ndcg@20", "valid_ndcg@20",
                               "best_epoch", "stopped", *paired_columns],
                  command_line("benchmarks.ml1m_seeds"), seeds=seeds, dataset=str(args.path),
                  protocol=str(PROTOCOL) + "; test split item_cold_testing; each model's "
                  "epoch selected on the newest training movies; averages of the first n "
                  "seeds' scores", valid_split="newest")
    print()
    print_table(["method", "Recall@20 [95% CI]", "NDCG@20 [95% CI]", "valid NDCG@20"], lines)
    print_paired(paired, BASELINE, ["method", "Recall@20", "NDCG@20"])


if __name__ == "__main__":
    main()
