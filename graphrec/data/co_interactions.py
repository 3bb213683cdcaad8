"""Item-item edges from co-interaction: each item's nearest items, scenario by scenario.

Item-kNN scores a target item by its co-occurrence with the user's items elsewhere, through
the users who took both. A message-passing model can carry the same signal in one hop when
the graph links co-interacted items directly (UltraGCN, Mao et al., CIKM 2021, builds such an
item-item graph): a cold-start user's source items then pass messages straight to the target
items their users also took.

For every item and every scenario, the ``k`` items of that scenario with the largest cosine
similarity of user columns (over the graph's interaction edges, so only training splits) become
``cooccurs`` edges. Keeping ``k`` per scenario, not ``k`` overall, guarantees links across
scenarios, which would otherwise be crowded out by the denser links inside a scenario. Pairs
taken by fewer than ``min_users`` users get no edge: where a scenario is sparse, a pair seen
once is noise. :func:`co_interaction_graph` also returns each edge's cosine, which a graph
can keep as the edge's weight (``[train] co_weighted``), so propagation leans on an item's
strong links as item-kNN does.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from kg import schema

#: the relation of the derived edges (``item -cooccurs-> item`` and its reverse)
CO_OCCURS = "cooccurs"
#: their edge type in a graph
CO_EDGES = (schema.PYG_ITEM, CO_OCCURS, schema.PYG_ITEM)


def co_interaction_edges(user_item: torch.Tensor, num_users: int, item_scenario: np.ndarray,
                         k: int, min_users: int = 1, chunk: int = 512) -> torch.Tensor:
    """``[2, E]`` edges from each item to its ``k`` most similar items in every scenario
    (:func:`co_interaction_graph` without the similarities)."""
    return co_interaction_graph(user_item, num_users, item_scenario, k, min_users, chunk)[0]


def co_interaction_graph(user_item: torch.Tensor, num_users: int, item_scenario: np.ndarray,
                         k: int, min_users: int = 1, chunk: int = 512
                         ) -> tuple[torch.Tensor, torch.Tensor]:
    """``([2, E], [E])``: edges from each item to its ``k`` most similar items in every
    scenario, and each edge's similarity (the cosine of the two items' user sets, in (0, 1]).

    Args:
        user_item: ``[2, N]`` interaction edges (user index, item index).
        num_users: number of user nodes.
        item_scenario: ``[num_items]`` scenario index of each item.
        k: neighbours kept per item and scenario (only similarities > 0; ties by index).
        min_users: the fewest users a pair must share to be linked.
        chunk: items whose similarities are computed at once (memory ``chunk x num_items``).
    """
    num_items = len(item_scenario)
    matrix = interaction_matrix(user_item, num_users, num_items)
    norms = np.sqrt(np.asarray(matrix.sum(0)).ravel())
    inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
    columns = (matrix @ sp.diags(inv.astype(np.float32))).tocsc()  # unit item columns
    rows_t = columns.T.tocsr()  # [items, users]
    groups = [np.flatnonzero(item_scenario == s) for s in np.unique(item_scenario)]
    src, dst, weight = [], [], []
    active = np.flatnonzero(norms > 0)
    for start in range(0, len(active), chunk):
        part = active[start:start + chunk]
        sims = np.asarray((rows_t[part] @ columns).todense())  # [chunk, items]
        sims[np.arange(len(part)), part] = 0.0  # no self-loops
        if min_users > 1:  # shared users = cosine x the two norms (binary columns)
            shared = np.rint(sims * norms[part][:, None] * norms[None, :])
            sims[shared < min_users] = 0.0
        pair_src, pair_dst = top_per_group(part, sims, groups, k)
        src.append(pair_src)
        dst.append(pair_dst)
        weight.append(sims[np.searchsorted(part, pair_src), pair_dst])
    weights = (torch.from_numpy(np.concatenate(weight).astype(np.float32)) if weight
               else torch.empty(0))
    return edge_tensor(src, dst), weights


def interaction_matrix(user_item: torch.Tensor, num_users: int, num_items: int
                       ) -> sp.csr_matrix:
    """Binary ``[num_users, num_items]`` CSR of ``[2, N]`` interaction edges (a repeated pair
    counts once)."""
    users, items = user_item.cpu().numpy()
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (users, items)),
                           shape=(num_users, num_items))
    matrix.data[:] = 1.0
    return matrix


def top_per_group(rows: np.ndarray, scores: np.ndarray, groups: list[np.ndarray], k: int
                  ) -> tuple[np.ndarray, np.ndarray]:
    """For each row, its ``k`` best-scoring columns within every group (only scores > 0; ties
    by the smaller column, a stable sort of ``-score``).

    Args:
        rows: ``[R]`` the item of each row of ``scores``.
        scores: ``[R, items]`` scores of every candidate column.
        groups: the columns of each group (scenario).

    Returns:
        ``(src, dst)``: the row's item and the chosen column of every kept pair.
    """
    src, dst = [], []
    for group in groups:
        block = scores[:, group]
        take = min(k, len(group))
        top = np.argsort(-block, axis=1, kind="stable")[:, :take]
        keep = np.take_along_axis(block, top, 1) > 0
        src.append(np.repeat(rows, take)[keep.ravel()])
        dst.append(group[top][keep])
    return np.concatenate(src), np.concatenate(dst)


def edge_tensor(src: list[np.ndarray], dst: list[np.ndarray]) -> torch.Tensor:
    """``[2, E]`` int64 edges from the concatenated ``src`` and ``dst`` parts."""
    if not src:
        return torch.empty(2, 0, dtype=torch.long)
    return torch.from_numpy(np.stack([np.concatenate(src), np.concatenate(dst)]).astype(np.int64))
