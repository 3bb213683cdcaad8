"""Bridge-user simulation: train the cold-start condition the target scenario is served in.

A cold-start user of the target scenario is served only through propagation from what they did
in other scenarios. Plain training never meets that case: every trained user's own target
edges are in the graph. Users with training interactions in the target *and* in another
scenario (bridge users) can simulate it. At every epoch a random share of them have their
target-scenario interaction edges hidden from the propagation graph, while their target pairs
stay in the loss, so the model learns to place their target items from what remains (their
other scenarios, attributes, links). This is the training condition of EMCDR (Man et al.,
IJCAI 2017), PTUPCDR (Zhu et al., WSDM 2022) and CDRIB's overlapping-user objective (Cao et
al., WSDM 2022), and DropoutNet's (Volkovs et al., NeurIPS 2017) for interaction edges.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from graphrec.data.graph import set_edges
from graphrec.errors import ConfigError
from graphrec.models.base import ModelGraph
from graphrec.pyg import HeteroData
from graphrec.training.simulation import Simulation
from kg import schema


class BridgeSimulation(Simulation):
    """Per-epoch graphs with the target edges of a random share of bridge users hidden.

    Args:
        graph: the full training graph (prepared for the model); its item scenarios locate
            the target's edges.
        target: the target scenario's index among the graph's scenario nodes.
        share: the share of bridge users hidden at each epoch, in (0, 1].
    """

    def __init__(self, graph: ModelGraph, target: int, share: float):
        if not 0.0 < share <= 1.0:
            raise ConfigError(f"bridge share must be in (0, 1], not {share}")
        if graph.item_scenario is None or schema.USER_ITEM not in graph.data.edge_types:
            raise ConfigError("bridge-user simulation needs interaction and item-scenario "
                              "edges")
        self.share = share
        self.edge_index = graph.data[schema.USER_ITEM].edge_index
        users = self.edge_index[0].cpu().numpy()
        self.in_target = (graph.item_scenario.cpu()[self.edge_index[1].cpu()] == target).numpy()
        self.edge_users = users
        #: ``[B]`` users with training edges in the target and in another scenario
        self.bridges = np.intersect1d(users[self.in_target], users[~self.in_target])

    def __len__(self) -> int:
        return len(self.bridges)

    def hide(self, data: HeteroData, mask: dict[str, torch.Tensor], gen: np.random.Generator
             ) -> tuple[HeteroData, dict[str, torch.Tensor]]:
        """``data`` (a shallow copy) without the target edges of ``share`` of the bridge users,
        drawn from ``gen``; ``mask`` unchanged (every node keeps its id embedding).

        ``data`` must hold the interaction edges of the graph this simulation was built on
        (apply it before any simulation that removes interaction edges)."""
        if len(self.bridges) == 0:
            return data, mask
        count = max(1, round(self.share * len(self.bridges)))
        hidden = gen.choice(self.bridges, size=count, replace=False)
        keep = ~(self.in_target & np.isin(self.edge_users, hidden))
        data = copy.copy(data)
        edge_index = self.edge_index[:, torch.from_numpy(keep).to(self.edge_index.device)]
        set_edges(data, schema.USER_ITEM, edge_index)
        return data, mask
