"""Ranking metrics under full ranking (all items of the target scenario are candidates)."""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor


def rank_metrics(scores: Tensor, positives: list[np.ndarray], exclude: list[np.ndarray],
                 k: int) -> dict[str, float]:
    """Recall@k, NDCG@k, HR@k and MRR averaged over users.

    Args:
        scores: ``[num_users, num_candidates]`` scores of every candidate item.
        positives: per user, candidate positions of the held-out positives (non-empty).
        exclude: per user, candidate positions removed from the ranking (seen in training).
        k: cut-off.

    Ties are broken pessimistically for the positive (a candidate scoring the same counts as
    ranked above it), so a model that scores everything equally gets no credit.
    """
    scores = scores.clone()
    for row, ex in enumerate(exclude):
        if len(ex):
            scores[row, torch.as_tensor(ex)] = -torch.inf
    recall, ndcg, hit, mrr = [], [], [], []
    for row, pos in enumerate(positives):
        pos_scores = scores[row, torch.as_tensor(pos)]
        # rank of each positive among the candidates that are not positives themselves
        others = scores[row].clone()
        others[torch.as_tensor(pos)] = -torch.inf
        ranks = (others.unsqueeze(0) >= pos_scores.unsqueeze(1)).sum(1).cpu().numpy()
        in_top = ranks < k
        ideal = sum(1.0 / np.log2(r + 2) for r in range(min(len(pos), k)))
        recall.append(in_top.sum() / min(len(pos), k))
        ndcg.append(sum(1.0 / np.log2(r + 2) for r in ranks[in_top]) / ideal)
        hit.append(float(in_top.any()))
        mrr.append(1.0 / (ranks.min() + 1))
    n = max(len(positives), 1)
    return {f"recall@{k}": float(np.sum(recall) / n), f"ndcg@{k}": float(np.sum(ndcg) / n),
            f"hr@{k}": float(np.sum(hit) / n), "mrr": float(np.sum(mrr) / n),
            "users": len(positives)}
