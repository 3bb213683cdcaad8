"""Relation-aware GNN: one GraphSAGE convolution per edge type, combined with ``HeteroConv``.

Each relation (user-item, item-brand, item-scenario, ... and their reverses) has its own
weights, as in R-GCN (Schlichtkrull et al., ESWC 2018), with GraphSAGE's mean aggregator
(Hamilton et al., NeurIPS 2017) per relation and the mean over relations reaching a node type.
Layer outputs are averaged with the (masked) id embeddings, like LightGCN, which keeps the
scale stable for dot-product scoring.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from graphrec.errors import ConfigError
from graphrec.models.base import GraphModel
from graphrec.pyg import HeteroConv, HeteroData, SAGEConv
from kg import schema


class HeteroSAGE(GraphModel):
    """Relation-specific SAGE layers over the knowledge graph.

    Args:
        num_nodes: node type -> number of nodes.
        dim: embedding and hidden size.
        num_layers: message-passing layers.
        edge_types: relations to learn weights for; default all of the graph the model is
            built for (passed by :func:`graphrec.models.build_model`).
    """

    def __init__(self, num_nodes: dict[str, int], dim: int = 64, num_layers: int = 2,
                 edge_types: list[tuple[str, str, str]] | None = None, **options):
        super().__init__(num_nodes, dim, num_layers, **options)
        if not edge_types:
            raise ConfigError("HeteroSAGE needs the graph's edge_types (build it with "
                              "graphrec.models.build_model)")
        self.edge_types = [tuple(et) for et in edge_types]
        self.convs = nn.ModuleList(
            HeteroConv({et: SAGEConv((dim, dim), dim) for et in self.edge_types}, aggr="mean")
            for _ in range(num_layers))

    def init_kwargs(self) -> dict:
        return {**super().init_kwargs(), "edge_types": [list(et) for et in self.edge_types]}

    def prepare(self, data: HeteroData) -> dict:
        device = self._device()
        return {et: data[et].edge_index.to(device) for et in self.edge_types
                if et in data.edge_types}

    def propagate(self, x: dict[str, Tensor], cache: dict) -> dict[str, Tensor]:
        total = dict(x)
        for layer, conv in enumerate(self.convs):
            out = conv(x, cache)
            out = {t: (torch.tanh(v) if layer < self.num_layers - 1 else v)
                   for t, v in out.items()}
            x = {t: out.get(t, x[t]) for t in x}
            total = {t: total[t] + x[t] for t in total}
        return {t: v / (self.num_layers + 1) for t, v in total.items()}


def graph_edge_types(data: HeteroData) -> list[tuple[str, str, str]]:
    """Edge types of ``data`` that carry edges (what :class:`HeteroSAGE` learns weights for)."""
    return [et for et in data.edge_types if data[et].edge_index.numel()
            or et in (schema.USER_ITEM, schema.reverse_edge(schema.USER_ITEM))]
