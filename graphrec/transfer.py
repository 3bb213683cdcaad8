"""Transfer strategies to a sparse target scenario, compared in one harness.

- baselines without gradient training (:mod:`graphrec.baselines`): ``popularity``,
  ``attribute-popularity``, ``item-knn``, ``attribute-knn``; fitted on the training
  interactions of every scenario.
- ``target-only``: the graph and the BPR pairs hold only the target's interactions (attributes
  and users stay, so cold items still get attribute messages).
- ``joint``: one graph and one BPR objective over all scenarios; users and attributes shared.
- ``finetune``: train on the source scenarios (graph of all interactions), then continue on the
  target's pairs from those weights (theta_target = theta_source - alpha grad L_target, iterated).
- ``feature-extraction``: train on the sources, freeze that encoder and train only a light
  linear head on the user embeddings with the target's pairs.
- ``adabn``: train on the sources with scenario-specific normalisation of item embeddings
  (per-scenario statistics, as domain-specific BatchNorm), then serve the target with its own
  statistics (AdaBN, Li et al. 2016): no target labels, no gradient step on the target.

Every learned strategy selects its epoch on the target's ``valid`` split (NDCG@k, all users).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial

import numpy as np
import pandas as pd
import torch

from graphrec.baselines import BASELINES, build_baseline
from graphrec.evaluate import Protocol, evaluate
from graphrec.graph import TRAIN_SPLITS, build_graph
from graphrec.guard import run_guarded
from graphrec.meta import run_maml, run_reptile
from graphrec.models import get_model
from graphrec.shot import run_shot
from graphrec.strategy_base import StrategyResult, finish, train_scenarios
from graphrec.train import TrainConfig
from kg.registry import resolve
from kg.tables import KGTables

logger = logging.getLogger(__name__)

CLASSIC = ("target-only", "joint", "finetune", "feature-extraction", "adabn")
#: strategies defined in their own modules, which take ``[strategy.<name>]`` settings
EXTENDED = {"guarded": run_guarded, "reptile": run_reptile, "maml": run_maml, "shot": run_shot}
LEARNED = (*CLASSIC, *EXTENDED)
STRATEGIES = (*BASELINES, *LEARNED)

__all__ = ["STRATEGIES", "StrategyResult", "compare", "item_embedding_table", "run_strategy"]


def run_strategy(name: str, tables: KGTables, target: str, config: TrainConfig,
                 progress: bool = True, protocol: Protocol | None = None,
                 options: dict | None = None) -> StrategyResult:
    """Train (if needed) and evaluate one strategy on ``target``'s test split.

    ``protocol`` (default: full ranking) is used both to select the epoch on ``valid`` and to
    score ``test``. ``options``: settings of the strategies of :data:`EXTENDED`, e.g.
    ``{"guarded": {"tolerance": 0.01}, "reptile": {"iterations": 100}}`` (the ``[strategy.*]``
    config sections); unknown keys are a :class:`ConfigError`.
    """
    name = resolve(name, {s: s for s in STRATEGIES}, "transfer strategy")
    get_model(config.model)  # fail early on an unknown model name
    scenarios = sorted(tables.scenarios["scenario"])
    sources = [s for s in scenarios if s != target]
    start = time.perf_counter()
    if name in BASELINES:
        _, index = build_graph(tables, TRAIN_SPLITS)
        scorer = build_baseline(name, tables, index, TRAIN_SPLITS)
        test = evaluate(scorer, index, tables, target, "test", (config.k,), protocol=protocol)
        valid = evaluate(scorer, index, tables, target, "valid", (config.k,), ("all",),
                         protocol)
        return StrategyResult(name, test, valid["all"][f"ndcg@{config.k}"] if valid else 0.0,
                              seconds=time.perf_counter() - start, index=index, scorer=scorer)
    if name in EXTENDED:
        return EXTENDED[name](tables, target, config, progress=progress, protocol=protocol,
                              options=(options or {}).get(name))
    graph_scenarios = [target] if name == "target-only" else None
    train = partial(train_scenarios, tables, target, protocol=protocol, progress=progress)
    if name == "target-only":
        trained = train(graph_scenarios, [target], config)
    elif name == "joint":
        trained = train(None, scenarios, config)
    elif name == "finetune":
        pre = train(None, sources, config)
        adapt_start = time.perf_counter()
        trained = train(None, [target], replace(config, lr=config.lr / 2), pre.fit.state)
        return finish(name, trained, tables, target, config, start, protocol, graph_scenarios,
                      adapt_seconds=time.perf_counter() - adapt_start)
    elif name == "feature-extraction":
        pre = train(None, sources, config, options={"user_head": True}, head_only=False)
        trained = train(None, [target], config, pre.fit.state, options={"user_head": True},
                        head_only=True)
    elif name == "adabn":
        trained = train(None, sources, config, options={"scenario_norm": True})
        trained.model.fit_scenario_norm()
        with torch.no_grad():
            trained.embeddings = trained.model()
    return finish(name, trained, tables, target, config, start, protocol, graph_scenarios)


def compare(tables: KGTables, target: str, strategies: tuple[str, ...] = STRATEGIES,
            config: TrainConfig | None = None, progress: bool = True,
            options: dict | None = None) -> list[StrategyResult]:
    """Run every strategy on the same data and target."""
    config = config or TrainConfig()
    return [run_strategy(s, tables, target, config, progress, options=options)
            for s in strategies]


def item_embedding_table(result: StrategyResult) -> pd.DataFrame:
    """Item embeddings as a DataFrame: ``item_id``, ``scenario``, ``embedding`` (list)."""
    index = result.index
    items = result.embeddings["item"].cpu().numpy().astype(np.float32)
    return pd.DataFrame({"item_id": index.ids["item"], "scenario": index.item_scenario,
                         "embedding": list(items)})
