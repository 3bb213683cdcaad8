"""Cold-start simulations: what they share.

A simulation changes the graph one training epoch propagates over, so training meets the
condition a cold-start node is served in while the training pairs stay as they are
(:class:`~graphrec.training.bridges.BridgeSimulation` hides the target edges of bridge users,
:class:`~graphrec.training.cold_items.ColdItemSimulation` makes target items cold).
:func:`simulated_graph` applies several in turn and prepares the result once.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from graphrec.models.base import GraphModel, ModelGraph
from graphrec.pyg import HeteroData


class Simulation:
    """Base of cold-start simulations; subclasses implement :meth:`hide`."""

    def hide(self, data: HeteroData, mask: dict[str, torch.Tensor], gen: np.random.Generator
             ) -> tuple[HeteroData, dict[str, torch.Tensor]]:
        """``(data, mask)`` of this epoch, drawn from ``gen``: copies where changed, the
        inputs themselves where not (never modified in place)."""
        raise NotImplementedError

    def epoch_graph(self, model: GraphModel, graph: ModelGraph, gen: np.random.Generator
                    ) -> ModelGraph:
        """``graph`` with :meth:`hide` applied, prepared for ``model``."""
        return simulated_graph([self], model, graph, gen)


def simulated_graph(simulations: Sequence[Simulation], model: GraphModel, graph: ModelGraph,
                    gen: np.random.Generator) -> ModelGraph:
    """The graph one training epoch propagates over: ``graph`` with each simulation's
    :meth:`~Simulation.hide` applied in turn (bridge users first, see
    :class:`~graphrec.training.bridges.BridgeSimulation`), prepared once for ``model``;
    ``graph`` itself when there is none. ``graph`` is never modified."""
    if not simulations:
        return graph
    data, mask = graph.data, graph.mask
    for simulation in simulations:
        data, mask = simulation.hide(data, mask, gen)
    return ModelGraph(data, model.prepare(data), mask, graph.item_scenario)
