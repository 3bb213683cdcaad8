"""BPR training of a graph model on full graphs, with validation-based early stopping.

BPR (Rendle et al., UAI 2009): for each training pair (user, item) one negative is drawn
uniformly from the items *of the same scenario*, and ``-log sigmoid(s(u,i) - s(u,j))`` is
minimised. The whole graph is propagated at every step (sparse matrix products; no neighbour
sampler is needed at these sizes).
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from graphrec import distributed
from kg.errors import TrainingError
from kg.registry import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Training knobs. ``from_dict`` rejects unknown keys."""

    what: ClassVar[str] = "training"

    model: str = "lightgcn"
    dim: int = 64
    num_layers: int = 2
    lr: float = 0.01
    weight_decay: float = 1e-4
    epochs: int = 40
    batch_size: int = 4096
    patience: int = 5
    k: int = 20
    seed: int = 0
    #: share of user/item id embeddings dropped per training step (cold-start robustness)
    id_dropout: float = 0.0


@dataclass
class FitResult:
    """Best state (selected on validation), its epoch and the per-epoch history."""

    state: dict
    best_epoch: int
    best_score: float
    history: list[dict]
    seconds_per_epoch: float


class EarlyStopping:
    """Keeps the state with the best validation score; says when ``patience`` epochs in a row
    brought no improvement."""

    def __init__(self, model: nn.Module, patience: int):
        self.patience = patience
        self.best_score = -np.inf
        self.best_epoch = 0
        self.state = copy.deepcopy(model.state_dict())
        self.waited = 0

    def update(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record an epoch's score; True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.waited = score, epoch, 0
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.waited += 1
        return self.waited >= self.patience


def bpr_loss(emb: dict[str, torch.Tensor], users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor, weight_decay: float, weights: torch.Tensor | None = None
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """``(bpr, l2)`` of a batch: mean ``-log sigmoid(s(u, i) - s(u, j))`` (optionally weighted
    per pair) and the L2 penalty of the batch's embeddings, scaled by ``weight_decay``.

    Args:
        emb: the model's output (``'user'`` ``[U, d]``, ``'item'`` ``[I, d]``).
        users, pos, neg: ``[B]`` indices of users, their positives and sampled negatives.
    """
    return bpr_sums(emb, users, pos, neg, weight_decay, len(users), weights)


def bpr_sums(emb: dict[str, torch.Tensor], users: torch.Tensor, pos: torch.Tensor,
             neg: torch.Tensor, weight_decay: float, denominator: int,
             weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """:func:`bpr_loss` with the sums divided by ``denominator`` instead of the batch size:
    a process holding part of a batch divides by the whole batch's size, so gradients summed
    over processes equal the whole batch's."""
    u, p, n = emb["user"][users], emb["item"][pos], emb["item"][neg]
    per_pair = -nn.functional.logsigmoid((u * p).sum(-1) - (u * n).sum(-1))
    if weights is not None:
        per_pair = weights * per_pair
    reg = weight_decay * (u.pow(2).sum() + p.pow(2).sum() + n.pow(2).sum())
    return per_pair.sum() / denominator, reg / denominator


def fit(model: nn.Module, users: np.ndarray, items: np.ndarray, neg_pools: list[np.ndarray],
        pool_of_pair: np.ndarray, validate: Callable[[nn.Module], float], config: TrainConfig,
        progress: bool = True, pair_weights: np.ndarray | None = None) -> FitResult:
    """Train ``model`` with BPR; keep the state with the best validation score.

    Args:
        model: a model whose ``forward()`` returns ``{'user': [U, d], 'item': [I, d], ...}``
            (its graph already set).
        users, items: ``[num_pairs]`` node indices of the training pairs.
        neg_pools: item indices to draw negatives from, one array per scenario.
        pool_of_pair: ``[num_pairs]`` index into ``neg_pools`` for each pair.
        validate: model -> validation score (higher is better), called after every epoch.
        config: training settings.
        pair_weights: ``[num_pairs]`` loss weight of each pair (default 1): a source scenario
            can be down-weighted without leaving the graph.
    """
    if len(users) == 0:
        raise TrainingError("no training pairs: the chosen split/scenarios hold no interactions")
    gen = np.random.default_rng(config.seed)
    torch.manual_seed(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    u_all = torch.as_tensor(users)
    i_all = torch.as_tensor(items)
    w_all = None if pair_weights is None else torch.as_tensor(pair_weights, dtype=torch.float32)
    stopper = EarlyStopping(model, config.patience)
    history, started = [], time.perf_counter()
    bar = tqdm(range(1, config.epochs + 1), desc="train", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = gen.permutation(len(users))
        neg = np.empty(len(users), dtype=np.int64)
        for p, pool in enumerate(neg_pools):
            mask = pool_of_pair == p
            neg[mask] = pool[gen.integers(len(pool), size=int(mask.sum()))]
        neg_all = torch.as_tensor(neg)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            full = torch.as_tensor(order[start:start + config.batch_size])
            batch = distributed.shard(full)  # the whole batch outside torchrun
            loss, reg = bpr_sums(model(), u_all[batch], i_all[batch], neg_all[batch],
                                 config.weight_decay, len(full),
                                 None if w_all is None else w_all[batch])
            opt.zero_grad()
            (loss + reg).backward()
            distributed.sum_gradients(model)
            opt.step()
            total += distributed.agree_sum(loss.item()) * len(full)
        if not np.isfinite(total):
            raise TrainingError(f"loss diverged at epoch {epoch}; lower lr (now {config.lr})")
        model.eval()
        with torch.no_grad():
            score = distributed.agree(validate(model))
        history.append({"epoch": epoch, "loss": total / len(users), "valid": score})
        bar.set_postfix(loss=f"{total / len(users):.4f}", valid=f"{score:.4f}")
        if stopper.update(score, epoch, model):
            break
    seconds = (time.perf_counter() - started) / max(len(history), 1)
    model.load_state_dict(stopper.state)
    return FitResult(stopper.state, stopper.best_epoch, float(stopper.best_score), history,
                     seconds)
