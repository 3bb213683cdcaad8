"""Pair losses of the trainer. A loss maps a batch's embeddings to ``(loss, penalty)``.

Both terms are sums divided by a ``denominator``, the size of the *whole* batch: a process that
holds part of a batch under ``torchrun`` divides by the whole batch's size, so gradients summed
over processes equal the whole batch's (see :mod:`graphrec.training.distributed`).

Negatives come as ``[B]`` (one per pair) or ``[B, n]`` (``n`` per pair). Two losses, named in
``[train] loss``:

* ``bpr`` (:class:`BPRLoss`): pairwise, the mean over a pair's negatives;
* ``softmax`` (:class:`SoftmaxLoss`): the positive against all of its pair's negatives at once,
  on cosine scores divided by a temperature (sampled softmax; Wu et al., "On the effectiveness
  of sampled softmax loss for item recommendation", TOIS 2024). The negatives are uniform over
  the scenario's negative pool (``[train] negative_pool``), so the sampling correction
  ``log Q`` is the same constant for every item and drops out. With ``[train]
  negative_sampling = "shared"`` the negatives are drawn once per batch and scenario and
  shared by its pairs (:meth:`SoftmaxLoss.shared`).
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import Tensor, nn

from graphrec.errors import ConfigError


class PairLoss(Protocol):
    """``(loss, penalty)`` of scored pairs; see the module docstring for ``denominator``."""

    def __call__(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
                 denominator: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        ...


def rows(table: Tensor, index: Tensor) -> Tensor:
    """``table[index]`` (``[*index.shape, d]``) through ``index_select``, whose gradient is
    accumulated in a fixed order: the backward of ``table[index]`` adds repeated rows with
    atomics on the CPU, so a run would not repeat exactly under its seed."""
    return table.index_select(0, index.reshape(-1)).reshape(*index.shape, table.shape[-1])


def _per_pair_total(per_pair: Tensor, weights: Tensor | None) -> Tensor:
    return (per_pair if weights is None else weights * per_pair).sum()


class BPRLoss:
    """Bayesian personalised ranking (Rendle et al., UAI 2009):
    ``-log sigmoid(s(u, i) - s(u, j))`` per pair and negative (averaged over a pair's
    negatives, optionally weighted), and an L2 penalty of the batch's embeddings scaled by
    ``weight_decay``.

    Args:
        weight_decay: L2 factor of the penalty term.
    """

    def __init__(self, weight_decay: float):
        self.weight_decay = weight_decay

    def __call__(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
                 denominator: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Args:
            emb: the model's output (``'user'`` ``[U, d]``, ``'item'`` ``[I, d]``).
            users, pos: ``[B]`` indices of users and their positives.
            neg: ``[B]`` or ``[B, n]`` indices of negatives.
            denominator: the whole batch's size.
            weights: ``[B]`` loss weight per pair (default 1).
        """
        u, p, n = rows(emb["user"], users), rows(emb["item"], pos), rows(emb["item"], neg)
        pos_score = (u * p).sum(-1)
        if neg.dim() == 1:
            per_pair = -nn.functional.logsigmoid(pos_score - (u * n).sum(-1))
            n_sq = n.pow(2).sum()
        else:
            neg_score = torch.einsum("bd,bnd->bn", u, n)
            per_pair = -nn.functional.logsigmoid(pos_score.unsqueeze(1) - neg_score).mean(1)
            n_sq = n.pow(2).sum() / neg.shape[1]
        reg = self.weight_decay * (u.pow(2).sum() + p.pow(2).sum() + n_sq)
        return _per_pair_total(per_pair, weights) / denominator, reg / denominator


class SoftmaxLoss:
    """Sampled softmax on cosine scores: per pair,
    ``-log softmax([cos(u, i), cos(u, j_1), ..., cos(u, j_n)] / temperature)[0]``.

    Scores are cosines, so embeddings are compared by direction only and there is no L2
    penalty; models trained with it normalise their outputs (``normalize=True``), so serving
    ranks by the same cosine.

    Args:
        temperature: divides the cosines; small values weigh hard negatives more.
        normalize_items: False scores ``u / |u|`` against the item embedding as it is, so an
            item's norm can carry its overall popularity (the per-user ranking is that of the
            plain dot product).
        item_bias: the embeddings' last column is a bias channel (the model's ``item_bias``:
            1 for users, the item's bias for items), left out of the normalisation, so the
            score is ``cos(u, i) + b_i``.
        pairwise_weight: adds this times the pairwise (BPR) term on the same logits, the mean
            over the pair's negatives of ``-log sigmoid(logit(u, i) - logit(u, j))``: it
            weighs every negative alike, where the softmax weighs the hard ones most.
    """

    def __init__(self, temperature: float, normalize_items: bool = True,
                 item_bias: bool = False, pairwise_weight: float = 0.0):
        if temperature <= 0:
            raise ConfigError(f"temperature must be > 0, not {temperature}")
        if pairwise_weight < 0:
            raise ConfigError(f"pairwise_weight must be >= 0, not {pairwise_weight}")
        self.temperature = temperature
        self.pairwise_weight = pairwise_weight
        self.normalize_items = normalize_items
        self.item_bias = item_bias

    def _per_pair(self, logits: Tensor, allowed: Tensor | None = None) -> Tensor:
        """The loss of each row of ``[B, 1 + n]`` logits (positive first); ``allowed``
        ``[B, n]`` marks the negatives that count (None: all); the logits of the others must
        be ``-inf`` (as :meth:`shared` makes them)."""
        per_pair = -torch.log_softmax(logits, 1)[:, 0]
        if self.pairwise_weight > 0:
            pairwise = nn.functional.softplus(logits[:, 1:] - logits[:, :1])
            if allowed is None:
                pairwise = pairwise.mean(1)
            else:  # left-out negatives have logit -inf, so their softplus is exactly 0
                pairwise = pairwise.sum(1) / allowed.sum(1).clamp(min=1)
            per_pair = per_pair + self.pairwise_weight * pairwise
        return per_pair

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor | None]:
        """The vector and, with ``item_bias``, its last column (the bias channel)."""
        return (x[..., :-1], x[..., -1:]) if self.item_bias else (x, None)

    def _users(self, x: Tensor) -> Tensor:
        vec, channel = self._split(x)
        vec = nn.functional.normalize(vec, dim=-1)
        return vec if channel is None else torch.cat([vec, channel], -1)

    def _items(self, x: Tensor) -> Tensor:
        vec, channel = self._split(x)
        vec = nn.functional.normalize(vec, dim=-1) if self.normalize_items else vec
        return vec if channel is None else torch.cat([vec, channel], -1)

    def __call__(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
                 denominator: int, weights: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Same arguments as :class:`BPRLoss`; ``neg`` ``[B, n]`` (or ``[B]``: one each)."""
        u = self._users(rows(emb["user"], users))
        p = self._items(rows(emb["item"], pos))
        n = self._items(rows(emb["item"], neg.reshape(len(neg), -1)))
        logits = torch.cat([(u * p).sum(-1, keepdim=True),
                            torch.einsum("bd,bnd->bn", u, n)], 1) / self.temperature
        per_pair = self._per_pair(logits)
        return _per_pair_total(per_pair, weights) / denominator, logits.new_zeros(())

    def shared(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, cand: Tensor,
               allowed: Tensor, denominator: int, weights: Tensor | None = None
               ) -> tuple[Tensor, Tensor]:
        """The same loss against negatives shared by the batch
        (:class:`~graphrec.training.negatives.SharedNegatives`): one ``[B, m]`` product.

        Args:
            cand: ``[m]`` item indices of the shared negatives.
            allowed: ``[B, m]`` which of them are a pair's negatives (its own scenario, not
                its positive); the others are left out of its softmax.
            (others as in :meth:`__call__`)
        """
        logits = self.shared_logits(emb, users, pos, cand, allowed)
        per_pair = self._per_pair(logits, allowed)
        return _per_pair_total(per_pair, weights) / denominator, logits.new_zeros(())

    def shared_logits(self, emb: dict[str, Tensor], users: Tensor, pos: Tensor, cand: Tensor,
                      allowed: Tensor) -> Tensor:
        """``[B, 1 + m]`` logits of :meth:`shared`: the positive first, then the shared
        negatives, ``-inf`` where ``allowed`` is False."""
        u = self._users(rows(emb["user"], users))
        p = self._items(rows(emb["item"], pos))
        c = self._items(rows(emb["item"], cand))
        neg = (u @ c.T).masked_fill(~allowed, float("-inf"))
        return torch.cat([(u * p).sum(-1, keepdim=True), neg], 1) / self.temperature


#: ``[train] loss`` names
LOSSES = ("bpr", "softmax")


def make_loss(name: str, weight_decay: float, temperature: float,
              normalize_items: bool = True, item_bias: bool = False,
              pairwise_weight: float = 0.0) -> PairLoss:
    """The pair loss named ``name`` (:data:`LOSSES`)."""
    if name == "bpr":
        return BPRLoss(weight_decay)
    if name == "softmax":
        return SoftmaxLoss(temperature, normalize_items, item_bias, pairwise_weight)
    raise ConfigError(f"unknown loss {name!r}; losses are {list(LOSSES)}")


def bpr_loss(emb: dict[str, Tensor], users: Tensor, pos: Tensor, neg: Tensor,
             weight_decay: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean BPR loss and penalty of a whole batch (:class:`BPRLoss` over ``len(users)``)."""
    return BPRLoss(weight_decay)(emb, users, pos, neg, len(users))
