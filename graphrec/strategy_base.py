"""What every learned transfer strategy shares: the result record and one training step.

:func:`train_scenarios` builds the message-passing graph over chosen scenarios, trains a model
with BPR on the pairs of chosen scenarios (optionally weighted per scenario) and selects the
epoch on the target's ``valid`` split. The strategies of :mod:`graphrec.transfer`,
:mod:`graphrec.guard`, :mod:`graphrec.meta` and :mod:`graphrec.shot` are built from it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from graphrec.evaluate import EmbeddingScorer, Protocol, Scorer, evaluate
from graphrec.graph import TRAIN_SPLITS, GraphIndex, build_graph
from graphrec.models import build_model
from graphrec.train import FitResult, TrainConfig, fit
from kg.tables import KGTables


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
    model: torch.nn.Module | None = None
    graph_scenarios: list[str] | None = None
    index: GraphIndex | None = None
    history: list[dict] = field(default_factory=list)
    scorer: Scorer | None = None
    decision: dict | None = None
    adapt_seconds: float | None = None
    #: scenarios whose training users keep their id embeddings although the serving graph
    #: (``graph_scenarios``) holds none of their edges (source-free adaptation)
    known_scenarios: list[str] | None = None


@dataclass
class TrainedModel:
    """Output of :func:`train_scenarios`."""

    fit: FitResult
    embeddings: dict[str, torch.Tensor]
    index: GraphIndex
    model: torch.nn.Module


def training_pairs(tables: KGTables, index: GraphIndex, scenarios: list[str],
                   weights: dict[str, float] | None = None):
    """BPR pairs of ``scenarios``' training interactions.

    Returns:
        ``(users, items, pools, pool_of_pair, pair_weights)``: ``[P]`` user and item indices,
        one negative pool (item indices) per scenario, ``[P]`` pool of each pair, and ``[P]``
        per-pair weights from ``weights`` (scenario -> weight; None when not given).
    """
    inter = tables.interactions
    part = inter[inter["split"].isin(TRAIN_SPLITS) & inter["scenario"].isin(scenarios)]
    users = index.index("user", part["user_id"])
    items = index.index("item", part["item_id"])
    names = sorted(set(part["scenario"]))
    pools = [index.scenario_items(s) for s in names]
    pool_of_pair = part["scenario"].map({s: p for p, s in enumerate(names)}).to_numpy()
    pair_weights = None
    if weights is not None:
        pair_weights = part["scenario"].map(lambda s: weights.get(s, 1.0)).to_numpy(
            dtype=np.float32)
    return users, items, pools, pool_of_pair, pair_weights


def known_users(tables: KGTables, index: GraphIndex, scenarios: list[str]) -> torch.Tensor:
    """``[num_users]`` bool: users with training interactions in ``scenarios``."""
    known = torch.zeros(len(index.ids["user"]), dtype=torch.bool)
    users, _, _, _, _ = training_pairs(tables, index, scenarios)
    known[torch.as_tensor(users)] = True
    return known


def valid_score(model: torch.nn.Module, index: GraphIndex, tables: KGTables, target: str,
                k: int, protocol: Protocol | None = None) -> float:
    """NDCG@k of ``model`` on the target's ``valid`` split (all users); 0 without rows."""
    emb = model()
    res = evaluate(EmbeddingScorer(emb["user"], emb["item"]), index, tables, target, "valid",
                   (k,), ("all",), protocol)
    return res["all"][f"ndcg@{k}"] if res else 0.0


def train_scenarios(tables: KGTables, target: str, graph_scenarios: list[str] | None,
                    pair_scenarios: list[str], config: TrainConfig, init: dict | None = None,
                    progress: bool = True, options: dict | None = None,
                    head_only: bool | None = None, protocol: Protocol | None = None,
                    weights: dict[str, float] | None = None) -> TrainedModel:
    """Build graph and model, train with BPR on ``pair_scenarios``, select on target valid.

    Args:
        graph_scenarios: scenarios whose training interactions become graph edges (None: all).
        pair_scenarios: scenarios whose training interactions are BPR pairs.
        init: a state dict to start from.
        options: extra model constructor arguments (``user_head``, ``scenario_norm``).
        head_only: True trains only the user head (frozen encoder); False freezes the head.
        weights: scenario -> loss weight of its pairs (default 1).
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
        return valid_score(m, index, tables, target, config.k, protocol)

    users, items, pools, pool_of_pair, pair_weights = training_pairs(
        tables, index, pair_scenarios, weights)
    result = fit(model, users, items, pools, pool_of_pair, validate, config, progress,
                 pair_weights=pair_weights)
    with torch.no_grad():
        emb = model()
    return TrainedModel(result, emb, index, model)


def finish(name: str, trained: TrainedModel, tables: KGTables, target: str,
           config: TrainConfig, started: float, protocol: Protocol | None = None,
           graph_scenarios: list[str] | None = None, **extra) -> StrategyResult:
    """Score a trained model on the target's ``test`` split and wrap it as a result."""
    emb = trained.embeddings
    scorer = EmbeddingScorer(emb["user"], emb["item"])
    test = evaluate(scorer, trained.index, tables, target, "test", (config.k,),
                    protocol=protocol)
    return StrategyResult(name, test, trained.fit.best_score, trained.fit.best_epoch,
                          time.perf_counter() - started, emb, trained.model, graph_scenarios,
                          index=trained.index, history=trained.fit.history, scorer=scorer,
                          **extra)
