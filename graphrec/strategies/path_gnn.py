"""``path-gnn``: the conditional GNN (:mod:`graphrec.models.path_gnn`) over every scenario.

It trains on hidden-item queries (:mod:`graphrec.training.queries`) with the one
:class:`~graphrec.training.Trainer`, selects its epoch on the target's validation split like
every strategy, and scores a user by message passing from that user's items: no user
parameters, so cold-start users (items only in other scenarios) are scored as training scored
its cold queries.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex
from graphrec.errors import ConfigError
from graphrec.evaluation.harness import evaluate, pairs_through_block
from graphrec.models.path_gnn import (
    PATH_MODEL,
    PathGNN,
    PathGraph,
    mark_ratings,
    prepare_path_graph,
    rated_levels,
    training_ratings,
)
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from graphrec.strategies.baselines import valid_score
from graphrec.training import TrainConfig, Trainer
from graphrec.training.cold_items import without_item_interactions
from graphrec.training.device import resolve_device
from graphrec.training.queries import QueryObjective, queries_in_memory
from graphrec.training.trainer import FitResult
from kg.registry import Settings

logger = logging.getLogger(__name__)

#: ``[train] lr`` when a config leaves it out: path-gnn reads its own and says so when a
#: config sets this one
TRAIN_LR = TrainConfig.lr


@dataclass(frozen=True)
class PathGNNConfig(Settings):
    """``[strategy.path-gnn]``: the model's size and its training queries.

    ``[train]`` still sets the seed, epochs, patience, time budget, device, ``k`` and
    ``bridge`` (the share of bridge users trained as cold queries; default the share of cold
    validation users); the learning rate is this section's (a ``[train] lr`` is reported
    unread). The graph has no co-interaction edges (``co_interactions`` is not
    read): the model follows the item -> user -> item paths they summarise. Cold-start items
    are trained by the cold-item queries below (``[train] cold_items``, the embedding models'
    simulation, is not read).
    """

    what = "path-gnn strategy"
    unset: ClassVar[dict[str, str]] = {
        "cold_item_queries": "the validation split's share of cold-start items"}

    #: channels per node and query
    dim: int = 16
    #: message-passing hops (4: item -> user -> item -> user -> item)
    num_layers: int = 4
    #: queries per optimiser step (memory: batch x dim x every node)
    batch_size: int = 32
    #: the most queries per epoch (validation follows each epoch)
    max_queries: int = 512
    #: Adam's learning rate
    lr: float = 0.005
    #: learn a vector per item for the score
    item_embeddings: bool = True
    #: learn a vector and a bias per attribute value for the score: what a cold-start item
    #: brings besides the paths that reach it (no effect where items have no attributes;
    #: attribute types that only identify items, such as a product id shared across
    #: scenarios, get none: graphrec.models.path_gnn.is_identifier_type; off by default:
    #: docs/benchmarks.md, "Which attribute values get a vector")
    attribute_embeddings: bool = False
    #: the share of an epoch's queries that train cold-start items (items reached through
    #: their attributes only; see graphrec.training.queries); None: the share of the
    #: target's validation interactions whose item has no training interaction (1 where
    #: validation holds only cold-start items, 0 where it holds none)
    cold_item_queries: float | None = None
    #: the share of the target's trained items made cold in each epoch for those queries
    cold_item_pool: float = 0.2
    #: where the training interactions are rated (2 to 10 distinct weights), start the items
    #: a user rated at each value but the most common with a query vector of its own (a
    #: learned offset per value): no effect on unweighted data (docs/benchmarks.md,
    #: "Rating starts")
    rating_starts: bool = True
    #: the probability that training zeroes a channel of an item's features before the
    #: score (a regulariser; 0: none)
    dropout: float = 0.0

    def __post_init__(self):
        for name in ("dim", "num_layers", "batch_size", "max_queries"):
            value = getattr(self, name)
            if isinstance(value, bool) or not (isinstance(value, int) and value > 0):
                raise ConfigError(f"[strategy.path-gnn] {name} must be a positive integer, "
                                  f"not {value!r}")
        if isinstance(self.lr, bool) or not (isinstance(self.lr, (int, float))
                                             and 0 < self.lr and math.isfinite(self.lr)):
            raise ConfigError(f"[strategy.path-gnn] lr must be a positive number, not "
                              f"{self.lr!r}")
        share = self.cold_item_queries
        if share is not None and (isinstance(share, bool) or not isinstance(share, (int, float))
                                  or not 0 <= share <= 1):
            raise ConfigError(f"[strategy.path-gnn] cold_item_queries must be a number in "
                              f"[0, 1] or left out, not {share!r}")
        pool = self.cold_item_pool
        if isinstance(pool, bool) or not isinstance(pool, (int, float)) or not 0 < pool < 1:
            raise ConfigError(f"[strategy.path-gnn] cold_item_pool must be a number in "
                              f"(0, 1), not {pool!r}")
        rate = self.dropout
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 <= rate < 1:
            raise ConfigError(f"[strategy.path-gnn] dropout must be a number in [0, 1), "
                              f"not {rate!r}")
        for name in ("item_embeddings", "attribute_embeddings", "rating_starts"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"[strategy.path-gnn] {name} must be true or false, "
                                  f"not {getattr(self, name)!r}")


#: users scored per pass by :class:`PathScorer` where memory allows
SCORE_BATCH = 64


class PathScorer:
    """Scores of a trained :class:`PathGNN`: each user's queries start from their items in
    the graph, ``batch`` users at a time (None: :data:`SCORE_BATCH`, or fewer where half the
    memory left on the model's device holds fewer, :func:`queries_in_memory`), with their own
    node cut."""

    def __init__(self, model: PathGNN, graph: PathGraph, batch: int | None = None):
        self.model, self._batch = model, batch
        self.use_graph(graph)

    def use_graph(self, graph: PathGraph) -> None:
        """Score over ``graph`` from now on (a served graph with items added): the users per
        pass are sized again for its node count, unless a ``batch`` was given."""
        batch = self._batch
        if batch is None:
            fit = queries_in_memory(self.model, graph, training=False)
            batch = SCORE_BATCH if fit is None else min(SCORE_BATCH, fit)
        self.graph, self.batch = graph, batch

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        users = users.cpu().numpy()
        return self.score_histories(self.graph.history[users], items, users)

    @torch.no_grad()
    def score_histories(self, histories: sp.csr_matrix, items: Tensor,
                        users: np.ndarray | None = None) -> Tensor:
        """``[len(histories), len(items)]`` scores of queries that start from the items of
        each row of ``histories`` (``[n, num_items]``); ``users``: their graph users, whose
        nodes are cut (None: users the graph does not hold, such as folded-in ones)."""
        device = self.model.query.device
        items = items.to(device)
        self.model.eval()
        out = [self.model(self.graph, histories[s:s + self.batch], items,
                          None if users is None else users[s:s + self.batch]).cpu()
               for s in range(0, histories.shape[0], self.batch)]
        return torch.cat(out) if out else torch.empty(0, len(items))

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return pairs_through_block(self.score, users, items)


@dataclass
class PathTrained:
    """A :class:`PathGNN` trained by :func:`train_path_gnn`, on the CPU, with what serves it."""

    model: PathGNN
    graph: PathGraph
    index: GraphIndex
    fit: FitResult
    scorer: PathScorer
    #: the share of bridge users trained as cold queries
    bridge_share: float
    #: the share of queries that trained cold-start items
    cold_item_share: float = 0.0
    #: the strategy whose run trained the model (another one of the same comparison when
    #: this run reuses it: :meth:`StrategyRun.once`)
    trained_by: str = "path-gnn"

    def finish(self, name: str, run: StrategyRun, scorer=None, valid_score: float | None = None,
               decision: dict | None = None, **extra) -> StrategyResult:
        """Score ``scorer`` (default the model's :attr:`scorer`) on the target's ``test`` split
        and wrap it as a result that saves the model as ``path-gnn`` (as
        :meth:`StrategyRun.finish` does for the embedding models)."""
        scorer = scorer or self.scorer
        if self.trained_by != name:  # the seconds below are this run's alone
            decision = {**(decision or {}), "model_trained_by": self.trained_by}
        test = evaluate(scorer, self.index, run.tables, run.target, "test", (run.config.k,),
                        protocol=run.protocol)
        fit = self.fit
        return StrategyResult(name, test,
                              fit.best_score if valid_score is None else valid_score,
                              fit.best_epoch, time.perf_counter() - run.started,
                              model=self.model, index=self.index, history=fit.history,
                              scorer=scorer, stopped=fit.stopped, model_name=PATH_MODEL,
                              decision={**(decision or {}), "cold_share": self.bridge_share,
                                        "cold_item_share": self.cold_item_share},
                              **extra)


def train_path_gnn(run: StrategyRun, settings: PathGNNConfig,
                   name: str = "path-gnn") -> PathTrained:
    """Train a :class:`PathGNN` on hidden-item queries of ``run``'s target with the one
    :class:`~graphrec.training.Trainer`, its epoch selected on the target's validation split
    (``name`` labels the progress bar and the checkpoint stage). Trained once per comparison:
    a later run of the same comparison with the same settings gets the same model
    (:meth:`StrategyRun.once`; its :attr:`PathTrained.trained_by` names the first)."""
    if run.config.lr != TRAIN_LR:
        logger.warning("%s: [train] lr = %s is not read; [strategy.path-gnn] lr = %s is", name,
                       run.config.lr, settings.lr)
    config = replace(run.config, lr=settings.lr)
    return run.once((PATH_MODEL, repr(settings), repr(config)),
                    lambda: _train_path_gnn(run, settings, config, name))


def _train_path_gnn(run: StrategyRun, settings: PathGNNConfig, config: TrainConfig,
                    name: str) -> PathTrained:
    """What :func:`train_path_gnn` trains, with ``config`` (``run``'s, with the strategy's
    learning rate)."""
    data, index = run.graph(co_interactions=0)  # it follows the paths they summarise
    ratings = training_ratings(run.tables, index)
    levels = rated_levels(ratings[2]) if settings.rating_starts else []

    def prepared(graph_data, content=None) -> PathGraph:
        graph = prepare_path_graph(graph_data, content)
        return mark_ratings(graph, *ratings, levels) if levels else graph

    graph = prepared(data)
    device = resolve_device(config.device)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"],
                        settings.dim, settings.num_layers, settings.item_embeddings,
                        graph.num_attribute_values, settings.attribute_embeddings,
                        levels, dropout=settings.dropout)
    model.to(device)
    on_device = _to(graph, device)
    share = run.bridge_share(config)
    item_share = (run.cold_item_share() if settings.cold_item_queries is None
                  else float(settings.cold_item_queries))

    def hide(items: Tensor) -> PathGraph:
        return _to(prepared(without_item_interactions(data, items), graph.content_types), device)

    objective = QueryObjective(on_device, index.scenario_items(run.target), share,
                               settings.batch_size, settings.max_queries, item_share,
                               settings.cold_item_pool, hide)
    scorer = PathScorer(model, on_device)
    checkpoint = run.checkpoints.next_stage(name) if run.checkpoints else None
    fit = Trainer(model, on_device, objective, lambda m: valid_score(scorer, run, index),
                  config, name=name, progress=run.progress, checkpoint=checkpoint).fit()
    model.cpu()  # what leaves training lives on the CPU, whichever device trained it
    return PathTrained(model, graph, index, fit, PathScorer(model, graph), share,
                       objective.cold_item_share, name)


class PathGNNStrategy(Strategy):
    """The conditional GNN, trained jointly over every scenario on hidden-item queries."""

    name = "path-gnn"
    settings_type = PathGNNConfig

    def run(self, run: StrategyRun) -> StrategyResult:
        return train_path_gnn(run, self.settings, self.name).finish(self.name, run)


def _to(graph: PathGraph, device: torch.device) -> PathGraph:
    """``graph`` with its tensors on ``device``."""
    if device.type == "cpu":
        return graph
    return replace(graph, adjacency={et: a.to(device) for et, a in graph.adjacency.items()},
                   transposed={et: a.to(device) for et, a in graph.transposed.items()},
                   trained_items=graph.trained_items.to(device),
                   item_content=_maybe_to(graph.item_content, device),
                   item_content_t=_maybe_to(graph.item_content_t, device))


def _maybe_to(tensor: Tensor | None, device: torch.device) -> Tensor | None:
    return None if tensor is None else tensor.to(device)
