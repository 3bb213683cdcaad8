"""A blend of two scorers: the graph model's dot products and a neighbourhood baseline's
co-occurrence sums (item-kNN's cosines or EASE's weights).

The baseline is exact where its sparse evidence exists and silent (score 0) elsewhere; the graph
model scores every pair. Their weighted sum, each scorer divided by a fixed scale so that the
weight means the same on any data set, keeps the baseline's ranking where it has evidence and
the graph model's where it has none. The ``hybrid`` strategy chooses the weight on validation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from graphrec.errors import ConfigError
from graphrec.evaluation.harness import pairs_through_block


@dataclass
class BlendedScorer:
    """``(1 - weight) * model / model_scale + weight * knn / knn_scale``; at weight 0 the model's
    scores and at weight 1 the baseline's, unscaled.

    Args:
        model, knn: scorers (:class:`graphrec.evaluation.harness.Scorer`); ``knn`` is the
            baseline (item-kNN, EASE or attribute-kNN).
        weight: the share of the baseline, in [0, 1].
        model_scale, knn_scale: positive scales (:func:`score_scale`).
    """

    model: object
    knn: object
    weight: float
    model_scale: float = 1.0
    knn_scale: float = 1.0

    def __post_init__(self):
        if not 0.0 <= self.weight <= 1.0:
            raise ConfigError(f"blend weight must be in [0, 1], not {self.weight}")
        if not (self.model_scale > 0 and self.knn_scale > 0):
            raise ConfigError(f"blend scales must be > 0, not {self.model_scale} and "
                              f"{self.knn_scale}")

    def _mix(self, model: Tensor, knn: Tensor) -> Tensor:
        # the ends serve one scorer exactly: a scale's rounding must not merge two close
        # scores into a tie that the scorer alone would not have
        if self.weight == 1.0:
            return knn.float()
        if self.weight == 0.0:
            return model.float()
        return ((1.0 - self.weight) * model.float() / self.model_scale
                + self.weight * knn.float() / self.knn_scale)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self._mix(self.model.score(users, items), self.knn.score(users, items))

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return self._mix(self.model.score_pairs(users, items),
                         self.knn.score_pairs(users, items))

    def to_dict(self) -> dict:
        """The blend's numbers (JSON-ready; ``model.json`` of a run directory)."""
        return {"weight": self.weight, "model_scale": self.model_scale,
                "knn_scale": self.knn_scale}


def score_scale(scorer, users: Tensor, items: Tensor) -> float:
    """The standard deviation of ``scorer``'s scores of ``users`` x ``items`` (1.0 when they
    are constant), the unit a blend divides the scorer by."""
    scores = scorer.score(users, items).float()
    std = float(scores.std()) if scores.numel() > 1 else 0.0
    return std if std > 0 and torch.isfinite(torch.tensor(std)) else 1.0


class MemoScorer:
    """A scorer that keeps every block it scored, keyed by the exact users and items asked.

    Choosing a blend's weight scores the same validation users once per weight tried; a model
    that scores by message passing per user (``path-gnn``) then runs once instead of once per
    weight. Memory: every block asked for (validation users x candidate items).
    """

    def __init__(self, scorer):
        self.scorer = scorer
        self._blocks: dict[tuple[bytes, bytes], Tensor] = {}

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        key = (users.cpu().numpy().tobytes(), items.cpu().numpy().tobytes())
        if key not in self._blocks:
            self._blocks[key] = self.scorer.score(users, items)
        return self._blocks[key].clone()  # callers may write into what they get

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return pairs_through_block(self.score, users, items)
