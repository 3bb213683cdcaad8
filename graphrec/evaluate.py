"""Full-ranking evaluation of one scenario: warm users, cold-start users, cold-start items."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from graphrec.graph import GraphIndex
from graphrec.metrics import rank_metrics
from kg.tables import KGTables

SUBSETS = ("all", "cold_users", "cold_items")


def evaluate_scenario(user_emb: Tensor, item_emb: Tensor, index: GraphIndex, tables: KGTables,
                      scenario: str, split: str, k: int = 20,
                      train_splits: tuple[str, ...] = ("train", "all"),
                      subsets: tuple[str, ...] = SUBSETS) -> dict[str, dict]:
    """Rank every item of ``scenario`` for each user with held-out interactions in ``split``.

    Items the user took in training are excluded from the candidates. Subsets: ``all`` users;
    ``cold_users`` (no training interaction in the scenario); ``cold_items``: positives are the
    held-out interactions with items that have no training interaction, ranked among all such
    cold-start items of the scenario (the protocol of MetaHIN-style item cold-start tables).

    Returns:
        subset -> metrics of :func:`graphrec.metrics.rank_metrics`.
    """
    inter = tables.interactions
    in_scenario = inter[inter["scenario"] == scenario]
    train = in_scenario[in_scenario["split"].isin(train_splits)]
    held = in_scenario[in_scenario["split"] == split]
    all_candidates = index.scenario_items(scenario)
    item_pos = index.lookup("item")
    seen = train.groupby("user_id")["item_id"].agg(list).to_dict()
    warm_items = set(train["item_id"])
    warm_pos = {item_pos[i] for i in warm_items}
    out = {}
    for subset in subsets:
        rows, candidates = held, all_candidates
        if subset == "cold_users":
            rows = held[~held["user_id"].isin(set(train["user_id"]))]
        elif subset == "cold_items":
            rows = held[~held["item_id"].isin(warm_items)]
            candidates = np.array([c for c in all_candidates if int(c) not in warm_pos],
                                  dtype=np.int64)
        groups = rows.groupby("user_id")["item_id"].agg(list)
        if len(groups) == 0:
            continue
        position = {int(item): p for p, item in enumerate(candidates)}
        users = index.index("user", groups.index)
        scores = user_emb[torch.as_tensor(users)] @ item_emb[torch.as_tensor(candidates)].T
        positives = [np.array([position[item_pos[i]] for i in items]) for items in groups]
        exclude = [np.array([position[item_pos[i]] for i in seen.get(u, [])
                             if item_pos[i] in position], dtype=np.int64)
                   for u in groups.index]
        out[subset] = rank_metrics(scores, positives, exclude, k)
    return out


def popularity_scores(index: GraphIndex, tables: KGTables,
                      train_splits: tuple[str, ...] = ("train", "all")) -> Tensor:
    """``[num_items]`` training interaction counts (the popularity baseline's scores)."""
    inter = tables.interactions
    counts = inter[inter["split"].isin(train_splits)].groupby("item_id").size()
    full = pd.Series(0.0, index=index.ids["item"])
    full.loc[counts.index] = counts.to_numpy(dtype=float)
    return torch.tensor(full.to_numpy(dtype=np.float32))
