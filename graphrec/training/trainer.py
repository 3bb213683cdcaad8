"""The one training loop of graphrec: epochs, batches, sharding, checks, evaluation, stopping.

Every learned strategy trains through :class:`Trainer` (as PyKEEN's training loops and
RecBole's ``Trainer.fit`` do). What differs between strategies is the :class:`Objective`: which
batches an epoch holds and how a batch's gradient is computed. :class:`PairObjective` is the
common one (pairs of the chosen scenarios, one sampled negative each, a pluggable pair loss);
the source-free and meta-learning strategies extend it or bring their own.

The trainer owns, in one place:

- the optimiser step and, under ``torchrun``, the gradient all-reduce
  (:mod:`graphrec.training.distributed`; each objective computes only its process's share of a
  batch);
- the non-finite loss check (:class:`~graphrec.errors.NonFiniteLossError`);
- the evaluation schedule and early stopping on the validation score, keeping the best state;
- the history and a progress bar named after the strategy;
- seeding: the numpy generator of the sampling and the torch generator of training-time
  randomness (id dropout) are seeded once, from ``config.seed``, when :meth:`Trainer.fit`
  starts. Model weights are initialised under their own seed (:func:`graphrec.models.build_model`)
  without touching the global generator.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn
from tqdm.auto import tqdm

from graphrec.data.co_interactions import CO_EDGES
from graphrec.data.pairs import TrainingPairs
from graphrec.errors import ConfigError, NonFiniteLossError, TrainingError
from graphrec.models.base import ModelGraph
from graphrec.training import distributed
from graphrec.training.checkpoint import StageCheckpoint
from graphrec.training.config import TrainConfig
from graphrec.training.device import to_device
from graphrec.training.losses import BPRLoss, PairLoss, SoftmaxLoss, make_loss
from graphrec.training.memory import keep_freed_memory
from graphrec.training.negatives import SharedNegatives, UniformNegatives
from graphrec.training.simulation import Simulation, simulated_graph
from graphrec.training.stopping import EarlyStopping, EvalSchedule
from kg import schema
from kg.progress import live_bar

logger = logging.getLogger(__name__)


#: why training stopped (:attr:`FitResult.stopped`)
CONVERGED = "converged"
TIME_BUDGET = "time budget"
EPOCH_CAP = "epoch cap"
#: the cap came while validation was still improving (the best epoch lies within the last
#: ``patience`` evaluations): a longer run might have done better
EPOCH_CAP_RISING = "epoch cap, still improving"


@dataclass
class FitResult:
    """Best state (selected on validation), its epoch and score, the per-epoch history
    (``{"epoch", "loss", "valid"}``; ``valid`` only on evaluated epochs) and why training
    stopped (:data:`CONVERGED`: ``patience`` evaluations without improvement;
    :data:`TIME_BUDGET`; :data:`EPOCH_CAP` or :data:`EPOCH_CAP_RISING`)."""

    state: dict
    best_epoch: int
    best_score: float
    history: list[dict] = field(default_factory=list)
    stopped: str = EPOCH_CAP


class Objective(Protocol):
    """What the trainer minimises."""

    def epoch_batches(self, model: nn.Module, graph: ModelGraph,
                      gen: np.random.Generator) -> Sequence[Any]:
        """The (whole, unsharded) batches of one epoch, drawn from ``gen``."""

    def backward(self, model: nn.Module, graph: ModelGraph, batch: Any) -> tuple[float, int]:
        """Accumulate this process's share of ``batch``'s gradient into ``model``.

        Returns:
            ``(loss, size)``: this process's share of the batch's mean loss (it sums to the
            mean over processes) and the batch's size, for the epoch's mean loss.
        """


class PairObjective:
    """Positive pairs, sampled negatives, a pair loss (BPR by default).

    An epoch shuffles the pairs, draws their negatives (``sampler``) and cuts the order into
    batches of ``batch_size``; each process scores its contiguous share of a batch. With
    ``simulations``, the epoch also draws the graph it propagates over (target edges of some
    bridge users hidden, :class:`~graphrec.training.bridges.BridgeSimulation`; some target
    items made cold, :class:`~graphrec.training.cold_items.ColdItemSimulation`).

    Args:
        pairs: the training pairs.
        batch_size: pairs per optimiser step.
        loss: the pair loss (default :class:`BPRLoss` with ``weight_decay``).
        sampler: the negative sampler (default :class:`UniformNegatives`, one per pair).
        simulations: cold-start simulations applied in turn to each epoch's graph (none:
            propagate over the trainer's graph); see
            :func:`~graphrec.training.simulation.simulated_graph`.
        co_positive_weight: weight of the co-interaction positives (0: none). Each batch
            pair ``(u, i)`` then adds a pair ``(u, j)`` of this weight, ``j`` drawn uniformly
            from ``i``'s co-interaction neighbours (the graph's ``cooccurs`` edges, in every
            trained scenario), scored against ``j``'s scenario's negatives: item-item
            co-occurrence as a training signal (UltraGCN's item-item constraint, Mao et al.,
            CIKM 2021), which teaches a user's items in one scenario to pull the target items
            their users also took, as item-kNN scores them.
    """

    def __init__(self, pairs: TrainingPairs, batch_size: int, loss: PairLoss | None = None,
                 sampler: UniformNegatives | SharedNegatives | None = None,
                 weight_decay: float = 0.0,
                 simulations: Sequence[Simulation] = (), co_positive_weight: float = 0.0):
        if len(pairs) == 0:
            raise TrainingError("no training pairs: the chosen split/scenarios hold no "
                                "interactions")
        self.pairs = pairs
        self.batch_size = batch_size
        self.loss = loss or BPRLoss(weight_decay)
        self.sampler = sampler or UniformNegatives()
        if isinstance(self.sampler, SharedNegatives) and not isinstance(self.loss, SoftmaxLoss):
            raise ConfigError("shared negatives need the softmax loss (loss = \"softmax\")")
        self.simulations = list(simulations)
        self.pool_of_pair = torch.as_tensor(np.array(pairs.pool_of_pair))
        self.batch_gen: np.random.Generator | None = None  # shared draws: set per epoch
        self.co_gen: np.random.Generator | None = None  # co-positive draws: set per epoch
        self.users = torch.as_tensor(pairs.users)
        self.items = torch.as_tensor(pairs.items)
        self.weights = (None if pairs.weights is None
                        else torch.as_tensor(pairs.weights, dtype=torch.float32))
        self.neg = torch.empty(0, dtype=torch.long)
        self.graph: ModelGraph | None = None
        self.co_positive_weight = co_positive_weight
        #: co-interaction neighbours as CSR (``indptr [I + 1]``, ``neighbours [E]``) and the
        #: negative pool of every item (-1: not trained), built from the first epoch's graph
        self.co_neighbours: tuple[torch.Tensor, torch.Tensor] | None = None
        self.pool_of_item = torch.empty(0, dtype=torch.long)

    @classmethod
    def from_config(cls, pairs: TrainingPairs, config: TrainConfig,
                    simulations: Sequence[Simulation] = ()) -> PairObjective:
        """The objective ``[train]`` describes: its loss, negatives per pair and batch size."""
        sampler = (SharedNegatives(config.negatives) if config.negative_sampling == "shared"
                   else UniformNegatives(config.negatives))
        return cls(pairs, config.batch_for(len(pairs)),
                   make_loss(config.loss, config.weight_decay, config.temperature,
                             config.normalize_items, config.item_bias,
                             config.pairwise_weight),
                   sampler, simulations=simulations, co_positive_weight=config.co_positive_weight)

    def _follow(self, model: nn.Module) -> None:
        """Keep the index tensors on the model's device (``[train] device``)."""
        device = next(model.parameters()).device
        if self.users.device != device:
            self.users, self.items = self.users.to(device), self.items.to(device)
            self.pool_of_pair = self.pool_of_pair.to(device)
            if self.weights is not None:
                self.weights = self.weights.to(device)

    def epoch_batches(self, model: nn.Module, graph: ModelGraph,
                      gen: np.random.Generator) -> list[torch.Tensor]:
        self._follow(model)
        self.graph = simulated_graph(self.simulations, model, graph, gen)
        order = gen.permutation(len(self.pairs))
        if self.co_positive_weight > 0 and self.co_neighbours is None:
            self._build_co_neighbours(graph)
        if isinstance(self.sampler, SharedNegatives):
            # drawn batch by batch in batch_loss, from a generator seeded by this epoch's draw
            self.batch_gen = np.random.default_rng(int(gen.integers(2**63)))
        if self.co_positive_weight > 0:  # its own generator: each process draws for its part
            self.co_gen = np.random.default_rng(int(gen.integers(2**63)))
        if not isinstance(self.sampler, SharedNegatives):
            self.neg = torch.as_tensor(self.sampler.draw(
                self.pairs.pools, self.pairs.pool_of_pair, gen)).to(self.users.device)
        return [torch.as_tensor(order[s:s + self.batch_size]).to(self.users.device)
                for s in range(0, len(order), self.batch_size)]

    def _build_co_neighbours(self, graph: ModelGraph) -> None:
        if CO_EDGES not in graph.data.edge_types or graph.data[CO_EDGES].edge_index.shape[1] == 0:
            raise ConfigError("co_positive_weight > 0 needs co-interaction edges in the graph "
                              "(co_interactions > 0, and items that share users)")
        src, dst = graph.data[CO_EDGES].edge_index.cpu()
        num_items = graph.data[schema.PYG_ITEM].num_nodes
        indptr = torch.zeros(num_items + 1, dtype=torch.long)
        indptr[1:] = torch.bincount(src, minlength=num_items).cumsum(0)
        self.co_neighbours = (indptr, dst[torch.argsort(src, stable=True)])
        self.pool_of_item = torch.full((num_items,), -1, dtype=torch.long)
        for number, pool in enumerate(self.pairs.pools):
            self.pool_of_item[torch.as_tensor(pool, dtype=torch.long)] = number

    def _co_positives(self, part: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor,
                                                          torch.Tensor]:
        """``(kept, items, pools)``: for the pairs at positions ``part``, which ones got a
        co-interaction positive (``[B]`` bool), and those positives and their pools."""
        indptr, neighbours = self.co_neighbours
        pos = self.items[part].cpu()
        degree = indptr[pos + 1] - indptr[pos]
        draw = torch.from_numpy(self.co_gen.random(len(pos)))  # one per pair, as ever drawn
        linked = degree > 0
        # floor(draw * degree) < degree, but the product can round up to degree: clamp
        offset = (draw[linked] * degree[linked]).long().clamp(max=degree[linked] - 1)
        items = neighbours[indptr[pos[linked]] + offset]
        pools = self.pool_of_item[items]
        trained = pools >= 0  # a neighbour in a scenario this objective does not train: none
        kept = linked.clone()
        kept[linked] = trained
        device = self.users.device
        return kept.to(device), items[trained].to(device), pools[trained].to(device)

    def epoch_graph(self, graph: ModelGraph) -> ModelGraph:
        """The graph this epoch propagates over (``graph`` unless a simulation changed it)."""
        return graph if self.graph is None else self.graph

    def batch_loss(self, emb: dict[str, torch.Tensor], batch: torch.Tensor, part: torch.Tensor
                   ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(loss, penalty)`` of this process's ``part`` of ``batch`` (pair positions)."""
        weights = None if self.weights is None else self.weights[part]
        users, pos, pools = self.users[part], self.items[part], self.pool_of_pair[part]
        shared = isinstance(self.sampler, SharedNegatives)
        neg = None if shared else self.neg[part]
        if shared:  # every process draws the batch's sample (same generator)
            items, pool = self.sampler.draw(self.pairs.pools, self.batch_gen)
        if self.co_positive_weight > 0:  # the batch's pairs, then their co-positives
            kept, co_items, co_pools = self._co_positives(part)
            base = weights if weights is not None else torch.ones(len(part),
                                                                  device=users.device)
            weights = torch.cat([base, self.co_positive_weight * base[kept]])
            users, pos, pools = (torch.cat([users, users[kept]]), torch.cat([pos, co_items]),
                                 torch.cat([pools, co_pools]))
            if neg is not None:
                co_neg = torch.as_tensor(self.sampler.draw(
                    self.pairs.pools, co_pools.cpu().numpy(), self.co_gen)).to(neg.device)
                neg = torch.cat([neg, co_neg])
        if shared:
            device = self.users.device
            cand = torch.as_tensor(items).to(device)
            allowed = ((pools[:, None] == torch.as_tensor(pool).to(device)[None])
                       & (pos[:, None] != cand[None]))
            return self.loss.shared(emb, users, pos, cand, allowed, len(batch), weights)
        return self.loss(emb, users, pos, neg, len(batch), weights)

    def backward(self, model: nn.Module, graph: ModelGraph, batch: torch.Tensor
                 ) -> tuple[float, int]:
        part = distributed.shard(batch)  # the whole batch outside torchrun
        loss, penalty = self.batch_loss(model(self.epoch_graph(graph)), batch, part)
        (loss + penalty).backward()
        return loss.item(), len(batch)


def _format(row: dict) -> str:
    return " ".join(f"{k} {v:.4f}" for k, v in row.items() if isinstance(v, float))


def adam(lr: float) -> Callable[[list[nn.Parameter]], torch.optim.Optimizer]:
    """An optimiser factory: Adam with learning rate ``lr``."""
    return lambda params: torch.optim.Adam(params, lr=lr)


class Trainer:
    """Trains a model on an objective and keeps the state that validates best.

    Args:
        model: the model; only parameters with ``requires_grad`` are optimised.
        graph: the graph it propagates over (:meth:`GraphModel.prepare_graph`).
        objective: batches and gradients (:class:`PairObjective` and friends).
        validate: model -> validation score (higher is better), called on schedule.
        config: epochs, patience, seed, learning rate.
        name: shown on the progress bar and in log lines (the strategy's name).
        optimizer: factory of the optimiser over the trainable parameters (default Adam at
            ``config.lr``).
        schedule: when to evaluate (default every epoch).
        progress: show a progress bar.
        unit: what one step of the outer loop is called in the history (``epoch``, or
            ``iteration`` for meta-learning).
        checkpoint: where the stage saves itself after every epoch and resumes from
            (:mod:`graphrec.training.checkpoint`); None: no checkpoints.
    """

    def __init__(self, model: nn.Module, graph: ModelGraph, objective: Objective,
                 validate: Callable[[nn.Module], float], config: TrainConfig, *,
                 name: str = "train", optimizer: Callable | None = None,
                 schedule: EvalSchedule | None = None, progress: bool = True, unit: str = "epoch",
                 checkpoint: StageCheckpoint | None = None):
        if config.seed is None:
            raise TrainingError("the trainer needs a concrete seed; call config.with_seed()")
        self.model, self.graph, self.objective = model, graph, objective
        self.validate, self.config, self.name = validate, config, name
        self.optimizer = optimizer or adam(config.lr)
        self.schedule = schedule or EvalSchedule()
        self.progress, self.unit = progress, unit
        self.checkpoint = checkpoint

    def _say(self, text: str) -> None:
        """A line on stderr, named after the stage (rank 0; nothing without progress)."""
        if self.progress and distributed.rank() == 0:
            print(f"{self.name}: {text}", file=sys.stderr, flush=True)

    def _save(self, epoch: int, finished: bool, model: nn.Module, opt: torch.optim.Optimizer,
              stopper: EarlyStopping, history: list[dict], gen: np.random.Generator,
              started: float, stopped: str) -> None:
        """Checkpoint the stage after ``epoch`` (rank 0 writes; every rank reads)."""
        if self.checkpoint is None or distributed.rank() != 0:
            return
        self.checkpoint.save(
            epoch=epoch, finished=finished, model=to_device(model.state_dict(), "cpu"),
            optimizer=to_device(opt.state_dict(), "cpu"),
            stopper=to_device(stopper.snapshot(), "cpu"), history=history,
            numpy_rng=gen.bit_generator.state, torch_rng=torch.get_rng_state(),
            seconds=time.perf_counter() - started, stopped=stopped)

    def _finished(self, saved: dict) -> FitResult:
        """The result of a stage that finished before the run was interrupted."""
        best = saved["stopper"]
        self.model.load_state_dict(best["state"])
        self.model.eval()
        self._say(f"finished before the interruption: best {self.unit} {best['best_epoch']} "
                  f"(valid {best['best_score']:.4f}); stopped: {saved['stopped']}")
        return FitResult(best["state"], int(best["best_epoch"]), float(best["best_score"]),
                         list(saved["history"]), saved["stopped"])

    def _line(self, live: bool, epoch: int, epochs: int, row: dict) -> None:
        """One progress line per epoch when there is no terminal to draw a bar on."""
        if not live:
            self._say(f"{self.unit} {epoch}/{epochs} {_format(row)}")

    def fit(self) -> FitResult:
        """Train for at most ``config.epochs``; load and return the best state.

        Raises:
            NonFiniteLossError: an epoch's loss is NaN or infinite.
        """
        model, config = self.model, self.config
        if config.keep_memory:
            keep_freed_memory()
        epochs = config.epochs
        saved = self.checkpoint.load() if self.checkpoint is not None else None
        if saved is not None and saved["finished"]:
            return self._finished(saved)
        gen = np.random.default_rng(config.seed)
        torch.manual_seed(config.seed)
        opt = self.optimizer([p for p in model.parameters() if p.requires_grad])
        stopper = EarlyStopping(model, config.patience)
        history: list[dict] = []
        first, spent = 1, 0.0
        if saved is not None:  # an interrupted stage: continue after its last epoch
            model.load_state_dict(saved["model"])
            opt.load_state_dict(saved["optimizer"])
            stopper.restore(saved["stopper"])
            history = list(saved["history"])
            gen.bit_generator.state = saved["numpy_rng"]
            torch.set_rng_state(saved["torch_rng"])
            first, spent = int(saved["epoch"]) + 1, float(saved["seconds"])
            self._say(f"resuming after {self.unit} {saved['epoch']}")
        # a bar on a terminal; one line per epoch where stderr is a file or a pipe (logs get no
        # carriage-return frames); nothing without progress
        live = live_bar(self.progress)
        bar = tqdm(range(first, epochs + 1), desc=self.name, disable=not live, leave=False,
                   unit=self.unit, initial=first - 1, total=epochs)
        started = time.perf_counter() - spent
        stopped, epoch = EPOCH_CAP, first - 1
        for epoch in bar:
            model.train()
            total, seen = 0.0, 0
            for batch in self.objective.epoch_batches(model, self.graph, gen):
                opt.zero_grad()
                loss, size = self.objective.backward(model, self.graph, batch)
                distributed.sum_gradients(model)
                if config.clip_norm is not None:
                    nn.utils.clip_grad_norm_(model.parameters(), config.clip_norm)
                opt.step()
                total += distributed.agree_sum(loss) * size
                seen += size
            mean = total / max(seen, 1)
            if not np.isfinite(total):
                raise NonFiniteLossError(
                    f"{self.name}: loss diverged at {self.unit} {epoch} ({mean}); lower lr "
                    f"(now {config.lr})")
            row = {self.unit: epoch, "loss": mean}
            if self.schedule.due(epoch, epochs):
                model.eval()
                with torch.no_grad():
                    score = distributed.agree(self.validate(model))
                row["valid"] = score
                history.append(row)
                bar.set_postfix(loss=f"{mean:.4f}", valid=f"{score:.4f}")
                logger.info("%s: %s %d loss %.4f valid %.4f", self.name, self.unit, epoch,
                            mean, score)
                self._line(live, epoch, epochs, row)
                if stopper.update(score, epoch, model):
                    stopped = CONVERGED
                    break
                if stopper.waited > 0 and config.lr_decay < 1.0:
                    for group in opt.param_groups:  # kept in the optimiser's checkpoint
                        group["lr"] *= config.lr_decay
            else:
                history.append(row)
                self._line(live, epoch, epochs, row)
            if (config.time_budget is not None and epoch < epochs
                    and distributed.agree(time.perf_counter() - started) >= config.time_budget):
                stopped = TIME_BUDGET
                break
            self._save(epoch, False, model, opt, stopper, history, gen, started, stopped)
        if stopped == EPOCH_CAP and stopper.waited < (config.patience or 1):
            stopped = EPOCH_CAP_RISING
        self._save(epoch, True, model, opt, stopper, history, gen, started, stopped)
        model.load_state_dict(stopper.state)
        model.eval()
        if not live:
            self._say(f"best {self.unit} {stopper.best_epoch} (valid "
                      f"{stopper.best_score:.4f}); stopped: {stopped}")
        if stopped == EPOCH_CAP_RISING:
            logger.warning("%s: stopped at the %s cap (%d) while validation was still "
                           "improving (best at %d); raise epochs or time_budget", self.name,
                           self.unit, epochs, stopper.best_epoch)
        return FitResult(stopper.state, stopper.best_epoch, float(stopper.best_score), history,
                         stopped)
