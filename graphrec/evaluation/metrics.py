"""Ranking metrics: ranks of held-out positives -> Recall@K, NDCG@K, HR@K, MRR, coverage.

Two ways to obtain ranks:

* :func:`full_ranks`: every candidate of the scenario competes (the primary protocol); the
  user's other positives and the excluded items (seen in training) do not compete.
* :func:`sampled_ranks`: each positive against a fixed set of sampled negatives (the protocol
  of papers such as CDRIB, 999 negatives).

A rank is the number of competitors ranked above the positive (0 = first). Ties are broken
pessimistically by default (a competitor scoring the same counts as above), so a model that
scores everything equally gets no credit; ``ties="optimistic"`` reproduces code that counts
only strictly higher scores.

:func:`user_metrics` turns per-user ranks into per-user metric values, so that means and
bootstrap intervals over users (:func:`bootstrap_ci`) come from the same numbers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from graphrec.errors import ConfigError

TIES = ("pessimistic", "optimistic")


def _above(competitors: Tensor, positives: Tensor, ties: str) -> Tensor:
    """``[P]`` number of competitors above each positive; ``competitors`` broadcast to it."""
    if ties not in TIES:
        raise ConfigError(f"Could not resolve tie rule {ties!r} among choices {list(TIES)}")
    cmp = competitors >= positives.unsqueeze(-1) if ties == "pessimistic" \
        else competitors > positives.unsqueeze(-1)
    return cmp.sum(-1)


def full_ranks(scores: Tensor, positives: Sequence[np.ndarray], exclude: Sequence[np.ndarray],
               ties: str = "pessimistic") -> list[np.ndarray]:
    """Rank of each positive among all candidates that are neither positives nor excluded.

    Args:
        scores: ``[num_users, num_candidates]``.
        positives: per user, candidate positions of the held-out positives (non-empty).
        exclude: per user, candidate positions that do not compete (seen in training).

    Returns:
        per user, ``[len(positives[u])]`` integer ranks (0 = ranked first).
    """
    if ties not in TIES:
        raise ConfigError(f"Could not resolve tie rule {ties!r} among choices {list(TIES)}")
    competitors = scores.clone()
    pos_scores = []
    for row, pos in enumerate(positives):
        pos_t = torch.as_tensor(pos)
        pos_scores.append(scores[row, pos_t])
        competitors[row, pos_t] = -torch.inf
        if len(exclude[row]):
            competitors[row, torch.as_tensor(exclude[row])] = -torch.inf
    # ascending sort once per user; competitors >= x are those from the left insertion point
    ordered = torch.sort(competitors, dim=1).values
    right = ties == "optimistic"
    out = []
    for row, values in enumerate(pos_scores):
        insert = torch.searchsorted(ordered[row], values, right=right)
        out.append((ordered.shape[1] - insert).cpu().numpy())
    return out


def sampled_ranks(pos_scores: Tensor, neg_scores: Tensor, ties: str = "pessimistic"
                  ) -> np.ndarray:
    """``[R]`` rank of each positive among its own negatives.

    Args:
        pos_scores: ``[R]`` score of each test row's positive.
        neg_scores: ``[R, N]`` scores of that row's N sampled negatives.
    """
    return _above(neg_scores, pos_scores, ties).cpu().numpy()


def user_metrics(ranks: Sequence[np.ndarray], ks: Sequence[int] = (10, 20)
                 ) -> dict[str, np.ndarray]:
    """Per-user metric values from the ranks of each user's positives.

    For a user with positives ranked ``r_1..r_n``: Recall@K = #{r < K} / min(n, K);
    NDCG@K = sum_{r < K} 1/log2(r+2) divided by the ideal sum over min(n, K) positives;
    HR@K = [any r < K]; MRR = 1 / (min r + 1).

    Returns:
        metric name (``recall@10``, ``ndcg@10``, ``hr@10``, ..., ``mrr``) -> ``[num_users]``.
    """
    out: dict[str, list[float]] = {"mrr": []}
    for k in ks:
        for name in ("recall", "ndcg", "hr"):
            out[f"{name}@{k}"] = []
    for r in ranks:
        r = np.asarray(r)
        out["mrr"].append(1.0 / (r.min() + 1))
        gains = 1.0 / np.log2(r + 2)
        for k in ks:
            top = r < k
            ideal = (1.0 / np.log2(np.arange(min(len(r), k)) + 2)).sum()
            out[f"recall@{k}"].append(top.sum() / min(len(r), k))
            out[f"ndcg@{k}"].append(gains[top].sum() / ideal)
            out[f"hr@{k}"].append(float(top.any()))
    return {name: np.asarray(values, dtype=float) for name, values in out.items()}


def bootstrap_ci(values: np.ndarray, groups: np.ndarray | None = None, n: int = 1000,
                 seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of the mean of ``values`` when whole groups (test users) are
    resampled with replacement; ``groups=None`` resamples the values themselves."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (float("nan"), float("nan"))
    if groups is None:
        groups = np.arange(len(values))
    _, inverse = np.unique(groups, return_inverse=True)
    sums = np.bincount(inverse, weights=values)
    counts = np.bincount(inverse).astype(float)
    rng = np.random.default_rng(seed)
    pick = rng.integers(len(sums), size=(n, len(sums)))
    stats = sums[pick].sum(1) / counts[pick].sum(1)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(stats, [tail, 100 - tail])
    return float(lo), float(hi)


def coverage(top_items: Tensor, num_candidates: int) -> float:
    """Share of the candidate items that appear in at least one user's top-K list.

    Args:
        top_items: ``[num_users, K]`` candidate positions recommended to each user.
    """
    if num_candidates == 0:
        return 0.0
    return float(torch.unique(top_items).numel() / num_candidates)
