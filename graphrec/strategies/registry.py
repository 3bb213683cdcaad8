"""The strategy registry: names -> strategy classes, settings checked before any data loads,
and :func:`run_strategy` / :func:`compare`, the entry points of ``graphrec train|transfer``.

To add a strategy, write a module with a :class:`~graphrec.strategies.base.Strategy` subclass
and add its class to :data:`STRATEGY_CLASSES` (one line); see ``docs/architecture.md``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from graphrec.errors import ConfigError
from graphrec.evaluation.harness import Protocol
from graphrec.models import get_model
from graphrec.strategies.adabn import AdaBN
from graphrec.strategies.base import Strategy, StrategyResult, StrategyRun
from graphrec.strategies.baselines import (
    EASE,
    AttributeKNN,
    AttributePopularity,
    ContentPopularity,
    ItemKNN,
    Popularity,
)
from graphrec.strategies.feature_extraction import FeatureExtraction
from graphrec.strategies.finetune import Finetune
from graphrec.strategies.guarded import Guarded
from graphrec.strategies.hybrid import Hybrid
from graphrec.strategies.joint import Joint
from graphrec.strategies.maml import MAML
from graphrec.strategies.path_gnn import PathGNNStrategy
from graphrec.strategies.reptile import Reptile
from graphrec.strategies.shot import Shot
from graphrec.strategies.target_only import TargetOnly
from graphrec.training import TrainConfig
from graphrec.training.checkpoint import Checkpoints
from kg.registry import Settings, resolve

#: every strategy, in the order tables list them
STRATEGY_CLASSES: tuple[type[Strategy], ...] = (
    Popularity, AttributePopularity, ContentPopularity, ItemKNN, AttributeKNN, EASE,
    TargetOnly, Joint, Finetune, FeatureExtraction, AdaBN,
    Guarded, Reptile, MAML, Shot, Hybrid, PathGNNStrategy,
)
REGISTRY: dict[str, type[Strategy]] = {cls.name: cls for cls in STRATEGY_CLASSES}
STRATEGIES: tuple[str, ...] = tuple(REGISTRY)
BASELINES: tuple[str, ...] = tuple(n for n, c in REGISTRY.items() if not c.learned)
LEARNED: tuple[str, ...] = tuple(n for n, c in REGISTRY.items() if c.learned)
#: strategies that take ``[strategy.<name>]`` settings
CONFIGURABLE: tuple[str, ...] = tuple(n for n, c in REGISTRY.items() if c.settings_type)


def get_strategy(name: str) -> type[Strategy]:
    """The strategy class registered as ``name``.

    Raises:
        ConfigError: ``Could not resolve transfer strategy 'jiont' among choices [...]``.
    """
    return resolve(name, REGISTRY, "transfer strategy")


def strategy_settings(options: Mapping[str, Mapping | Settings] | None
                      ) -> dict[str, Settings]:
    """Typed settings of the ``[strategy.<name>]`` sections, checked without any data.

    Raises:
        ConfigError: an unknown strategy, a strategy without settings, or an unknown key.
    """
    out: dict[str, Settings] = {}
    for name, raw in (options or {}).items():
        cls = get_strategy(name)
        if cls.settings_type is None:
            raise ConfigError(f"unknown [strategy.*] section(s) [{name!r}]: strategy {name!r} "
                              f"takes no settings; strategies with settings: "
                              f"{sorted(CONFIGURABLE)}")
        out[cls.name] = raw if isinstance(raw, Settings) else cls.settings_type.from_dict(raw)
    return out


def make_strategy(name: str, options: Mapping | None = None) -> Strategy:
    """The strategy ``name`` with its settings from ``options`` (strategy name -> settings,
    as :func:`strategy_settings` takes; other strategies' entries are ignored)."""
    cls = get_strategy(name)
    return cls(strategy_settings(options).get(cls.name))


def run_strategy(name: str, tables, target: str, config: TrainConfig,
                 progress: bool = True, protocol: Protocol | None = None,
                 options: Mapping | None = None, shared: dict | None = None) -> StrategyResult:
    """Train (if needed) and evaluate one strategy on ``target``'s test split.

    Args:
        name: a registered strategy (:data:`STRATEGIES`).
        tables: the knowledge graph.
        target: the target scenario.
        config: training settings; a missing seed is drawn and logged.
        progress: show progress bars.
        protocol: the evaluation protocol (default full ranking), used both to select the
            epoch on ``valid`` and to score ``test``.
        options: strategy name -> its settings, e.g. ``{"guarded": {"tolerance": 0.01},
            "reptile": {"iterations": 100}}`` (the ``[strategy.*]`` config sections).
        shared: one dict given to several calls on the same ``tables`` and ``target``, so
            that what they train alike is trained once (``hybrid`` on ``path-gnn`` after
            ``path-gnn``; :meth:`StrategyRun.once`); None: nothing shared.

    Raises:
        ConfigError: an unknown strategy, model or setting (before any training).
    """
    settings = strategy_settings(options)
    cls = get_strategy(name)
    return _run(cls(settings.get(cls.name)), tables, target, config, progress, protocol,
                settings=settings, shared=shared)


def _run(strategy: Strategy, tables, target: str, config: TrainConfig, progress: bool,
         protocol: Protocol | None, checkpoints: Checkpoints | None = None,
         settings: Mapping[str, Settings] | None = None,
         shared: dict | None = None) -> StrategyResult:
    get_model(config.model)  # fail early on an unknown model name
    return strategy.run(StrategyRun(tables, target, config.with_seed(), protocol, progress,
                                    checkpoints=checkpoints, settings=dict(settings or {}),
                                    shared={} if shared is None else shared))


def compare(tables, target: str, strategies: tuple[str, ...] = STRATEGIES,
            config: TrainConfig | None = None, progress: bool = True,
            options: Mapping | None = None,
            protocol: Protocol | None = None,
            checkpoints: Checkpoints | None = None) -> list[StrategyResult]:
    """Run every strategy on the same data, target and seed; what several of them train alike
    is trained once (``hybrid`` on ``path-gnn`` blends the ``path-gnn`` run's model). With
    ``checkpoints`` every training stage saves itself after each epoch, and a run repeated
    with the same arguments and checkpoints resumes where it stopped
    (:mod:`graphrec.training.checkpoint`)."""
    config = (config or TrainConfig()).with_seed()
    settings = strategy_settings(options)  # every name and setting checked before training
    chosen = [get_strategy(name) for name in strategies]
    shared: dict = {}
    return [_run(cls(settings.get(cls.name)), tables, target, config, progress, protocol,
                 checkpoints, settings, shared) for cls in chosen]


def best_with_embeddings(results: list[StrategyResult]) -> StrategyResult | None:
    """The learned result with embeddings (not ``path-gnn`` or a ``hybrid`` on it, which score
    by message passing) that validates best, or None when no result has any: whose vectors a
    comparison writes."""
    with_vectors = [r for r in results if r.model is not None and r.has_embeddings]
    return max(with_vectors, key=lambda r: r.valid_score, default=None)


def item_embedding_table(result: StrategyResult) -> pd.DataFrame:
    """Item embeddings as a DataFrame: ``item_id``, ``scenario``, ``embedding`` (list)."""
    index = result.index
    items = result.embeddings["item"].cpu().numpy().astype(np.float32)
    return pd.DataFrame({"item_id": index.ids["item"], "scenario": index.item_scenario,
                         "embedding": list(items)})
