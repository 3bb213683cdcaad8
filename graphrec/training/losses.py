"""Pair losses of the trainer. A loss maps a batch's embeddings to ``(loss, penalty)``.

Both terms are sums divided by a ``denominator``, the size of the *whole* batch: a process that
holds part of a batch under ``torchrun`` divides by the whole batch's size, so gradients summed
over processes equal the whole batch's (see :mod:`graphrec.training.distributed`).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn


class PairLoss(Protocol):
    """``(loss, penalty)`` of scored pairs; see the module docstring for ``denominator``."""

    def __call__(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
                 denominator: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        ...


class BPRLoss:
    """Bayesian personalised ranking (Rendle et al., UAI 2009) with one negative per pair:
    ``-log sigmoid(s(u, i) - s(u, j))`` per pair (optionally weighted), and an L2 penalty of the
    batch's embeddings scaled by ``weight_decay``.

    Args:
        weight_decay: L2 factor of the penalty term.
    """

    def __init__(self, weight_decay: float):
        self.weight_decay = weight_decay

    def __call__(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
                 denominator: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Args:
            emb: the model's output (``'user'`` ``[U, d]``, ``'item'`` ``[I, d]``).
            users, pos, neg: ``[B]`` indices of users, their positives and negatives.
            denominator: the whole batch's size.
            weights: ``[B]`` loss weight per pair (default 1).
        """
        u, p, n = emb["user"][users], emb["item"][pos], emb["item"][neg]
        per_pair = -nn.functional.logsigmoid((u * p).sum(-1) - (u * n).sum(-1))
        if weights is not None:
            per_pair = weights * per_pair
        reg = self.weight_decay * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum())
        return per_pair.sum() / denominator, reg / denominator


def bpr_loss(emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
             weight_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean BPR loss and penalty of a whole batch (:class:`BPRLoss` over ``len(users)``)."""
    return BPRLoss(weight_decay)(emb, users, pos, neg, len(users))
