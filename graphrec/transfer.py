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
from dataclasses import dataclass, field, replace
from functools import partial

import numpy as np
import pandas as pd
import torch

from graphrec.baselines import BASELINES, build_baseline
from graphrec.evaluate import EmbeddingScorer, Protocol, Scorer, evaluate
from graphrec.graph import TRAIN_SPLITS, GraphIndex, build_graph
from graphrec.models import build_model, get_model
from graphrec.train import TrainConfig, fit
from kg.registry import resolve
from kg.tables import KGTables

logger = logging.getLogger(__name__)

LEARNED = ("target-only", "joint", "finetune", "feature-extraction", "adabn")
STRATEGIES = (*BASELINES, *LEARNED)


@dataclass
class StrategyResult:
    """Test metrics per subset, the selected epoch and the final embeddings."""

    name: str
    test: dict[str, dict]
    valid_score: float
    best_epoch: int = 0
    seconds: float = 0.0
    embeddings: dict[str, torch.Tensor] = field(default_factory=dict)
    model: torch.nn.Module | None = None
    graph_scenarios: list[str] | None = None
    index: GraphIndex | None = None
    history: list[dict] = field(default_factory=list)
    scorer: Scorer | None = None


def _pairs(tables: KGTables, index: GraphIndex, scenarios: list[str]):
    inter = tables.interactions
    part = inter[inter["split"].isin(TRAIN_SPLITS) & inter["scenario"].isin(scenarios)]
    users = index.index("user", part["user_id"])
    items = index.index("item", part["item_id"])
    names = sorted(set(part["scenario"]))
    pools = [index.scenario_items(s) for s in names]
    pool_of_pair = part["scenario"].map({s: p for p, s in enumerate(names)}).to_numpy()
    return users, items, pools, pool_of_pair


def _train(tables: KGTables, target: str, graph_scenarios: list[str] | None,
           pair_scenarios: list[str], config: TrainConfig, init: dict | None = None,
           progress: bool = True, options: dict | None = None, head_only: bool | None = None,
           protocol: Protocol | None = None):
    """Build graph and model, train with BPR on ``pair_scenarios``, select on target valid.

    ``head_only``: True trains only the user head (frozen encoder); False freezes the head.
    """
    data, index = build_graph(tables, TRAIN_SPLITS, graph_scenarios)
    torch.manual_seed(config.seed)
    model = build_model(config.model, data, config.dim, config.num_layers,
                        id_dropout=config.id_dropout, **(options or {}))
    if init is not None:
        model.load_state_dict(init)
    model.set_graph(data)
    if head_only is not None:
        for pname, param in model.named_parameters():
            param.requires_grad_(pname.startswith("user_head") == head_only)

    def validate(m) -> float:
        emb = m()
        res = evaluate(EmbeddingScorer(emb["user"], emb["item"]), index, tables, target,
                       "valid", (config.k,), ("all",), protocol)
        return res["all"][f"ndcg@{config.k}"] if res else 0.0

    users, items, pools, pool_of_pair = _pairs(tables, index, pair_scenarios)
    result = fit(model, users, items, pools, pool_of_pair, validate, config, progress)
    with torch.no_grad():
        emb = model()
    return result, emb, index, model


def run_strategy(name: str, tables: KGTables, target: str, config: TrainConfig,
                 progress: bool = True, protocol: Protocol | None = None) -> StrategyResult:
    """Train (if needed) and evaluate one strategy on ``target``'s test split.

    ``protocol`` (default: full ranking) is used both to select the epoch on ``valid`` and to
    score ``test``.
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
    graph_scenarios = [target] if name == "target-only" else None
    train = partial(_train, protocol=protocol)
    if name == "target-only":
        res, emb, index, model = train(tables, target, graph_scenarios, [target], config, None,
                                       progress)
    elif name == "joint":
        res, emb, index, model = train(tables, target, None, scenarios, config, None, progress)
    elif name == "finetune":
        pre, _, _, _ = train(tables, target, None, sources, config, None, progress)
        tuned = replace(config, lr=config.lr / 2)
        res, emb, index, model = train(tables, target, None, [target], tuned, pre.state,
                                       progress)
    elif name == "feature-extraction":
        pre, _, _, _ = train(tables, target, None, sources, config, None, progress,
                             {"user_head": True}, head_only=False)
        res, emb, index, model = train(tables, target, None, [target], config, pre.state,
                                       progress, {"user_head": True}, head_only=True)
    elif name == "adabn":
        res, _, index, model = train(tables, target, None, sources, config, None, progress,
                                     {"scenario_norm": True})
        model.fit_scenario_norm()
        with torch.no_grad():
            emb = model()
    scorer = EmbeddingScorer(emb["user"], emb["item"])
    test = evaluate(scorer, index, tables, target, "test", (config.k,), protocol=protocol)
    return StrategyResult(name, test, res.best_score, res.best_epoch,
                          time.perf_counter() - start, emb, model, graph_scenarios,
                          index=index, history=res.history, scorer=scorer)


def compare(tables: KGTables, target: str, strategies: tuple[str, ...] = STRATEGIES,
            config: TrainConfig | None = None, progress: bool = True
            ) -> list[StrategyResult]:
    """Run every strategy on the same data and target."""
    config = config or TrainConfig()
    return [run_strategy(s, tables, target, config, progress) for s in strategies]


def item_embedding_table(result: StrategyResult) -> pd.DataFrame:
    """Item embeddings as a DataFrame: ``item_id``, ``scenario``, ``embedding`` (list)."""
    index = result.index
    items = result.embeddings["item"].cpu().numpy().astype(np.float32)
    return pd.DataFrame({"item_id": index.ids["item"], "scenario": index.item_scenario,
                         "embedding": list(items)})
