"""What privacy costs: DP user embeddings, scenario isolation, pseudonymisation.

1. **Differential privacy of exported user embeddings** (:mod:`graphrec.serving.dp`): a ``joint``
   model is trained once; its user vectors are released with the Gaussian mechanism at several
   epsilon (delta = 1e-5) and the target's test NDCG@20 (full ranking) is recomputed with the
   noisy user vectors and the trained item vectors, averaged over 5 noise draws.
2. **Scenario isolation** (:func:`kg.privacy.isolate_scenarios`): the source scenarios give
   only aggregated ``CO_INTERACTED`` links (pairs taken by at least 3 distinct users), none of
   their users' rows; ``joint`` on that graph against ``joint`` on the full graph and
   ``target-only``.
3. **Pseudonymisation** (:func:`kg.privacy.pseudonymise_users`): time to pseudonymise, and
   ``joint`` trained on the pseudonymised graph (the user index order changes, so the
   initialisation differs; the metric should stay within seed noise).

Synthetic data set (seed 0) and, with ``--xmarket``, XMarket electronics target ``de``
(leave-one-out; sources uk, ca). Usage::

    .venv/bin/python -m benchmarks.privacy [--xmarket ../shared/data/xmarket_electronics]
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np
import torch

from benchmarks.report import command_line, print_table, write_results
from graphrec.data.splits import leave_one_out
from graphrec.evaluation import EmbeddingScorer, evaluate
from graphrec.serving.dp import analytic_gaussian_sigma, privatise_embeddings
from graphrec.strategies import run_strategy
from graphrec.training import TrainConfig
from kg.privacy import isolate_scenarios, pseudonymise_users
from loaders import SyntheticConfig, generate_synthetic, get_loader

EPSILONS = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0)
DELTA = 1e-5


def settings(xmarket: str | None):
    yield "synthetic", generate_synthetic(SyntheticConfig(seed=0)).tables, "cosmetics"
    if xmarket:
        tables = get_loader("xmarket")(xmarket, markets=["de", "uk", "ca"]).tables
        yield "XMarket de", leave_one_out(tables, "de"), "de"


def ndcg(scorer, result, tables, target) -> float:
    return evaluate(scorer, result.index, tables, target, "test", (20,), ("all",))["all"][
        "ndcg@20"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xmarket", default=None)
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs,
                        help="epoch cap (default graphrec's; early stopping applies)")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, torch "
          f"{torch.__version__}; LightGCN 64 dims, at most {args.epochs} epochs, seed 0\n")
    config = TrainConfig(epochs=args.epochs, seed=0)
    dp_lines, iso_lines, pseudo_lines, rows = [], [], [], []
    for name, tables, target in settings(args.xmarket):
        joint = run_strategy("joint", tables, target, config, progress=False)
        user, item = joint.embeddings["user"], joint.embeddings["item"]
        clear = ndcg(EmbeddingScorer(user, item), joint, tables, target)
        unit = ndcg(EmbeddingScorer(torch.nn.functional.normalize(user, dim=1), item), joint,
                    tables, target)
        cells, by_eps = [], {}
        for eps in EPSILONS:
            draws = [ndcg(EmbeddingScorer(privatise_embeddings(user, eps, DELTA, seed=s), item),
                          joint, tables, target) for s in range(5)]
            cells.append(f"{np.mean(draws):.4f}")
            by_eps[f"{eps:g}"] = float(np.mean(draws))
        dp_lines.append(f"| {name} | {clear:.4f} | {unit:.4f} | " + " | ".join(cells) + " |")
        print(dp_lines[-1], flush=True)

        alone = run_strategy("target-only", tables, target, config, progress=False)
        sources = [s for s in tables.scenarios["scenario"] if s != target]
        started = time.perf_counter()
        isolated_tables = isolate_scenarios(tables, sources, min_support=3)
        iso_s = time.perf_counter() - started
        isolated = run_strategy("joint", isolated_tables, target, config, progress=False)
        links = int((isolated_tables.item_links["relation"] == "CO_INTERACTED").sum())
        row = []
        for r in (alone, joint, isolated):
            row += [f"{r.test['all']['ndcg@20']:.4f}",
                    f"{r.test['cold_users']['ndcg@20']:.4f}" if "cold_users" in r.test else "-"]
        iso_lines.append(f"| {name} | " + " | ".join(row) + f" | {links:,} | {iso_s:.1f} |")
        print(iso_lines[-1], flush=True)

        started = time.perf_counter()
        pseudo_tables = pseudonymise_users(tables, "benchmark-key-0123456789abcdef")
        pseudo_s = time.perf_counter() - started
        pseudo = run_strategy("joint", pseudo_tables, target, config, progress=False)
        rows.append({"data": name, "target": target, "seed": 0, "joint_valid": joint.valid_score,
                     "joint_test_ndcg@20": clear, "unit_norm_users_test_ndcg@20": unit,
                     "dp_test_ndcg@20_mean_of_5_draws": by_eps,
                     "target_only_test_ndcg@20": alone.test["all"]["ndcg@20"],
                     "isolated_valid": isolated.valid_score,
                     "isolated_test_ndcg@20": isolated.test["all"]["ndcg@20"],
                     "co_interacted_links": links,
                     "pseudonymised_test_ndcg@20": pseudo.test["all"]["ndcg@20"]})
        pseudo_lines.append(f"| {name} | {len(tables.users):,} | {pseudo_s:.2f} | {clear:.4f} | "
                            f"{pseudo.test['all']['ndcg@20']:.4f} |")
        print(pseudo_lines[-1], flush=True)
    print()
    sigmas = ", ".join(f"{e:g}: {analytic_gaussian_sigma(e, DELTA):.2f}" for e in EPSILONS)
    print(f"noise sigma per epsilon (unit vectors, sensitivity 2, delta {DELTA}): {sigmas}\n")
    print_table(["data", "no DP", "unit-norm users"] + [f"eps {e:g}" for e in EPSILONS],
                dp_lines)
    print()
    print_table(["data", "target-only", "target-only cold users", "joint", "joint cold users",
                 "joint, sources isolated", "isolated cold users", "CO_INTERACTED links",
                 "isolation s"], iso_lines)
    print()
    print_table(["data", "users", "pseudonymise s", "joint", "joint, pseudonymised"],
                pseudo_lines)
    write_results("privacy", rows,
                  ["data", "joint_test_ndcg@20", "unit_norm_users_test_ndcg@20",
                   "target_only_test_ndcg@20", "isolated_test_ndcg@20",
                   "pseudonymised_test_ndcg@20"],
                  command_line("benchmarks.privacy"),
                  protocol="test NDCG@20 of the target (full ranking, expected-rank ties), "
                           "each model selected on valid; DP: user vectors released with the "
                           f"Gaussian mechanism (delta {DELTA}), mean of 5 noise draws; "
                           f"graphrec's defaults, epoch cap {args.epochs}, seed 0")


if __name__ == "__main__":
    main()
