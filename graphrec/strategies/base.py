"""What every transfer strategy shares: the protocol, the run context and the result record.

A strategy is a class with a ``name``, optional typed ``settings`` (its ``[strategy.<name>]``
config section, checked when the config loads) and one method, :meth:`Strategy.run`, which
receives a :class:`StrategyRun`: the data, the target, the training settings and the helpers
every learned strategy builds on (:meth:`StrategyRun.train` builds the graph over chosen
scenarios, a model, and trains it with the one :class:`~graphrec.training.Trainer`;
:meth:`StrategyRun.finish` scores the test split).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, TypeVar

import torch

from graphrec.data.graph import GraphIndex, build_graph
from graphrec.data.pairs import scenarios_of, sources_of, training_pairs
from graphrec.evaluation.harness import EmbeddingScorer, Protocol, Scorer, evaluate
from graphrec.models import GraphModel, ModelGraph, build_model
from graphrec.pyg import HeteroData
from graphrec.training import FitResult, PairObjective, TrainConfig, Trainer
from graphrec.training.bridges import BridgeSimulation
from graphrec.training.checkpoint import Checkpoints
from graphrec.training.cold_items import ColdItemSimulation
from graphrec.training.device import resolve_device, to_device
from graphrec.training.simulation import Simulation
from kg.registry import Settings
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

logger = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class StrategyResult:
    """Test metrics per subset, the selected epoch and the final embeddings.

    ``decision`` holds what a strategy decided and why (the negative-transfer guard's
    per-source evidence), JSON-ready; ``adapt_seconds`` the time spent on the target alone
    (meta-learning and source-free strategies).
    """

    name: str
    test: dict[str, dict]
    valid_score: float
    best_epoch: int = 0
    seconds: float = 0.0
    embeddings: dict[str, torch.Tensor] = field(default_factory=dict)
    model: GraphModel | None = None
    graph_scenarios: list[str] | None = None
    index: GraphIndex | None = None
    history: list[dict] = field(default_factory=list)
    scorer: Scorer | None = None
    decision: dict | None = None
    adapt_seconds: float | None = None
    #: scenarios whose training users keep their id embeddings although the serving graph
    #: (``graph_scenarios``) holds none of their edges (source-free adaptation)
    known_scenarios: list[str] | None = None
    #: the graph the model serves (prepared for it)
    graph: ModelGraph | None = None
    #: co-interaction edges per item and scenario in that graph, their fewest shared users and
    #: whether they are weighted (``build_graph``)
    co_interactions: int = 0
    co_support: int = 1
    co_weighted: bool = False
    #: why the (last) training stage stopped (:attr:`FitResult.stopped`); None: not trained
    stopped: str | None = None
    #: the baseline blend served with the model (``hybrid``: BlendedScorer.to_dict, the
    #: baseline's name and settings), or None
    blend: dict | None = None
    #: the name ``model.json`` records for ``model`` when the strategy fixes it (``path-gnn``);
    #: None: the configured model (``[train] model``)
    model_name: str | None = None

    @property
    def has_embeddings(self) -> bool:
        """Whether the result has user and item vectors: False for the training-free baselines
        and for a model that scores by message passing (``path-gnn``, and ``hybrid`` on it),
        whose run directories serve scores, not vectors."""
        return bool(self.embeddings)


@dataclass
class TrainedModel:
    """A model trained by :meth:`StrategyRun.train`, with its graph and its best embeddings."""

    fit: FitResult
    embeddings: dict[str, torch.Tensor]
    index: GraphIndex
    model: GraphModel
    graph: ModelGraph


@dataclass
class StrategyRun:
    """One strategy run on one target: the data, the settings and the shared steps."""

    tables: KGTables
    target: str
    config: TrainConfig
    protocol: Protocol | None = None
    progress: bool = True
    started: float = field(default_factory=time.perf_counter)
    #: the run's stage checkpoints (None: none; see graphrec.training.checkpoint)
    checkpoints: Checkpoints | None = None
    #: strategy name -> its ``[strategy.<name>]`` settings, for a strategy that builds on
    #: another (``hybrid`` on ``path-gnn``); a missing entry means that strategy's defaults
    settings: Mapping[str, Settings] = field(default_factory=dict)
    #: what the strategies of one comparison train alike, trained once (:meth:`once`); the
    #: same dict is given to every run of a comparison (``compare``)
    shared: dict = field(default_factory=dict)

    def once(self, key: tuple, train: Callable[[], T]) -> T:
        """``train()`` the first time a run of this comparison asks for ``key``, and that
        same result each later time: ``hybrid`` on ``path-gnn`` blends the model the
        ``path-gnn`` run trained instead of training the same one again. ``key`` must name
        every setting the result depends on besides the data, the target and the protocol,
        which the key adds."""
        full = (id(self.tables), self.target, repr(self.protocol), *key)
        if full not in self.shared:
            self.shared[full] = train()
        return self.shared[full]

    @property
    def scenarios(self) -> list[str]:
        return scenarios_of(self.tables)

    @property
    def sources(self) -> list[str]:
        """Every scenario but the target."""
        return sources_of(self.tables, self.target)

    def graph(self, scenarios: list[str] | None = None, co_interactions: int | None = None
              ) -> tuple[HeteroData, GraphIndex]:
        """The message-passing graph over ``scenarios``' training interactions (None: all),
        with ``co_interactions`` item-item edges per item and scenario (default the
        config's)."""
        k = self.config.co_interactions if co_interactions is None else co_interactions
        return build_graph(self.tables, TRAIN_SPLITS, scenarios, k, self.config.co_support,
                           self.config.co_weighted)

    def new_model(self, data: HeteroData, init: dict | None = None,
                  known: dict[str, torch.Tensor] | None = None, config: TrainConfig | None = None,
                  **options: Any) -> tuple[GraphModel, ModelGraph]:
        """A model of ``config.model`` for ``data`` (weights from the seed, or ``init``) and
        the graph prepared for it. ``options``: model switches (``user_head`` ...)."""
        config = config or self.config
        model = build_model(config.model, data, config.dim, config.num_layers,
                            seed=config.seed, id_dropout=config.id_dropout,
                            normalize=config.loss == "softmax",
                            normalize_items=config.normalize_items,
                            item_bias=config.item_bias,
                            relation_weights=config.relation_weights, **options)
        if init is not None:
            model.load_state_dict(init)
        model.to(resolve_device(config.device))
        return model, model.prepare_graph(data, known)

    def validator(self, graph: ModelGraph, index: GraphIndex) -> Callable[[GraphModel], float]:
        """model -> NDCG@k on the target's ``valid`` split (all users; 0 without rows)."""
        def score(model: GraphModel) -> float:
            emb = to_device(model(graph), "cpu")
            res = evaluate(EmbeddingScorer(emb["user"], emb["item"]), index, self.tables,
                           self.target, "valid", (self.config.k,), ("all",), self.protocol)
            return res["all"][f"ndcg@{self.config.k}"] if res else 0.0
        return score

    def fit(self, model: GraphModel, graph: ModelGraph, index: GraphIndex, objective,
            config: TrainConfig | None = None, **trainer_options: Any) -> TrainedModel:
        """Train ``model`` on ``objective`` with the one trainer, selecting on target valid."""
        config = config or self.config
        name = trainer_options.get("name", "train")
        checkpoint = self.checkpoints.next_stage(name) if self.checkpoints else None
        fit = Trainer(model, graph, objective, self.validator(graph, index), config,
                      progress=self.progress, checkpoint=checkpoint, **trainer_options).fit()
        with torch.no_grad():
            emb = to_device(model(graph), "cpu")
        # what leaves training lives on the CPU, whichever device trained it
        fit.state = to_device(fit.state, "cpu")
        return TrainedModel(fit, emb, index, model.cpu(), to_device(graph, "cpu"))

    def train(self, graph_scenarios: list[str] | None, pair_scenarios: list[str],
              init: dict | None = None, *, config: TrainConfig | None = None,
              head_only: bool | None = None, weights: dict[str, float] | None = None,
              name: str = "train", **options: Any) -> TrainedModel:
        """Build graph and model, train on ``pair_scenarios``' pairs, select on target valid.

        Args:
            graph_scenarios: scenarios whose training interactions are graph edges (None: all).
            pair_scenarios: scenarios whose training interactions are the training pairs.
            init: a state dict to start from.
            config: training settings (default the run's).
            head_only: True trains only the user head (frozen encoder); False freezes the head.
            weights: scenario -> loss weight of its pairs (default 1).
            name: the progress bar's label.
            options: model switches (``user_head``, ``scenario_norm``).
        """
        config = config or self.config
        data, index = self.graph(graph_scenarios)
        model, graph = self.new_model(data, init, config=config, **options)
        if head_only is not None:
            for pname, param in model.named_parameters():
                param.requires_grad_(pname.startswith("user_head") == head_only)
        pairs = training_pairs(self.tables, index, pair_scenarios, weights,
                               self.config.negative_pool)
        objective = PairObjective.from_config(pairs, config,
                                              self.simulations(graph, index, config))
        return self.fit(model, graph, index, objective, config, name=name)

    def simulations(self, graph: ModelGraph, index: GraphIndex,
                    config: TrainConfig | None = None
                    ) -> list[Simulation]:
        """The cold-start simulations of ``config`` on ``graph`` for the run's target, in the
        order they apply: the bridge users of ``config.bridge`` (None: :meth:`cold_share`),
        then the cold items of ``config.cold_items`` (off by default). A simulation is left
        out when its share is 0 or the graph holds nothing to hide (no user shared across
        scenarios, no trained target item)."""
        config = config or self.config
        out: list[Simulation] = []
        share = self.bridge_share(config)
        if share > 0:
            sim = BridgeSimulation(graph, self._target_index(index), share)
            if len(sim):
                logger.info("bridge-user simulation: %d bridge users, %.0f%% hidden per "
                            "epoch", len(sim), 100 * share)
                out.append(sim)
        if config.cold_items > 0:
            sim = ColdItemSimulation(graph, self._target_index(index), config.cold_items)
            if len(sim):
                logger.info("cold-item simulation: %d trained target items, %.0f%% made cold "
                            "per epoch", len(sim), 100 * config.cold_items)
                out.append(sim)
        return out

    def _target_index(self, index: GraphIndex) -> int:
        """The target's position among the graph's scenario nodes."""
        return index.ids["scenario"].index(self.target)

    def bridge_share(self, config: TrainConfig | None = None) -> float:
        """The share of bridge users trained as cold-start: ``config.bridge``, or by default
        :meth:`cold_share`."""
        config = config or self.config
        return self.cold_share() if config.bridge is None else config.bridge

    def cold_share(self) -> float:
        """The share of the target's validation users without training interactions in the
        target: the cold-start share training should simulate (0 without validation rows)."""
        inter = self.tables.interactions
        mine = inter[inter["scenario"] == self.target]
        valid = set(mine.loc[mine["split"] == "valid", "user_id"])
        if not valid:
            return 0.0
        warm = set(mine.loc[mine["split"].isin(TRAIN_SPLITS), "user_id"])
        return len(valid - warm) / len(valid)

    def cold_item_share(self) -> float:
        """The share of the target's validation interactions whose item has no training
        interaction: the cold-start item share training should simulate (0 without
        validation rows)."""
        inter = self.tables.interactions
        mine = inter[inter["scenario"] == self.target]
        valid = mine.loc[mine["split"] == "valid", "item_id"]
        if valid.empty:
            return 0.0
        trained = set(mine.loc[mine["split"].isin(TRAIN_SPLITS), "item_id"])
        return float((~valid.isin(trained)).mean())

    def finish(self, name: str, trained: TrainedModel, graph_scenarios: list[str] | None = None,
               scorer: Scorer | None = None, valid_score: float | None = None,
               **extra: Any) -> StrategyResult:
        """Score a trained model on the target's ``test`` split and wrap it as a result.

        Args:
            scorer: what is scored (default the model's dot products, ``trained.embeddings``).
            valid_score: the validation score of ``scorer`` (default the trainer's best).
        """
        emb = trained.embeddings
        scorer = scorer or EmbeddingScorer(emb["user"], emb["item"])
        test = evaluate(scorer, trained.index, self.tables, self.target, "test",
                        (self.config.k,), protocol=self.protocol)
        valid_score = trained.fit.best_score if valid_score is None else valid_score
        return StrategyResult(name, test, valid_score, trained.fit.best_epoch,
                              time.perf_counter() - self.started, emb, trained.model,
                              graph_scenarios, index=trained.index,
                              history=trained.fit.history, scorer=scorer,
                              graph=trained.graph, co_interactions=self.config.co_interactions,
                              co_support=self.config.co_support,
                              co_weighted=self.config.co_weighted,
                              stopped=trained.fit.stopped,
                              **extra)

    def adapted(self, lr_factor: float = 0.5) -> TrainConfig:
        """The settings of an adaptation stage: the run's, at ``lr_factor`` times the lr."""
        return replace(self.config, lr=self.config.lr * lr_factor)


class Strategy:
    """Base of transfer strategies. Subclasses set ``name`` (the registry key), optionally
    ``settings_type`` (a :class:`kg.registry.Settings` dataclass for ``[strategy.<name>]``),
    and implement :meth:`run`.

    Args:
        settings: the strategy's settings (default: the settings type's defaults).
    """

    name: ClassVar[str]
    settings_type: ClassVar[type[Settings] | None] = None
    #: False for training-free baselines: nothing to save as a run directory
    learned: ClassVar[bool] = True

    def __init__(self, settings: Settings | None = None):
        if settings is None and self.settings_type is not None:
            settings = self.settings_type()
        self.settings = settings

    def run(self, run: StrategyRun) -> StrategyResult:
        """Train (if needed) and score on the target's test split."""
        raise NotImplementedError
