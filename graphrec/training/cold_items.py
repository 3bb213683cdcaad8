"""Cold-item simulation: train the condition a cold-start item is ranked in.

An item without training interactions has no interaction or co-interaction edge and no id
embedding (:class:`~graphrec.models.base.GraphModel`): its representation comes from its
attribute values and its scenario alone. Plain training never scores such an item: every
trained item carries its own id embedding and hears its users. At every epoch this simulation
makes a random share of the target's trained items cold: their interaction and
co-interaction edges are hidden from the propagation graph and their id embeddings dropped,
while their training pairs stay in the loss, so the model learns to place items from their
attributes, as it must at test time. This is DropoutNet's training condition (Volkovs et al.,
NeurIPS 2017) applied to a whole node, the item-side counterpart of the bridge-user
simulation (:mod:`graphrec.training.bridges`).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from graphrec.data.co_interactions import CO_EDGES
from graphrec.data.graph import edge_weight, set_edges
from graphrec.errors import ConfigError
from graphrec.models.base import ModelGraph
from graphrec.pyg import HeteroData
from graphrec.training.simulation import Simulation
from kg import schema


class ColdItemSimulation(Simulation):
    """Per-epoch graphs in which a random share of the target's trained items are cold.

    Args:
        graph: the full training graph (prepared for the model); its mask says which items
            are trained (have interaction edges), its item scenarios which are the target's.
        target: the target scenario's index among the graph's scenario nodes.
        share: the share of the target's trained items made cold at each epoch, in (0, 1].
    """

    def __init__(self, graph: ModelGraph, target: int, share: float):
        if not 0.0 < share <= 1.0:
            raise ConfigError(f"cold-item share must be in (0, 1], not {share}")
        if graph.item_scenario is None or schema.PYG_ITEM not in graph.mask:
            raise ConfigError("cold-item simulation needs interaction and item-scenario edges")
        self.share = share
        trained = graph.mask[schema.PYG_ITEM][:, 0].cpu() > 0
        in_target = graph.item_scenario.cpu() == target
        #: ``[I]`` the target's items with training interactions, the ones that can be hidden
        self.items = torch.nonzero(trained & in_target).flatten().numpy()

    def __len__(self) -> int:
        return len(self.items)

    def hide(self, data: HeteroData, mask: dict[str, torch.Tensor], gen: np.random.Generator
             ) -> tuple[HeteroData, dict[str, torch.Tensor]]:
        """``data`` (a shallow copy) without the interaction and co-interaction edges of
        ``share`` of the trained target items, drawn from ``gen``, and ``mask`` (a copy)
        without their id embeddings."""
        if len(self.items) == 0:
            return data, mask
        count = max(1, round(self.share * len(self.items)))
        hidden_items = gen.choice(self.items, size=count, replace=False)
        hidden = torch.zeros(data[schema.PYG_ITEM].num_nodes, dtype=torch.bool)
        hidden[torch.from_numpy(hidden_items)] = True
        data = without_item_interactions(data, hidden)
        item_mask = mask[schema.PYG_ITEM]
        mask = {**mask, schema.PYG_ITEM: item_mask * (~hidden).to(item_mask).unsqueeze(1)}
        return data, mask


def without_item_interactions(data: HeteroData, hidden: torch.Tensor) -> HeteroData:
    """A shallow copy of ``data`` without the interaction and co-interaction edges of the
    items where ``hidden`` (``[num_items]`` bool) is True: those items keep only their
    attribute and scenario edges, as a cold-start item has (``data`` is not modified)."""
    data = copy.copy(data)
    edge_index = data[schema.USER_ITEM].edge_index
    hidden = hidden.to(edge_index.device)
    set_edges(data, schema.USER_ITEM, edge_index[:, ~hidden[edge_index[1]]])
    if CO_EDGES in data.edge_types:  # the item-item edges a cold item has none of
        co = data[CO_EDGES].edge_index
        keep = ~(hidden[co[0]] | hidden[co[1]])
        weight = edge_weight(data, CO_EDGES)
        set_edges(data, CO_EDGES, co[:, keep], None if weight is None else weight[keep])
    return data
