"""Heterogeneous LightGCN: parameter-free propagation over every edge type of the KG.

LightGCN (He et al., SIGIR 2020) smooths id embeddings over the user-item graph with the
symmetric normalisation ``D^-1/2 A D^-1/2`` and averages the layer outputs. Here the same
propagation runs over each edge type of the heterogeneous graph (user-item, item-attribute,
user-attribute, item-scenario, item-item links, each with its reverse); a node's new embedding
is the mean over the edge types that reach it. Items are therefore encoded from their
attributes as well as their id: an item without interactions still receives its brand's,
category's ... embeddings, and a user is served in a scenario from interactions in any other.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch_geometric.data import HeteroData

EdgeType = tuple[str, str, str]
USER_ITEM: EdgeType = ("user", "interacted", "item")


def normalized_adjacency(edge_index: Tensor, num_src: int, num_dst: int) -> Tensor:
    """Sparse ``[num_dst, num_src]`` matrix with entries ``1/sqrt(deg_src * deg_dst)``."""
    src, dst = edge_index
    ones = torch.ones(src.numel(), device=edge_index.device)
    deg_src = torch.zeros(num_src, device=edge_index.device).index_add_(0, src, ones)
    deg_dst = torch.zeros(num_dst, device=edge_index.device).index_add_(0, dst, ones)
    values = (deg_src[src] * deg_dst[dst]).clamp(min=1).rsqrt()
    return torch.sparse_coo_tensor(torch.stack([dst, src]), values, (num_dst, num_src),
                                   check_invariants=False).coalesce()


class HeteroLightGCN(nn.Module):
    """Id embeddings for every node type, LightGCN propagation over every edge type.

    Args:
        num_nodes: node type -> number of nodes.
        dim: embedding size.
        num_layers: propagation layers (layer outputs, including layer 0, are averaged).
    """

    def __init__(self, num_nodes: dict[str, int], dim: int = 64, num_layers: int = 2):
        super().__init__()
        self.num_nodes = dict(num_nodes)
        self.dim = dim
        self.num_layers = num_layers
        self.embedding = nn.ModuleDict({t: nn.Embedding(n, dim) for t, n in num_nodes.items()})
        for emb in self.embedding.values():
            nn.init.normal_(emb.weight, std=0.1)
        self._adjacency: dict[EdgeType, Tensor] | None = None
        self._id_mask: dict[str, Tensor] = {}

    def set_graph(self, data: HeteroData) -> None:
        """Precompute the normalised adjacency of every edge type of ``data``.

        Users and items without any interaction edge in ``data`` (cold-start nodes) get no id
        embedding: their layer-0 input is zero and their representation comes only from their
        neighbours (attributes, links, other scenarios), the same way a brand-new node would.
        """
        device = next(self.parameters()).device
        self._adjacency = {
            et: normalized_adjacency(data[et].edge_index.to(device), self.num_nodes[et[0]],
                                     self.num_nodes[et[2]])
            for et in data.edge_types if data[et].edge_index.numel()
        }
        self._id_mask = {}
        if USER_ITEM in data.edge_types:
            edge_index = data[USER_ITEM].edge_index.to(device)
            for pos, node_type in ((0, "user"), (1, "item")):
                seen = torch.zeros(self.num_nodes[node_type], device=device)
                seen[edge_index[pos]] = 1.0
                self._id_mask[node_type] = seen.unsqueeze(1)

    def forward(self) -> dict[str, Tensor]:
        """Propagated embeddings, node type -> ``[num_nodes, dim]``."""
        layers = self.layers()
        return {t: torch.stack([x[t] for x in layers]).mean(0) for t in layers[0]}

    def layers(self) -> list[dict[str, Tensor]]:
        """Node embeddings after each layer, layer 0 (the masked id embeddings) first."""
        if self._adjacency is None:
            raise RuntimeError("call set_graph(data) before forward()")
        x = {t: emb.weight * self._id_mask[t] if t in self._id_mask else emb.weight
             for t, emb in self.embedding.items()}
        layers = [x]
        for _ in range(self.num_layers):
            sums: dict[str, Tensor] = {}
            counts: dict[str, int] = {}
            for (src, _, dst), adj in self._adjacency.items():
                msg = adj @ x[src]
                sums[dst] = sums[dst] + msg if dst in sums else msg
                counts[dst] = counts.get(dst, 0) + 1
            x = {t: sums[t] / counts[t] if t in sums else x[t] for t in x}
            layers.append(x)
        return layers

    def embed_new_items(self, attributes: list[dict[str, list[int]]],
                        degrees: dict[str, Tensor]) -> Tensor:
        """Embeddings of items that are not in the graph, from their attribute nodes only.

        Applies the propagation rule of :meth:`forward` to a node with no id embedding whose
        only edges go to the given attribute (and scenario) nodes: at layer ``l`` it receives
        ``sum_v x_v^(l-1) / sqrt(deg_item * deg_v)`` per edge type, averaged over edge types.

        Args:
            attributes: per new item, node type -> indices of its neighbours of that type
                (an attribute kind such as ``brand``, or ``scenario``).
            degrees: node type -> ``[num_nodes]`` degree of each node on its edge type to items
                (the new item itself is counted).

        Returns:
            ``[len(attributes), dim]``.
        """
        layers = self.layers()
        out = torch.zeros(len(attributes), self.dim)
        for row, neighbours in enumerate(attributes):
            total = torch.zeros(self.dim)
            for layer in range(1, self.num_layers + 1):
                msgs = []
                for node_type, idx in neighbours.items():
                    if not len(idx):
                        continue
                    idx_t = torch.as_tensor(idx)
                    norm = (degrees[node_type][idx_t].clamp(min=1) * len(idx)).rsqrt()
                    msgs.append((layers[layer - 1][node_type][idx_t] * norm.unsqueeze(1)).sum(0))
                if msgs:
                    total = total + torch.stack(msgs).mean(0)
            out[row] = total / (self.num_layers + 1)
        return out
