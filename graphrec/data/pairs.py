"""Which scenarios play which part, and the training pairs of a set of scenarios.

:class:`TrainingPairs` lives here, below :mod:`graphrec.training`, which draws their negatives
(:mod:`graphrec.training.negatives`), so that the data layer imports nothing above it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from graphrec.data.graph import GraphIndex
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables


@dataclass(frozen=True)
class TrainingPairs:
    """Positive (user, item) pairs and where their negatives come from.

    Attributes:
        users, items: ``[P]`` node indices.
        pools: item indices to draw negatives from, one array per scenario (``[train]
            negative_pool``: by default its items with training interactions).
        pool_of_pair: ``[P]`` index into ``pools`` of each pair (its own scenario).
        weights: ``[P]`` loss weight of each pair, or None (all 1).
    """

    users: np.ndarray
    items: np.ndarray
    pools: list[np.ndarray]
    pool_of_pair: np.ndarray
    weights: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.users)


def scenarios_of(tables: KGTables) -> list[str]:
    """Every scenario of the graph, sorted."""
    return sorted(tables.scenarios["scenario"])


def sources_of(tables: KGTables, target: str) -> list[str]:
    """The source scenarios of ``target``: every scenario but the target, sorted."""
    return [s for s in scenarios_of(tables) if s != target]


#: ``negative_pool = "auto"``: a scenario draws its negatives from its items with training
#: interactions when they are at least this share of its items, else from all its items
AUTO_POOL_MIN_SHARE = 0.5


def negative_pool_items(index: GraphIndex, scenario: str, interacted: np.ndarray,
                        negative_pool: str = "auto") -> np.ndarray:
    """The sorted item indices ``scenario`` draws negatives from (``[train] negative_pool``).

    ``interacted``: its items with training interactions (``interacted``, sorted), so items
    without any, such as cold-start items waiting to be ranked, are never pushed down; ``all``:
    every item of the scenario; ``auto``: ``interacted`` when those are at least
    :data:`AUTO_POOL_MIN_SHARE` of the scenario's items (a scenario whose items without
    interactions are a held-out minority), else ``all`` (a scenario with little training data,
    where the items nobody took are most of the catalogue, and pushing them down teaches the
    model that they are unlikely).
    """
    if negative_pool == "interacted":
        return interacted
    every = index.scenario_items(scenario)
    if negative_pool == "auto" and len(interacted) >= AUTO_POOL_MIN_SHARE * len(every):
        return interacted
    return every


def training_pairs(tables: KGTables, index: GraphIndex, scenarios: list[str],
                   weights: dict[str, float] | None = None,
                   negative_pool: str = "auto") -> TrainingPairs:
    """The positive pairs of ``scenarios``' training interactions.

    Args:
        weights: scenario -> loss weight of its pairs (default: no weights, all 1).
        negative_pool: ``auto``, ``interacted`` or ``all``: where each scenario's negatives
            come from (:func:`negative_pool_items`, ``[train] negative_pool``).

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
    pools = [negative_pool_items(index, s, np.unique(items[pool_of_pair == p]), negative_pool)
             for p, s in enumerate(names)]
    return TrainingPairs(users=index.index("user", part["user_id"]), items=items, pools=pools,
                         pool_of_pair=pool_of_pair, weights=pair_weights)


def known_users(tables: KGTables, index: GraphIndex, scenarios: list[str]) -> torch.Tensor:
    """``[num_users]`` bool: users with training interactions in ``scenarios``."""
    known = torch.zeros(len(index.ids["user"]), dtype=torch.bool)
    known[torch.as_tensor(training_pairs(tables, index, scenarios).users)] = True
    return known
