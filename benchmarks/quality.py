"""Quality bars on the synthetic data that used to be asserted in tests (minutes, not seconds).

Each row is one claim about what a strategy achieves, checked on the synthetic generator's
planted structure at seed 0 (test split, full ranking, NDCG@20, epoch selected on valid):

- transfer: ``joint`` > 1.1x ``target-only`` and > 1.1x ``popularity``; ``joint`` above
  popularity on cold-start users; ``finetune`` above ``target-only``; the frozen-encoder
  strategies (``feature-extraction``, ``adabn``) above popularity on cold-start users;
- guard: with an adversarial source (``outlet``, inverted preferences, reselling the target's
  catalogue), ``guarded`` drops exactly it, keeps the helpful sources, stays within 0.01 of
  ``target-only`` and beats ``joint``;
- meta-learning: with 20 target interactions in all, ``reptile`` > 1.5x ``target-only``.

    python -m benchmarks.quality [--epochs N] [--seed 0]

Training uses graphrec's defaults (epoch cap 100 with early stopping) unless ``--epochs``
caps it.

Prints a table and writes ``benchmarks/results/quality.{json,md}``; exits with status 1 when a
bar fails.
"""

from __future__ import annotations

import argparse
import sys

from benchmarks.report import write_results
from graphrec.data import k_shot
from graphrec.strategies import compare
from graphrec.training import TrainConfig
from loaders import SyntheticConfig, generate_synthetic

TARGET = "cosmetics"


def _ndcg(result, subset: str = "all") -> float:
    return result.test[subset]["ndcg@20"]


def transfer_rows(config: TrainConfig) -> list[dict]:
    tables = generate_synthetic(SyntheticConfig(seed=config.seed)).tables
    names = ("popularity", "target-only", "joint", "finetune", "feature-extraction", "adabn")
    r = {x.name: x for x in compare(tables, TARGET, names, config, progress=False)}
    pop_cold = _ndcg(r["popularity"], "cold_users")
    rows = [
        ("joint > 1.1x target-only", _ndcg(r["joint"]), 1.1 * _ndcg(r["target-only"])),
        ("joint > 1.1x popularity", _ndcg(r["joint"]), 1.1 * _ndcg(r["popularity"])),
        ("joint > popularity, cold users", _ndcg(r["joint"], "cold_users"), pop_cold),
        ("finetune > target-only", _ndcg(r["finetune"]), _ndcg(r["target-only"])),
        ("feature-extraction > popularity, cold users",
         _ndcg(r["feature-extraction"], "cold_users"), pop_cold),
        ("adabn > popularity, cold users", _ndcg(r["adabn"], "cold_users"), pop_cold),
    ]
    return [{"data": "synthetic", "claim": c, "value": v, "bar": b, "holds": v > b}
            for c, v, b in rows]


def guard_rows(config: TrainConfig) -> list[dict]:
    tables = generate_synthetic(SyntheticConfig(seed=config.seed, adversarial=True)).tables
    r = {x.name: x for x in compare(tables, TARGET, ("target-only", "joint", "guarded"),
                                    config, progress=False)}
    decision = r["guarded"].decision
    kept = sorted(s for s, ev in decision["sources"].items() if ev["verdict"] == "keep")
    return [
        {"data": "synthetic adversarial", "claim": "guard drops exactly the adversary",
         "value": str(decision["dropped"]), "bar": "['outlet']",
         "holds": decision["dropped"] == ["outlet"]},
        {"data": "synthetic adversarial", "claim": "guard keeps the helpful sources",
         "value": str(kept), "bar": "['clothing', 'shoes']", "holds": kept == ["clothing",
                                                                              "shoes"]},
        {"data": "synthetic adversarial", "claim": "guarded >= target-only - 0.01",
         "value": _ndcg(r["guarded"]), "bar": _ndcg(r["target-only"]) - 0.01,
         "holds": _ndcg(r["guarded"]) >= _ndcg(r["target-only"]) - 0.01},
        {"data": "synthetic adversarial", "claim": "guarded > joint",
         "value": _ndcg(r["guarded"]), "bar": _ndcg(r["joint"]),
         "holds": _ndcg(r["guarded"]) > _ndcg(r["joint"])},
    ]


def meta_rows(config: TrainConfig) -> list[dict]:
    tables = k_shot(generate_synthetic(SyntheticConfig(seed=config.seed)).tables, TARGET, 20,
                    per="scenario")
    r = {x.name: x for x in compare(tables, TARGET, ("target-only", "reptile"), config,
                                    progress=False)}
    value, bar = _ndcg(r["reptile"]), 1.5 * _ndcg(r["target-only"])
    return [{"data": "synthetic, 20 target interactions", "claim":
             "reptile > 1.5x target-only", "value": value, "bar": bar, "holds": value > bar}]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=TrainConfig.epochs,
                        help="epoch cap (default graphrec's; early stopping applies)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = []
    for part in (transfer_rows, guard_rows, meta_rows):
        rows += part(TrainConfig(epochs=args.epochs, seed=args.seed))
    for row in rows:
        for key in ("value", "bar"):
            if isinstance(row[key], float):
                row[key] = round(row[key], 4)
    command = f"python -m benchmarks.quality --epochs {args.epochs} --seed {args.seed}"
    write_results("quality", rows, ["data", "claim", "value", "bar", "holds"], command,
                  seed=args.seed, protocol="full ranking, test split, NDCG@20, epoch on valid")
    print(f"`{command}`\n")
    print("| data | claim | value | bar | holds |\n|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['data']} | {row['claim']} | {row['value']} | {row['bar']} | "
              f"{row['holds']} |")
    if not all(row["holds"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
