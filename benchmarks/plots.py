"""Figures of a joint run: training curve, per-scenario test metrics, 2-D map of item embeddings.

Trains the ``joint`` strategy (heterogeneous LightGCN, defaults of :class:`TrainConfig`) on a
data set, then writes three PNGs to ``--out``:

* ``training_curve.png``: BPR loss and the target's validation NDCG@20 per epoch;
* ``per_scenario.png``: test NDCG@20 and Recall@20 of every scenario (full ranking), with
  95% bootstrap intervals, next to popularity;
* ``item_map.png``: item embeddings projected on their first two principal components,
  coloured by scenario (cold-start items marked).

Usage::

    .venv/bin/python -m benchmarks.plots                    # synthetic, target cosmetics
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from graphrec.evaluation import evaluate  # noqa: E402
from graphrec.evaluation.baselines import build_baseline  # noqa: E402
from graphrec.strategies import run_strategy  # noqa: E402
from graphrec.training import TrainConfig  # noqa: E402
from loaders import get_loader  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--path", default="-")
    parser.add_argument("--target", default="cosmetics")
    parser.add_argument("--out", type=Path, default=Path("docs/img"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tables = get_loader(args.dataset)(args.path).tables
    result = run_strategy("joint", tables, args.target, TrainConfig(seed=0), progress=False)

    fig, ax = plt.subplots(figsize=(6, 3.5))
    epochs = [h["epoch"] for h in result.history]
    ax.plot(epochs, [h["loss"] for h in result.history], color="tab:blue", marker=".")
    ax.set_xlabel("epoch")
    ax.set_ylabel("BPR loss", color="tab:blue")
    twin = ax.twinx()
    twin.plot(epochs, [h["valid"] for h in result.history], color="tab:red", marker=".")
    twin.axvline(result.best_epoch, color="grey", linestyle=":")
    twin.set_ylabel(f"valid NDCG@20 ({args.target})", color="tab:red")
    ax.set_title(f"{args.dataset}: joint training (kept epoch {result.best_epoch})")
    fig.tight_layout()
    fig.savefig(args.out / "training_curve.png", dpi=120)
    plt.close(fig)

    scenarios = sorted(tables.scenarios["scenario"])
    popularity = build_baseline("popularity", tables, result.index)
    rows = []
    for scenario in scenarios:
        for name, scorer in (("joint", result.scorer), ("popularity", popularity)):
            m = evaluate(scorer, result.index, tables, scenario, "test", (20,), ("all",),
                         bootstrap=500)["all"]
            rows.append((scenario, name, m["ndcg@20"], m["ci95"]["ndcg@20"]))
    fig, ax = plt.subplots(figsize=(6, 3.5))
    width = 0.38
    for offset, name in ((-width / 2, "joint"), (width / 2, "popularity")):
        part = [r for r in rows if r[1] == name]
        values = np.array([r[2] for r in part])
        err = np.array([[r[2] - r[3][0], r[3][1] - r[2]] for r in part]).T
        ax.bar(np.arange(len(part)) + offset, values, width, yerr=err, capsize=3, label=name)
    ax.set_xticks(np.arange(len(scenarios)), scenarios)
    ax.set_ylabel("test NDCG@20 (full ranking)")
    ax.set_title(f"{args.dataset}: per-scenario test metrics, joint model")
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out / "per_scenario.png", dpi=120)
    plt.close(fig)

    items = result.embeddings["item"].numpy()
    xy = PCA(n_components=2, random_state=0).fit_transform(items)
    scenario_of = np.asarray(result.index.item_scenario)
    inter = tables.interactions
    warm = set(inter.loc[inter["split"].isin(["train", "all"]), "item_id"])
    cold = np.array([i not in warm for i in result.index.ids["item"]])
    fig, ax = plt.subplots(figsize=(6, 5))
    for scenario in scenarios:
        mask = scenario_of == scenario
        ax.scatter(xy[mask & ~cold, 0], xy[mask & ~cold, 1], s=8, alpha=0.6, label=scenario)
        ax.scatter(xy[mask & cold, 0], xy[mask & cold, 1], s=18, marker="x", alpha=0.8,
                   color=ax.collections[-1].get_facecolor()[0])
    ax.set_title(f"{args.dataset}: item embeddings, first two principal components\n"
                 "(x = cold-start item, embedded from its attributes)")
    ax.legend(markerscale=2)
    fig.tight_layout()
    fig.savefig(args.out / "item_map.png", dpi=120)
    plt.close(fig)
    for r in rows:
        print(f"| {r[0]} | {r[1]} | {r[2]:.4f} [{r[3][0]:.4f}, {r[3][1]:.4f}] |")
    print(f"\nwrote {args.out}/training_curve.png, per_scenario.png, item_map.png")


if __name__ == "__main__":
    main()
