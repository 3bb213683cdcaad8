"""Choosing sources before training, and guarding against the ones that hurt.

For every setting (a data set and a target scenario) this script

1. ranks the candidate sources with ``graphrec kg bridges`` (:func:`kg.bridges.bridges_report`:
   the knowledge graph only, no training);
2. measures each source's real effect: ``joint`` over the target and that one source against
   ``target-only``, test NDCG@20 under full ranking (epochs selected on valid);
3. runs the ``guarded`` strategy (leave-one-source-out on valid) and records what it dropped.

It prints the Spearman rank correlation between the bridges score and the measured gains, and
a table of target-only / joint (all sources) / guarded test NDCG@20. Settings: the synthetic
data set with its adversarial scenario (seeds 0, 1, 2), and XMarket electronics with target
``de`` and ``fr`` (the target split leave-one-out, the other three markets as candidates).
Usage::

    .venv/bin/python -m benchmarks.transferability [--xmarket ../shared/data/xmarket_electronics]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch
from scipy import stats

from benchmarks.report import command_line, print_table, write_results
from graphrec.data.splits import leave_one_out
from graphrec.strategies import run_strategy
from graphrec.strategies.base import StrategyRun
from graphrec.training import TrainConfig
from kg.bridges import bridges_report
from kg.tables import KGTables
from loaders import SyntheticConfig, generate_synthetic, get_loader


def settings(xmarket: str | None, seeds: list[int]):
    """``(name, tables, target)`` of every setting."""
    for seed in seeds:
        yield (f"synthetic adversarial, seed {seed}",
               generate_synthetic(SyntheticConfig(seed=seed, adversarial=True)).tables,
               "cosmetics", seed)
    if xmarket:
        full = get_loader("xmarket")(xmarket).tables
        for target in ("de", "fr"):
            yield f"XMarket electronics, target {target}", leave_one_out(full, target), target, 0


def single_source_gain(tables: KGTables, target: str, source: str, config: TrainConfig,
                       alone: float) -> float:
    """Test NDCG@20 of joint over ``target`` + ``source`` minus target-only's."""
    chosen = [target, source]
    run = StrategyRun(tables, target, config.with_seed(), progress=False)
    result = run.finish("joint", run.train(chosen, chosen, name=f"joint ({'+'.join(chosen)})"),
                        chosen)
    return result.test["all"]["ndcg@20"] - alone


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xmarket", default=None, help="XMarket folder (omit to skip)")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs,
                        help="epoch cap (default graphrec's; early stopping applies)")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; LightGCN 64 dims, at most {args.epochs} epochs, patience 5\n")
    rank_lines, guard_lines, rhos, top1, rows = [], [], [], [], []
    for name, tables, target, seed in settings(args.xmarket, seeds):
        config = TrainConfig(epochs=args.epochs, seed=seed)
        started = time.perf_counter()
        reports = bridges_report(tables, target)
        report_s = time.perf_counter() - started
        alone = run_strategy("target-only", tables, target, config, progress=False)
        base = alone.test["all"]["ndcg@20"]
        gains = {r.source: single_source_gain(tables, target, r.source, config, base)
                 for r in reports}
        scores = [r.score for r in reports]
        measured = [gains[r.source] for r in reports]
        rho = float(stats.spearmanr(scores, measured).statistic)
        rhos.append(rho)
        top1.append(max(gains, key=gains.get) == reports[0].source)
        rank_lines.append(
            f"| {name} | " + ", ".join(f"{r.source} ({r.score:+.3f})" for r in reports)
            + " | " + ", ".join(f"{r.source} ({gains[r.source]:+.4f})"
                                for r in sorted(reports, key=lambda r: -gains[r.source]))
            + f" | {rho:+.2f} | {report_s:.1f} |")
        print(rank_lines[-1], flush=True)
        joint = run_strategy("joint", tables, target, config, progress=False)
        guarded = run_strategy("guarded", tables, target, config, progress=False)
        d = guarded.decision
        guard_lines.append(
            f"| {name} | {base:.4f} | {joint.test['all']['ndcg@20']:.4f} | "
            f"{guarded.test['all']['ndcg@20']:.4f} | {', '.join(d['dropped']) or '-'} | "
            + ", ".join(f"{s} {ev['contribution']:+.4f}" for s, ev in d["sources"].items())
            + f" | {d['chosen']} | {guarded.seconds:.0f} |")
        print(guard_lines[-1], flush=True)
        rows.append({"setting": name, "target": target, "seed": seed,
                     "bridges_ranking": [r.source for r in reports],
                     "measured_gain": gains, "spearman": rho, "top_ranked_is_best": top1[-1],
                     "target_only_valid": alone.valid_score, "target_only_test_ndcg@20": base,
                     "joint_valid": joint.valid_score,
                     "joint_test_ndcg@20": joint.test["all"]["ndcg@20"],
                     "guarded_valid": guarded.valid_score,
                     "guarded_test_ndcg@20": guarded.test["all"]["ndcg@20"],
                     "dropped": list(d["dropped"]), "served": d["chosen"]})
    print()
    print_table(["setting", "bridges ranking (score)", "measured gain over target-only, best "
                 "first (test NDCG@20)", "Spearman", "report s"], rank_lines)
    print(f"\nmean Spearman {np.mean(rhos):+.2f} over {len(rhos)} settings; the top-ranked "
          f"source is the best measured in {sum(top1)} of {len(top1)}\n")
    print_table(["setting", "target-only", "joint (all sources)", "guarded", "dropped",
                 "valid contribution per source", "served", "guarded s"], guard_lines)
    write_results("transferability", rows,
                  ["setting", "seed", "spearman", "target_only_test_ndcg@20",
                   "joint_test_ndcg@20", "guarded_test_ndcg@20", "dropped", "served"],
                  command_line("benchmarks.transferability"),
                  protocol="test NDCG@20 of the target (full ranking, expected-rank ties), "
                           "each method selected on valid; gain = single-source joint minus "
                           f"target-only; graphrec's defaults, epoch cap {args.epochs}")


if __name__ == "__main__":
    main()
