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
BPR pairs of meta-training come only from the meta-training scenarios. Both run in the one
:class:`~graphrec.training.Trainer`: one trainer epoch is one meta-iteration, whose batch is
``tasks_per_step`` tasks (split across processes under ``torchrun``), and the meta-gradient is
written into the model's gradients: reptile's ``theta - theta'`` with plain SGD at ``meta_lr``
(which is exactly the interpolation above), first-order MAML's query gradient with Adam. Every
``eval_every`` iterations the weights are scored on the target's ``valid`` split and the best
kept; meta-training stops when ``[train] patience`` evaluations in a row bring no improvement
(``iterations`` caps it, and so does the ``[train] epochs`` budget). Meta-training always
uses BPR with one negative on unnormalised scores (a task has too few pairs for a
many-negative softmax). Then the model adapts to the target exactly as
``finetune`` does (the run's loss on the target's pairs, half the learning rate, epoch chosen
on valid); that stage's time is reported as the adaptation time.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import torch
from torch import nn

from graphrec.data.pairs import training_pairs
from graphrec.errors import ConfigError, TrainingError
from graphrec.models import GraphModel, ModelGraph
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from graphrec.training import TrainConfig, UniformNegatives, adam, bpr_loss, distributed
from graphrec.training.stopping import EvalSchedule
from kg.registry import Settings
from kg.tables import KGTables

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MetaConfig(Settings):
    """Meta-training knobs (the model and learning rate come from :class:`TrainConfig`)."""

    what: ClassVar[str] = "meta-learning"
    unset: ClassVar[dict[str, str]] = {"iterations": "until [train] patience stops it"}

    #: meta-iterations at most; None: until ``[train] patience`` evaluations in a row bring no
    #: improvement. Always at most ITERATIONS_PER_EPOCH per ``[train] epochs``, so the user's
    #: epoch budget bounds meta-training too
    iterations: int | None = None
    inner_steps: int = 5
    task_users: int = 64
    #: reptile: interpolation step towards the adapted weights; maml: outer Adam lr multiplier
    meta_lr: float = 0.5
    eval_every: int = 10
    #: tasks per meta-update (the meta-batch; split across processes under torchrun)
    tasks_per_step: int = 1

    def __post_init__(self):
        counts = {"inner_steps": self.inner_steps, "task_users": self.task_users,
                  "eval_every": self.eval_every, "tasks_per_step": self.tasks_per_step}
        if self.iterations is not None:
            counts["iterations"] = self.iterations
        for name, value in counts.items():
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{self.what} setting {name} must be a whole number >= 1, not "
                                  f"{value!r}")
        if isinstance(self.meta_lr, bool) or not isinstance(self.meta_lr, int | float) \
                or self.meta_lr <= 0:
            raise ConfigError(f"{self.what} setting meta_lr must be a number > 0, not "
                              f"{self.meta_lr!r}")


Task = tuple[torch.Tensor, torch.Tensor, torch.Tensor]

#: meta-iterations allowed per epoch of the ``[train] epochs`` budget (one meta-iteration, a
#: task of ``task_users`` users with ``inner_steps`` steps, costs about a quarter of a joint
#: epoch on the synthetic data)
ITERATIONS_PER_EPOCH = 8


class TaskSampler:
    """Samples tasks: a scenario, ``task_users`` of its users, their pairs and negatives."""

    def __init__(self, tables: KGTables, index, scenarios: list[str],
                 negative_pool: str = "auto"):
        self.by_scenario = []
        for scenario in sorted(scenarios):
            pairs = training_pairs(tables, index, [scenario], negative_pool=negative_pool)
            if len(pairs) == 0:
                continue
            order = np.argsort(pairs.users, kind="stable")  # each user's pairs contiguous
            users, items = pairs.users[order], pairs.items[order]
            starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
            self.by_scenario.append((users, items, starts, pairs.pools[0]))
        if not self.by_scenario:
            raise TrainingError(f"no training interactions in {scenarios} to meta-train on")
        self.negatives = UniformNegatives()

    def sample(self, task_users: int, gen: np.random.Generator) -> Task:
        """``([P] users, [P] positives, [P] negatives)`` of one task."""
        users, items, starts, pool = self.by_scenario[gen.integers(len(self.by_scenario))]
        chosen = gen.choice(len(starts), size=min(task_users, len(starts)), replace=False)
        ends = np.r_[starts[1:], len(users)]
        rows = np.concatenate([np.arange(starts[c], ends[c]) for c in chosen])
        neg = self.negatives.draw([pool], np.zeros(len(rows), dtype=np.int64), gen)
        return (torch.as_tensor(users[rows]), torch.as_tensor(items[rows]),
                torch.as_tensor(neg))


def _adapt(fast: nn.Module, graph: ModelGraph, task: Task, steps: int, lr: float,
           weight_decay: float) -> float:
    opt = torch.optim.Adam(fast.parameters(), lr=lr)
    loss = torch.zeros(())
    for _ in range(steps):
        loss, reg = bpr_loss(fast(graph), *task, weight_decay)
        opt.zero_grad()
        (loss + reg).backward()
        opt.step()
    return float(loss.item())


def _accumulate(param: nn.Parameter, grad: torch.Tensor) -> None:
    """Add ``grad`` to ``param.grad`` (a parameter no task touched keeps ``grad = None``, so
    the optimiser leaves it alone)."""
    if param.grad is None:
        param.grad = grad.detach().clone()
    else:
        param.grad.add_(grad)


class MetaObjective:
    """The trainer's objective for meta-learning: one epoch = one meta-iteration.

    Args:
        algorithm: ``"reptile"`` or ``"maml"``.
        model: the model being meta-trained (a fast copy adapts to each task).
        tasks: the task sampler.
        meta: meta-learning settings.
        config: the inner learning rate and weight decay.
    """

    def __init__(self, algorithm: str, model: GraphModel, tasks: TaskSampler,
                 meta: MetaConfig, config: TrainConfig):
        self.algorithm, self.tasks, self.meta, self.config = algorithm, tasks, meta, config
        self.fast = copy.deepcopy(model)
        self.iteration = 0

    def epoch_batches(self, model: nn.Module, graph: ModelGraph,
                      gen: np.random.Generator) -> list[list[Task]]:
        self.iteration += 1
        return [[self.tasks.sample(self.meta.task_users, gen)
                 for _ in range(self.meta.tasks_per_step)]]

    def backward(self, model: nn.Module, graph: ModelGraph, batch: list[Task]
                 ) -> tuple[float, int]:
        mine = distributed.shard(torch.arange(len(batch))).tolist()  # all outside torchrun
        params = list(model.parameters())
        total = 0.0
        for t in mine:
            self.fast.load_state_dict(model.state_dict())
            self.fast.train()
            fast_params = list(self.fast.parameters())
            if self.algorithm == "reptile":
                total += _adapt(self.fast, graph, batch[t], self.meta.inner_steps,
                                self.config.lr, self.config.weight_decay)
                with torch.no_grad():  # SGD at meta_lr on theta - theta' moves towards theta'
                    for p, fp in zip(params, fast_params, strict=True):
                        _accumulate(p, (p - fp) / len(batch))
                continue
            users, pos, neg = batch[t]
            split = torch.Generator().manual_seed(self.iteration * self.meta.tasks_per_step + t)
            half = torch.rand(len(users), generator=split) < 0.5
            support = (users[half], pos[half], neg[half])
            query = (users[~half], pos[~half], neg[~half])
            if len(support[0]) == 0 or len(query[0]) == 0:
                continue
            _adapt(self.fast, graph, support, self.meta.inner_steps, self.config.lr,
                   self.config.weight_decay)
            self.fast.zero_grad()
            loss, reg = bpr_loss(self.fast(graph), *query, self.config.weight_decay)
            (loss + reg).backward()
            total += float(loss.item())
            with torch.no_grad():
                for p, fp in zip(params, fast_params, strict=True):
                    if fp.grad is not None:
                        _accumulate(p, fp.grad / len(batch))
        return total / len(batch), len(batch)


class MetaLearning(Strategy):
    """Meta-train an initialisation, then adapt to the target as ``finetune`` does;
    ``adapt_seconds`` is the adaptation stage alone. Subclasses set ``algorithm``."""

    settings_type = MetaConfig
    algorithm: ClassVar[str]

    def meta_train(self, run: StrategyRun) -> tuple[dict, float, list[dict]]:
        """Meta-learn an initialisation (see the module docstring).

        Returns:
            ``(state, best_valid, history)``: the state dict with the best zero-shot
            validation score on the target, that score, and ``{"iteration", "loss",
            "valid"}`` per evaluation.
        """
        meta: MetaConfig = self.settings
        data, index = run.graph()
        bpr = run.config.with_loss("bpr")
        model, graph = run.new_model(data, config=bpr)
        tasks = TaskSampler(run.tables, index, run.sources or [run.target],
                            run.config.negative_pool)
        objective = MetaObjective(self.algorithm, model, tasks, meta, bpr)
        optimizer = (adam(run.config.lr * meta.meta_lr) if self.algorithm == "maml"
                     else lambda params: torch.optim.SGD(params, lr=meta.meta_lr))
        iterations = ITERATIONS_PER_EPOCH * run.config.epochs
        if meta.iterations is not None:
            iterations = min(meta.iterations, iterations)
        # early stopping as any training stage (patience counts evaluations), the best kept
        config = replace(bpr, epochs=iterations)
        trained = run.fit(model, graph, index, objective, config, name=self.name,
                          optimizer=optimizer, schedule=EvalSchedule(meta.eval_every),
                          unit="iteration")
        history = [row for row in trained.fit.history if "valid" in row]
        return trained.fit.state, trained.fit.best_score, history

    def run(self, run: StrategyRun) -> StrategyResult:
        state, zero_shot, history = self.meta_train(run)
        adapt_start = time.perf_counter()
        trained = run.train(None, [run.target], state, config=run.adapted(),
                            name=f"{self.name} (target)")
        return run.finish(self.name, trained, adapt_seconds=time.perf_counter() - adapt_start,
                          decision={"zero_shot_valid": zero_shot, "meta_history": history})
