"""Meta-learning strategies: ``reptile`` and ``maml`` (first-order).

Both learn an *initialisation* of the whole graph model from many small tasks, so that a new
scenario adapts from a handful of interactions. A task is a random group of ``task_users``
users of one meta-training scenario (the source scenarios; the target itself when the data set
has no other scenario) with their training pairs:

- ``reptile`` (Nichol et al., 2018): from the current weights ``theta``, take ``inner_steps``
  Adam steps of BPR on the task's pairs, reaching ``theta'``; move ``theta <- theta +
  meta_lr * (theta' - theta)``.
- ``maml`` (Finn et al., ICML 2017; first-order approximation, as in their paper's FOMAML):
  split the task's pairs into support and query halves; adapt on the support as above; the
  gradient of the query loss at ``theta'`` updates ``theta`` through an outer Adam optimiser.

The message-passing graph holds every scenario's training interactions (as ``finetune``); the
BPR pairs of meta-training come only from the meta-training scenarios. Every ``eval_every``
iterations the weights are scored on the target's ``valid`` split and the best kept. Then the
model adapts to the target exactly as ``finetune`` does (BPR on the target's pairs, half the
learning rate, epoch chosen on valid); that stage's time is reported as the adaptation time.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import torch
from tqdm.auto import tqdm

from graphrec.evaluate import Protocol
from graphrec.graph import TRAIN_SPLITS, build_graph
from graphrec.models import build_model
from graphrec.strategy_base import (
    StrategyResult,
    finish,
    train_scenarios,
    training_pairs,
    valid_score,
)
from graphrec.train import TrainConfig, bpr_loss
from kg.errors import TrainingError
from kg.registry import Settings
from kg.tables import KGTables

logger = logging.getLogger(__name__)

ALGORITHMS = ("reptile", "maml")


@dataclass(frozen=True)
class MetaConfig(Settings):
    """Meta-training knobs (the model and learning rate come from :class:`TrainConfig`)."""

    what: ClassVar[str] = "meta-learning"

    iterations: int = 150
    inner_steps: int = 5
    task_users: int = 64
    #: reptile: interpolation step towards the adapted weights; maml: outer Adam lr multiplier
    meta_lr: float = 0.5
    eval_every: int = 10


class _Tasks:
    """Samples tasks: (scenario, users) -> ``[P]`` users, positives and negatives."""

    def __init__(self, tables: KGTables, index, scenarios: list[str], seed: int):
        self.rng = np.random.default_rng(seed)
        self.by_scenario = []
        for scenario in sorted(scenarios):
            users, items, pools, _, _ = training_pairs(tables, index, [scenario])
            if len(users) == 0:
                continue
            order = np.argsort(users, kind="stable")  # each user's pairs contiguous
            users, items = users[order], items[order]
            starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
            self.by_scenario.append((users, items, starts, pools[0]))
        if not self.by_scenario:
            raise TrainingError(f"no training interactions in {scenarios} to meta-train on")

    def sample(self, task_users: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        users, items, starts, pool = self.by_scenario[
            self.rng.integers(len(self.by_scenario))]
        chosen = self.rng.choice(len(starts), size=min(task_users, len(starts)), replace=False)
        ends = np.r_[starts[1:], len(users)]
        rows = np.concatenate([np.arange(starts[c], ends[c]) for c in chosen])
        neg = pool[self.rng.integers(len(pool), size=len(rows))]
        return (torch.as_tensor(users[rows]), torch.as_tensor(items[rows]),
                torch.as_tensor(neg))


def _adapt(fast: torch.nn.Module, batch, steps: int, lr: float, weight_decay: float) -> None:
    opt = torch.optim.Adam(fast.parameters(), lr=lr)
    for _ in range(steps):
        loss, reg = bpr_loss(fast(), *batch, weight_decay)
        opt.zero_grad()
        (loss + reg).backward()
        opt.step()


def meta_train(algorithm: str, tables: KGTables, target: str, config: TrainConfig,
               meta: MetaConfig | None = None, progress: bool = True,
               protocol: Protocol | None = None) -> tuple[dict, float, list[dict]]:
    """Meta-learn an initialisation (see the module docstring).

    Returns:
        ``(state, best_valid, history)``: the state dict with the best zero-shot validation
        score on the target, that score, and ``{"iteration", "valid"}`` per evaluation.
    """
    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, not {algorithm!r}")
    meta = meta or MetaConfig()
    scenarios = sorted(tables.scenarios["scenario"])
    meta_scenarios = [s for s in scenarios if s != target] or [target]
    data, index = build_graph(tables, TRAIN_SPLITS)
    torch.manual_seed(config.seed)
    model = build_model(config.model, data, config.dim, config.num_layers,
                        id_dropout=config.id_dropout)
    model.set_graph(data)
    fast = copy.deepcopy(model)
    tasks = _Tasks(tables, index, meta_scenarios, config.seed)
    outer = torch.optim.Adam(model.parameters(), lr=config.lr * meta.meta_lr) \
        if algorithm == "maml" else None
    best = (-np.inf, copy.deepcopy(model.state_dict()))
    history = []
    bar = tqdm(range(1, meta.iterations + 1), desc=algorithm, disable=not progress,
               leave=False)
    for it in bar:
        model.train()
        fast.load_state_dict(model.state_dict())
        fast.train()
        users, pos, neg = tasks.sample(meta.task_users)
        if algorithm == "reptile":
            _adapt(fast, (users, pos, neg), meta.inner_steps, config.lr, config.weight_decay)
            with torch.no_grad():
                theta = model.state_dict()
                for name, value in fast.state_dict().items():
                    if value.dtype.is_floating_point:
                        theta[name].add_(meta.meta_lr * (value - theta[name]))
        else:
            half = torch.rand(len(users), generator=torch.Generator().manual_seed(it)) < 0.5
            support = (users[half], pos[half], neg[half])
            query = (users[~half], pos[~half], neg[~half])
            if len(support[0]) == 0 or len(query[0]) == 0:
                continue
            _adapt(fast, support, meta.inner_steps, config.lr, config.weight_decay)
            fast.zero_grad()
            loss, reg = bpr_loss(fast(), *query, config.weight_decay)
            (loss + reg).backward()
            outer.zero_grad()
            for p, fp in zip(model.parameters(), fast.parameters(), strict=True):
                p.grad = None if fp.grad is None else fp.grad.detach().clone()
            outer.step()
        if it % meta.eval_every == 0 or it == meta.iterations:
            model.eval()
            with torch.no_grad():
                score = valid_score(model, index, tables, target, config.k, protocol)
            history.append({"iteration": it, "valid": score})
            bar.set_postfix(valid=f"{score:.4f}")
            if score > best[0]:
                best = (score, copy.deepcopy(model.state_dict()))
    return best[1], float(best[0]), history


def run_meta(algorithm: str, tables: KGTables, target: str, config: TrainConfig, *,
             progress: bool = True, protocol: Protocol | None = None,
             options: dict | None = None) -> StrategyResult:
    """Meta-train, then adapt to the target as ``finetune`` does; ``adapt_seconds`` is the
    adaptation stage alone. ``options``: :class:`MetaConfig` fields."""
    meta = MetaConfig.from_dict(options)
    started = time.perf_counter()
    state, zero_shot, history = meta_train(algorithm, tables, target, config, meta, progress,
                                           protocol)
    adapt_start = time.perf_counter()
    trained = train_scenarios(tables, target, None, [target], replace(config, lr=config.lr / 2),
                              state, progress, protocol=protocol)
    adapt = time.perf_counter() - adapt_start
    return finish(algorithm, trained, tables, target, config, started, protocol,
                  adapt_seconds=adapt,
                  decision={"zero_shot_valid": zero_shot, "meta_history": history})


def run_reptile(tables: KGTables, target: str, config: TrainConfig, **kwargs) -> StrategyResult:
    """The ``reptile`` strategy."""
    return run_meta("reptile", tables, target, config, **kwargs)


def run_maml(tables: KGTables, target: str, config: TrainConfig, **kwargs) -> StrategyResult:
    """The ``maml`` strategy (first-order)."""
    return run_meta("maml", tables, target, config, **kwargs)
