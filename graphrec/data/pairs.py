"""Which scenarios play which part, and the training pairs of a set of scenarios."""

from __future__ import annotations

import numpy as np
import torch

from graphrec.data.graph import GraphIndex
from graphrec.training.negatives import TrainingPairs
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables


def scenarios_of(tables: KGTables) -> list[str]:
    """Every scenario of the graph, sorted."""
    return sorted(tables.scenarios["scenario"])


def sources_of(tables: KGTables, target: str) -> list[str]:
    """The source scenarios of ``target``: every scenario but the target, sorted."""
    return [s for s in scenarios_of(tables) if s != target]


def training_pairs(tables: KGTables, index: GraphIndex, scenarios: list[str],
                   weights: dict[str, float] | None = None,
                   negative_pool: str = "interacted") -> TrainingPairs:
    """The positive pairs of ``scenarios``' training interactions.

    Args:
        weights: scenario -> loss weight of its pairs (default: no weights, all 1).
        negative_pool: ``interacted``: each scenario's negatives come from its items with
            training interactions; ``all``: from all its items (``[train] negative_pool``).

    Returns:
        :class:`TrainingPairs` with one negative pool per scenario (sorted item indices).
    """
    inter = tables.interactions
    part = inter[inter["split"].isin(TRAIN_SPLITS) & inter["scenario"].isin(scenarios)]
    names = sorted(set(part["scenario"]))
    pair_weights = None
    if weights is not None:
        pair_weights = part["scenario"].map(lambda s: weights.get(s, 1.0)).to_numpy(
            dtype=np.float32)
    items = index.index("item", part["item_id"])
    pool_of_pair = part["scenario"].map({s: p for p, s in enumerate(names)}).to_numpy()
    pools = [np.unique(items[pool_of_pair == p]) if negative_pool == "interacted"
             else index.scenario_items(s) for p, s in enumerate(names)]
    return TrainingPairs(users=index.index("user", part["user_id"]), items=items, pools=pools,
                         pool_of_pair=pool_of_pair, weights=pair_weights)


def known_users(tables: KGTables, index: GraphIndex, scenarios: list[str]) -> torch.Tensor:
    """``[num_users]`` bool: users with training interactions in ``scenarios``."""
    known = torch.zeros(len(index.ids["user"]), dtype=torch.bool)
    known[torch.as_tensor(training_pairs(tables, index, scenarios).users)] = True
    return known
