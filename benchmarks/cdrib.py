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
import platform
import time

import numpy as np
import torch

from graphrec.evaluate import evaluate_scenario, popularity_scores
from graphrec.train import TrainConfig
from graphrec.transfer import run_strategy
from loaders import get_loader

KS = (5, 10)


def sampled_rows(user_emb, item_emb, index, tables, domain: str, split: str,
                 exclude_own: bool, seed: int = 2022) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Per-row metrics of the authors' protocol. Returns (row users, metric -> per-row values)."""
    inter = tables.interactions
    part = inter[inter["scenario"] == domain]
    train_items = np.sort(part.loc[part["split"] == "train", "item_id"].unique())
    rows = part[part["split"] == split].reset_index(drop=True)
    own = rows.groupby("user_id")["item_id"].agg(set).to_dict()
    rng = np.random.default_rng(seed)
    negatives = []
    for user in rows["user_id"]:
        draw = []
        while len(draw) < 999:
            pick = train_items[rng.integers(len(train_items), size=999 - len(draw))]
            draw += [p for p in pick if not (exclude_own and p in own[user])]
        negatives.append(draw)
    users = torch.as_tensor(index.index("user", rows["user_id"]))
    pos = torch.as_tensor(index.index("item", rows["item_id"]))
    neg = torch.as_tensor(np.stack([index.index("item", n) for n in negatives]))
    u = user_emb[users]
    pos_score = (u * item_emb[pos]).sum(-1)
    neg_score = torch.einsum("bd,bnd->bn", u, item_emb[neg])
    rank = (neg_score > pos_score.unsqueeze(1)).sum(1).numpy()
    out = {"MRR": 1.0 / (rank + 1)}
    for k in KS:
        out[f"N@{k}"] = np.where(rank < k, 1.0 / np.log2(rank + 2), 0.0)
    for k in (1, 5, 10):
        out[f"H@{k}"] = (rank < k).astype(float)
    return rows["user_id"].to_numpy(), out


def bootstrap(users: np.ndarray, values: np.ndarray, n: int = 1000, seed: int = 0):
    """95% interval of the mean of ``values`` resampling users (with all their rows)."""
    uniq, inverse = np.unique(users, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse)
    rng = np.random.default_rng(seed)
    stats = []
    for _ in range(n):
        pick = rng.integers(len(uniq), size=len(uniq))
        stats.append(sums[pick].sum() / counts[pick].sum())
    return np.percentile(stats, [2.5, 97.5])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path")
    parser.add_argument("--epochs", type=int, default=20)
    # target-only is left out: cold-start users have no target interaction, so its scores are
    # all equal, and the authors' tie rule (ties favour the positive) would rank every
    # positive first
    parser.add_argument("--strategies",
                        default="popularity,joint,finetune,feature-extraction,adabn")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--model", default="lightgcn", help="Registered model name.")
    args = parser.parse_args()
    tables = get_loader("cdrib")(args.path).tables
    config = TrainConfig(model=args.model, epochs=args.epochs, patience=4, seed=args.seed)
    print(f"machine: {platform.machine()}, {torch.get_num_threads()} threads, Python "
          f"{platform.python_version()}, torch {torch.__version__}; seed {args.seed}; "
          f"{config}\n")
    sampled_lines, full_lines = [], []
    for domain in ("game", "video"):
        for name in args.strategies.split(","):
            start = time.perf_counter()
            result = run_strategy(name, tables, domain, config, progress=False)
            seconds = time.perf_counter() - start
            index = result.index
            if result.embeddings:
                user_emb, item_emb = result.embeddings["user"], result.embeddings["item"]
            else:  # popularity: score = training count in the domain
                pop = popularity_scores(index, tables, ("train",))
                gen = torch.Generator().manual_seed(0)
                item_emb = (pop + 1e-3 * torch.rand(len(pop), generator=gen)).unsqueeze(1)
                user_emb = torch.ones(len(index.ids["user"]), 1)
            users, m = sampled_rows(user_emb, item_emb, index, tables, domain, "test",
                                    exclude_own=(domain == "game"))
            lo, hi = bootstrap(users, m["MRR"])
            lo10, hi10 = bootstrap(users, m["N@10"])
            epochs_run = len(result.history) or 0
            per_epoch = (seconds / epochs_run) if epochs_run else 0.0
            sampled_lines.append(
                f"| {domain} | {name} | {m['MRR'].mean():.4f} [{lo:.4f}, {hi:.4f}] | "
                f"{m['N@5'].mean():.4f} | {m['N@10'].mean():.4f} [{lo10:.4f}, {hi10:.4f}] | "
                f"{m['H@1'].mean():.4f} | {m['H@5'].mean():.4f} | {m['H@10'].mean():.4f} | "
                f"{result.best_epoch} | {per_epoch:.1f} | {seconds:.0f} |")
            full = {k: evaluate_scenario(user_emb, item_emb, index, tables, domain, "test", k,
                                         train_splits=("train",), subsets=("all",))["all"]
                    for k in (10, 20)}
            full_lines.append(
                f"| {domain} | {name} | {full[10]['ndcg@10']:.4f} | {full[20]['ndcg@20']:.4f} | "
                f"{full[20]['recall@20']:.4f} | {full[20]['mrr']:.4f} | {full[20]['users']} |")
            print(sampled_lines[-1], flush=True)
    print("\nAuthors' protocol (999 sampled negatives, averaged over test rows):\n")
    print("| domain | method | MRR [95% CI] | N@5 | N@10 [95% CI] | H@1 | H@5 | H@10 | "
          "epoch | s/epoch | total s |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(sampled_lines))
    print("\nFull ranking over all items of the domain (averaged over test users):\n")
    print("| domain | method | NDCG@10 | NDCG@20 | Recall@20 | MRR | users |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(full_lines))


if __name__ == "__main__":
    main()
