"""A conditional GNN: message passing that starts from one user's own items.

The embedding models (:class:`~graphrec.models.HeteroLightGCN` and friends) give every user
one vector and score an item by a dot product, so whatever a user's history says must fit in
``dim`` numbers. Item-kNN and EASE instead follow the paths that join a user's items to a
candidate (item -> user -> item), and on sparse cold-start data they win. A conditional GNN
learns over those paths (Neural Bellman-Ford Networks, Zhu et al., NeurIPS 2021; the
labelling trick, Zhang et al., NeurIPS 2021): for each query user it runs message passing
whose only input is a learned vector on that user's items (the boundary condition), over
every edge type of the knowledge graph, with learned per-relation weights and a
non-linearity, and scores each candidate item from the state it reaches.

Paths through the query user's own node are cut (its state is zeroed at every layer), so a
training query can hide some of the user's items without rebuilding the graph, and a
cold-start user is scored exactly as training scores a hidden one. The model has no user
parameters: a user added after training is scored from their items alone.

Shapes: the states of ``B`` queries are ``[num_nodes, B, dim]`` per node type, so memory and
time grow with ``B * dim`` times the graph's node count.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from graphrec.data.co_interactions import interaction_matrix
from graphrec.data.graph import edge_weight
from graphrec.models.hetero_lightgcn import normalized_adjacency
from graphrec.pyg import HeteroData
from kg import schema

EdgeType = tuple[str, str, str]

#: the name a run directory's ``model.json`` gives a :class:`PathGNN`
PATH_MODEL = "path-gnn"


@dataclass(frozen=True)
class PathGraph:
    """A graph prepared for :class:`PathGNN` (:func:`prepare_path_graph`).

    Attributes:
        node_types: every node type, in a fixed order.
        num_nodes: node type -> node count.
        edge_types: every edge type (each relation and its reverse).
        adjacency: edge type -> sparse ``[num_dst, num_src]``, entries
            ``1 / sqrt(deg_src * deg_dst)`` (weighted where the edge type has weights).
        history: ``[num_users, num_items]`` CSR, 1 where the graph has a user-item edge: the
            boundary of a query is its user's row.
        trained_items: ``[num_items]`` bool, items with at least one interaction edge (the
            only ones that get an id embedding).
    """

    node_types: tuple[str, ...]
    num_nodes: dict[str, int]
    edge_types: tuple[EdgeType, ...]
    adjacency: dict[EdgeType, Tensor]
    history: sp.csr_matrix
    trained_items: Tensor


def prepare_path_graph(data: HeteroData) -> PathGraph:
    """Normalised adjacency of every edge type of ``data`` and its user-item history."""
    node_types = tuple(data.node_types)
    num_nodes = {t: int(data[t].num_nodes) for t in node_types}
    edge_types = tuple(et for et in data.edge_types if data[et].edge_index.shape[1] > 0)
    adjacency = {et: normalized_adjacency(data[et].edge_index, num_nodes[et[0]],
                                          num_nodes[et[2]], edge_weight(data, et))
                 for et in edge_types}
    num_users, num_items = num_nodes[schema.PYG_USER], num_nodes[schema.PYG_ITEM]
    user_item = (data[schema.USER_ITEM].edge_index if schema.USER_ITEM in data.edge_types
                 else torch.empty(2, 0, dtype=torch.long))
    history = interaction_matrix(user_item, num_users, num_items)
    trained = torch.from_numpy(history.getnnz(axis=0) > 0)
    return PathGraph(node_types, num_nodes, edge_types, adjacency, history, trained)


class PathGNN(nn.Module):
    """Conditional message passing from a query's items, scored per candidate item.

    Layer ``l`` updates every node type ``t``:
    ``h_t = relu(LayerNorm(W_t (sum_r A_r (h_src(r) * w_r))))``, ``w_r`` a learned vector per
    edge type and layer (a diagonal relation transform, as NBFNet's DistMult messages), plus
    the boundary on item nodes (the query vector on the user's items, added at every layer),
    with the query user's own state set to 0. An item's features are its states after every
    layer (``[dim * num_layers]``); its score is an MLP of them plus, with
    ``item_embeddings``, their dot product with the item's own learned vector (0 at start and
    for items without interactions, which training never reaches).

    Args:
        node_types: the graph's node types (:attr:`PathGraph.node_types`).
        edge_types: its edge types.
        num_items: item nodes.
        dim: channels per node and query.
        num_layers: message-passing layers, one hop each (4 reach
            item -> user -> item -> user -> item).
        item_embeddings: learn a vector per item for the score.
    """

    def __init__(self, node_types: Sequence[str], edge_types: Sequence[EdgeType],
                 num_items: int, dim: int = 16, num_layers: int = 4,
                 item_embeddings: bool = True):
        super().__init__()
        self.node_types = tuple(node_types)
        self.edge_types = tuple(tuple(et) for et in edge_types)
        self.dim, self.num_layers = dim, num_layers
        self.query = nn.Parameter(torch.ones(dim))
        self.relation = nn.Parameter(torch.ones(num_layers, len(self.edge_types), dim))
        self.update = nn.ModuleList(
            nn.ModuleList(nn.Linear(dim, dim) for _ in self.node_types)
            for _ in range(num_layers))
        self.norm = nn.ModuleList(
            nn.ModuleList(nn.LayerNorm(dim) for _ in self.node_types)
            for _ in range(num_layers))
        width = dim * num_layers
        self.head = nn.Sequential(nn.Linear(width, dim), nn.ReLU(), nn.Linear(dim, 1))
        self.item_emb = (nn.Parameter(torch.zeros(num_items, width)) if item_embeddings
                         else None)
        self.needed = self._needed_types()
        self._init_kwargs = {"node_types": list(self.node_types),
                             "edge_types": [list(et) for et in self.edge_types],
                             "num_items": num_items, "dim": dim, "num_layers": num_layers,
                             "item_embeddings": item_embeddings}

    def init_kwargs(self) -> dict:
        """The constructor's arguments, JSON-ready (a run directory's ``model.json``)."""
        return dict(self._init_kwargs)

    def item_states(self, graph: PathGraph, histories: sp.csr_matrix,
                    users: np.ndarray | None = None) -> Tensor:
        """``[num_items, B, dim * num_layers]`` item features of ``B`` queries.

        Args:
            histories: ``[B, num_items]`` the items each query starts from (the boundary).
            users: ``[B]`` the queries' user nodes, whose states are zeroed (None: users not
                in the graph, nothing to cut).
        """
        item_type = schema.PYG_ITEM
        b, d = histories.shape[0], self.dim
        device = self.query.device
        rows, cols = sp.coo_matrix(histories).nonzero()
        boundary = torch.zeros(graph.num_nodes[item_type], b, d, device=device)
        boundary = boundary.index_put(
            (torch.as_tensor(cols, device=device), torch.as_tensor(rows, device=device)),
            self.query.expand(len(rows), d))
        cut = None
        if users is not None:
            cut = torch.ones(graph.num_nodes[schema.PYG_USER], b, 1, device=device)
            cut[torch.as_tensor(users, device=device), torch.arange(b, device=device)] = 0.0
        states: dict[str, Tensor | None] = {t: None for t in self.node_types}
        states[item_type] = boundary
        outputs = []
        for layer in range(self.num_layers):
            incoming: dict[str, Tensor] = {}
            for k, et in enumerate(self.edge_types):
                src = states[et[0]]
                if src is None or et[2] not in self.needed[layer]:  # nothing to send, or unread
                    continue
                # A (h * w) = (A h) * w: the relation's weights go on the smaller side
                weight = self.relation[layer, k]
                before = src.shape[0] <= graph.num_nodes[et[2]]
                if before:
                    src = src * weight
                message = (graph.adjacency[et] @ src.reshape(src.shape[0], b * d))
                message = message.reshape(-1, b, d)
                if not before:
                    message = message * weight
                incoming[et[2]] = incoming[et[2]] + message if et[2] in incoming else message
            new: dict[str, Tensor | None] = {}
            for n, node_type in enumerate(self.node_types):
                if node_type not in incoming:  # only the boundary (items) or nothing yet
                    new[node_type] = boundary if node_type == item_type else None
                    continue
                h = torch.relu(self.norm[layer][n](self.update[layer][n](incoming[node_type])))
                if node_type == item_type:
                    h = h + boundary
                elif node_type == schema.PYG_USER and cut is not None:
                    h = h * cut
                new[node_type] = h
            states = new
            outputs.append(states[item_type])
        return torch.cat(outputs, dim=-1)

    def _needed_types(self) -> list[set[str]]:
        """Per layer, the node types whose states a later layer or the output reads (items
        after every layer; before the last, only the types that send to a needed type)."""
        needed = [{schema.PYG_ITEM} for _ in range(self.num_layers)]
        for layer in range(self.num_layers - 2, -1, -1):
            needed[layer] |= {src for src, _, dst in self.edge_types
                              if dst in needed[layer + 1]}
        return needed

    def forward(self, graph: PathGraph, histories: sp.csr_matrix, items: Tensor,
                users: np.ndarray | None = None) -> Tensor:
        """``[B, len(items)]`` scores of ``items`` for the queries (see :meth:`item_states`)."""
        features = self.item_states(graph, histories, users)[items]  # [n, B, width]
        scores = self.head(features).squeeze(-1)
        if self.item_emb is not None:
            own = self.item_emb[items] * graph.trained_items[items].unsqueeze(1).to(
                features.device)
            scores = scores + (features * own.unsqueeze(1)).sum(-1)
        return scores.T
