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

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from graphrec.data.co_interactions import interaction_matrix
from graphrec.data.graph import edge_weight, item_scenario_ids
from graphrec.models.hetero_lightgcn import normalized_adjacency
from graphrec.pyg import HeteroData
from kg import schema
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

EdgeType = tuple[str, str, str]

#: the name a run directory's ``model.json`` gives a :class:`PathGNN`
PATH_MODEL = "path-gnn"
#: the value of :attr:`PathGraph.history` (and of a query's history) at an interaction rated
#: at level ``l`` of a model's rated levels (:func:`rated_levels`, :func:`mark_ratings`) is
#: ``RATED + l``; every other interaction (unrated, or rated at the most common value) is 1
RATED = 2.0
#: the most distinct training ratings whose starts get offsets of their own: weights of more
#: distinct values (counts, durations) are not read as ratings
MAX_RATING_LEVELS = 10
#: bytes a training pass of :class:`PathGNN` holds per query, graph node, channel and layer:
#: about 11 measured (the peak resident memory of one 8- and 32-query step on CDRIB's 63,375
#: nodes, 16 channels, 4 layers, over the process before the step), with a margin
TRAIN_BYTES_PER_STATE = 16
#: the same for scoring, which keeps no gradients (about 3.5 measured with 16 and 64 users)
SCORE_BYTES_PER_STATE = 6
#: the share of the memory left that one pass may take
MEMORY_SHARE = 0.5


def queries_per_pass(num_nodes: int, dim: int, num_layers: int, available: int | None,
                     training: bool) -> int | None:
    """The most queries one pass of a :class:`PathGNN` (``dim`` channels, ``num_layers``) over
    a graph of ``num_nodes`` nodes may hold in :data:`MEMORY_SHARE` of ``available`` bytes
    (:func:`~graphrec.training.memory.available_bytes`), training or scoring; at least 1, and
    None where ``available`` is None (no limit known). A batch of more queries is run in
    passes of at most this many, with the same result (each query's states are its own)."""
    if available is None:
        return None
    per_state = TRAIN_BYTES_PER_STATE if training else SCORE_BYTES_PER_STATE
    per_query = per_state * max(1, num_nodes) * dim * num_layers
    return max(1, int(MEMORY_SHARE * available) // per_query)


@dataclass(frozen=True)
class PathGraph:
    """A graph prepared for :class:`PathGNN` (:func:`prepare_path_graph`).

    Attributes:
        node_types: every node type, in a fixed order.
        num_nodes: node type -> node count.
        edge_types: every edge type (each relation and its reverse).
        adjacency: edge type -> sparse CSR ``[num_dst, num_src]``, entries
            ``1 / sqrt(deg_src * deg_dst)`` (weighted where the edge type has weights).
        transposed: edge type -> its adjacency transposed, CSR ``[num_src, num_dst]`` (what
            the backward pass of :func:`sparse_mm` multiplies by).
        history: ``[num_users, num_items]`` CSR, 1 where the graph has a user-item edge
            (``RATED + l`` where it is rated at level ``l``, :func:`mark_ratings`): the
            boundary of a query is its user's row.
        trained_items: ``[num_items]`` bool, items with at least one interaction edge (the
            only ones that get an id embedding).
        item_content: ``[num_items, num_values]`` CSR, ``1 / n`` for each of an item's ``n``
            attribute values (the columns: the nodes of every attribute type items link to
            that is not an identifier, type after type in ``node_types`` order), or None when
            there are none (:func:`item_content_matrix`).
        item_content_t: its transpose, CSR ``[num_values, num_items]`` (None with it).
        content_types: the attribute types whose nodes are the columns of
            :attr:`item_content`, in order.
    """

    node_types: tuple[str, ...]
    num_nodes: dict[str, int]
    edge_types: tuple[EdgeType, ...]
    adjacency: dict[EdgeType, Tensor]
    transposed: dict[EdgeType, Tensor]
    history: sp.csr_matrix
    trained_items: Tensor
    item_content: Tensor | None = None
    item_content_t: Tensor | None = None
    content_types: tuple[str, ...] = ()

    @property
    def total_nodes(self) -> int:
        """Nodes of every type."""
        return sum(self.num_nodes.values())

    @property
    def num_attribute_values(self) -> int:
        """Columns of :attr:`item_content` (0 without it)."""
        return 0 if self.item_content is None else int(self.item_content.shape[1])


def attribute_types(data: HeteroData) -> list[str]:
    """The attribute node types items link to, in ``data.node_types`` order."""
    reached = {dst for src, _, dst in data.edge_types
               if src == schema.PYG_ITEM and data[(src, _, dst)].edge_index.shape[1] > 0}
    return [t for t in data.node_types
            if t in reached and t not in (schema.PYG_USER, schema.PYG_ITEM, schema.PYG_SCENARIO)]


def _item_attribute_edges(data: HeteroData, node_type: str) -> np.ndarray:
    """``[2, E]``: the (item, value) edges from items to the nodes of ``node_type``."""
    parts = [data[et].edge_index.cpu().numpy() for et in data.edge_types
             if et[0] == schema.PYG_ITEM and et[2] == node_type]
    return np.concatenate(parts, axis=1) if parts else np.empty((2, 0), dtype=np.int64)


def _item_scenarios(data: HeteroData) -> np.ndarray:
    """``[num_items]``: each item's scenario node (0 for every item when the graph has no
    ``(item, in_scenario, scenario)`` edges: one scenario)."""
    scenarios = item_scenario_ids(data)
    if scenarios is None:
        return np.zeros(int(data[schema.PYG_ITEM].num_nodes), dtype=np.int64)
    return scenarios.numpy()


def is_identifier_type(data: HeteroData, node_type: str,
                       scenarios: np.ndarray | None = None) -> bool:
    """Whether every value of the attribute type ``node_type`` names at most one item in
    each scenario: a product id shared across scenarios (XMarket's ``asin``), not content.

    Such a value says nothing about an item beyond the item itself, so it gets no content
    vector (:func:`content_types`); the graph still links the items that share it.
    ``scenarios``: each item's scenario node (None: read from ``data``'s
    ``(item, in_scenario, scenario)`` edges; one scenario when there are none)."""
    items, values = _item_attribute_edges(data, node_type)
    if len(items) == 0:
        return False
    scenario = _item_scenarios(data) if scenarios is None else scenarios
    pairs = np.unique(np.stack([values, scenario[items], items]), axis=1)
    _, per_value = np.unique(pairs[:2], axis=1, return_counts=True)
    return bool(per_value.max() <= 1)


def content_types(data: HeteroData) -> list[str]:
    """The attribute types whose values make an item's content vector: those of
    :func:`attribute_types` that are not identifiers (:func:`is_identifier_type`)."""
    scenarios = _item_scenarios(data)  # once for every type
    return [t for t in attribute_types(data) if not is_identifier_type(data, t, scenarios)]


def item_content_matrix(data: HeteroData, types: Sequence[str] | None = None
                        ) -> sp.csr_matrix | None:
    """``[num_items, num_values]``: ``1 / n`` at each of an item's ``n`` attribute values
    (each value counted once; an item without any has an empty row), the columns being the
    nodes of ``types`` (None: :func:`content_types`), type after type; None when there are
    none."""
    types = content_types(data) if types is None else list(types)
    if not types:
        return None
    num_items = int(data[schema.PYG_ITEM].num_nodes)
    rows, cols, offset = [], [], 0
    for node_type in types:
        items, values = _item_attribute_edges(data, node_type)
        rows.append(items)
        cols.append(values + offset)
        offset += int(data[node_type].num_nodes)
    row, col = np.concatenate(rows), np.concatenate(cols)
    matrix = sp.csr_matrix((np.ones(len(row), dtype=np.float32), (row, col)),
                           shape=(num_items, offset))
    matrix.data[:] = 1.0  # a value linked twice counts once
    counts = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    return sp.csr_matrix(sp.diags(scale.astype(np.float32)) @ matrix)


def _torch_csr(matrix: sp.csr_matrix) -> Tensor:
    """A scipy CSR matrix as a torch sparse CSR tensor (float32)."""
    coo = matrix.tocoo()
    indices = torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
    values = torch.from_numpy(coo.data.astype(np.float32))
    return _csr(torch.sparse_coo_tensor(indices, values, coo.shape, check_invariants=True))


def prepare_path_graph(data: HeteroData, content: Sequence[str] | None = None) -> PathGraph:
    """Normalised adjacency of every edge type of ``data`` and its user-item history.

    ``content``: the attribute types of :attr:`PathGraph.item_content` (None: those
    :func:`content_types` finds in ``data``; a served model passes the ones it was trained
    with, so items added later cannot change its columns)."""
    node_types = tuple(data.node_types)
    num_nodes = {t: int(data[t].num_nodes) for t in node_types}
    edge_types = tuple(et for et in data.edge_types if data[et].edge_index.shape[1] > 0)
    adjacency, transposed = {}, {}
    for et in edge_types:
        matrix = normalized_adjacency(data[et].edge_index, num_nodes[et[0]], num_nodes[et[2]],
                                      edge_weight(data, et))
        if matrix.layout != torch.sparse_coo:
            matrix = matrix.to_sparse_coo()
        adjacency[et], transposed[et] = _csr(matrix), _csr(matrix.t())
    num_users, num_items = num_nodes[schema.PYG_USER], num_nodes[schema.PYG_ITEM]
    user_item = (data[schema.USER_ITEM].edge_index if schema.USER_ITEM in data.edge_types
                 else torch.empty(2, 0, dtype=torch.long))
    history = interaction_matrix(user_item, num_users, num_items)
    trained = torch.from_numpy(history.getnnz(axis=0) > 0)
    types = tuple(content_types(data) if content is None else content)
    matrix = item_content_matrix(data, types)
    return PathGraph(node_types, num_nodes, edge_types, adjacency, transposed, history,
                     trained, None if matrix is None else _torch_csr(matrix),
                     None if matrix is None else _torch_csr(matrix.T.tocsr()), types)


def training_ratings(tables: KGTables, index) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(users, items, weights)``: the node indices (``index``, a
    :class:`~graphrec.data.graph.GraphIndex`) and weights of the training interactions with a
    finite weight (the tables hold one row per user-item pair)."""
    inter = tables.interactions
    rated = inter[inter["split"].isin(TRAIN_SPLITS) & np.isfinite(inter["weight"])]
    return (index.index(schema.PYG_USER, rated["user_id"]),
            index.index(schema.PYG_ITEM, rated["item_id"]),
            rated["weight"].to_numpy(dtype=np.float64))


def rated_levels(weights: np.ndarray) -> list[float]:
    """The ratings whose starts get an offset of their own: every distinct value of
    ``weights`` (the training interactions', :func:`training_ratings`) but the most common
    one (on a tie, the largest), which starts as an unrated interaction does; none where the
    weights take one value, or more than :data:`MAX_RATING_LEVELS` (not ratings)."""
    values, counts = np.unique(weights, return_counts=True)
    if not 2 <= len(values) <= MAX_RATING_LEVELS:
        return []
    common = values[len(values) - 1 - int(np.argmax(counts[::-1]))]
    return [float(v) for v in values if v != common]


def mark_ratings(graph: PathGraph, users: np.ndarray, items: np.ndarray, weights: np.ndarray,
                 levels: Sequence[float]) -> PathGraph:
    """``graph`` whose history is ``RATED + l`` at the ``(users, items)`` pairs it holds that
    are rated ``levels[l]`` (:func:`training_ratings`, :func:`rated_levels`; pairs without an
    edge in the graph, such as the hidden items of a cold-item epoch graph, are left out) and
    1 at its other edges."""
    history = graph.history.copy()
    history.data[:] = 1.0
    levels = np.asarray(levels, dtype=np.float64)
    if len(levels):
        at = np.searchsorted(levels, weights).clip(max=len(levels) - 1)
        hit = levels[at] == weights
        marks = sp.csr_matrix(((RATED - 1.0 + at[hit]).astype(np.float32),
                               (users[hit], items[hit])), shape=history.shape)
        marks = sp.csr_matrix(marks.multiply(history))  # only where the graph has the edge
        history = sp.csr_matrix(history + marks)
    return replace(graph, history=history)


def _csr(matrix: Tensor) -> Tensor:
    """``matrix`` (sparse COO) as CSR, which multiplies the wide ``[n, B * dim]`` states
    of a batch of queries about 1.6x faster than COO on CPU (CDRIB, 32 queries of 16
    channels). torch calls its CSR layout "beta" in a notice, silenced here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        return matrix.coalesce().to_sparse_csr()


class _SparseMM(torch.autograd.Function):
    """``base + A @ x`` whose backward multiplies by the stored ``A^T`` (CSR both ways)
    instead of transposing ``A`` on every backward pass. Both passes write into a copy of
    the (broadcast) base with one ``addmm``, which on CPU is about 1.6x faster than
    ``A @ x`` (that one zero-fills its result and then copies it)."""

    @staticmethod
    def forward(ctx, matrix: Tensor, transposed: Tensor, x: Tensor, base: Tensor) -> Tensor:
        ctx.transposed, ctx.base_shape = transposed, base.shape
        return torch.addmm(base.expand(matrix.shape[0], x.shape[1]), matrix, x)

    @staticmethod
    def backward(ctx, grad: Tensor):
        grad_x = grad_base = None
        if ctx.needs_input_grad[2]:
            zero = grad.new_zeros(()).expand(ctx.transposed.shape[0], grad.shape[1])
            grad_x = torch.addmm(zero, ctx.transposed, grad)
        if ctx.needs_input_grad[3]:
            grad_base = grad.sum(0) if len(ctx.base_shape) == 1 else grad
        return None, None, grad_x, grad_base


def csr_rows(matrix: Tensor, rows: Tensor) -> Tensor:
    """``[len(rows), num_src]``: the rows ``rows`` (in that order) of the sparse CSR
    ``matrix`` ``[num_dst, num_src]``, each with its entries in the same order."""
    crow, col, values = matrix.crow_indices(), matrix.col_indices(), matrix.values()
    starts = crow.index_select(0, rows)
    counts = crow.index_select(0, rows + 1) - starts
    new_crow = torch.zeros(len(rows) + 1, dtype=crow.dtype, device=crow.device)
    torch.cumsum(counts, 0, out=new_crow[1:])
    at = (torch.arange(int(new_crow[-1]), dtype=crow.dtype, device=crow.device)
          + torch.repeat_interleave(starts - new_crow[:-1], counts))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        return torch.sparse_csr_tensor(new_crow, col.index_select(0, at),
                                       values.index_select(0, at),
                                       (len(rows), matrix.shape[1]),
                                       check_invariants=False)  # valid by construction


def sparse_mm(matrix: Tensor, transposed: Tensor, x: Tensor,
              base: Tensor | None = None, rows: Tensor | None = None) -> Tensor:
    """``[num_dst, c]``: ``base + matrix @ x`` for a sparse ``[num_dst, num_src]`` matrix
    (``transposed``: its transpose, sparse ``[num_src, num_dst]``), a dense ``[num_src, c]``
    ``x`` and ``base`` ``[c]`` (added to every row) or ``[num_dst, c]`` (None: 0);
    differentiable in ``x`` and ``base``. ``rows``: only those rows of the product
    (``[len(rows), c]``; ``base`` then ``[c]`` or ``[len(rows), c]``; each row the same
    value as the whole product's), for scoring: not differentiable (None: every row)."""
    if base is None:
        base = x.new_zeros(())
    if rows is not None:
        if torch.is_grad_enabled() and (x.requires_grad or base.requires_grad):
            raise ValueError("sparse_mm computes some rows only without gradients")
        matrix = csr_rows(matrix, rows)
        return torch.addmm(base.expand(matrix.shape[0], x.shape[1]), matrix, x)
    return _SparseMM.apply(matrix, transposed, x, base)


class PathGNN(nn.Module):
    """Conditional message passing from a query's items, scored per candidate item.

    Layer ``l`` updates every node type ``t``:
    ``h_t = relu(LayerNorm(W_t (sum_r A_r (h_src(r) * w_r))))``, ``w_r`` a learned vector per
    edge type and layer (a diagonal relation transform, as NBFNet's DistMult messages), plus
    the boundary on item nodes (the query vector on the user's items, added at every layer),
    with the query user's own state set to 0. An item's features are its states after every
    layer (``[dim * num_layers]``); its score is an MLP of them plus, with
    ``item_embeddings``, their dot product with the item's own learned vector (0 at start and
    for items without interactions, which training never reaches). With
    ``attribute_embeddings``, each attribute value also learns a vector and a bias; an item's
    content vector and bias are the means over its values (:attr:`PathGraph.item_content`),
    the vector added to the item's own and the bias to its score. They are what a cold-start
    item, which has no vector of its own, brings to the score besides the paths that reach it
    (0 at start, so the untrained model scores as without them). With ``rated_levels``, a
    start rated at one of them (history value ``RATED + l``) adds that level's learned
    offset to the query vector (0 at start): a movie the user rated low is evidence of
    another kind than one they loved. With ``dropout``, training zeroes each channel of an
    item's features with that probability (and scales the rest up), before the score head
    and the dot product; scoring never does.

    Args:
        node_types: the graph's node types (:attr:`PathGraph.node_types`).
        edge_types: its edge types.
        num_items: item nodes.
        dim: channels per node and query.
        num_layers: message-passing layers, one hop each (4 reach
            item -> user -> item -> user -> item).
        item_embeddings: learn a vector per item for the score.
        num_attribute_values: attribute nodes items link to
            (:attr:`PathGraph.num_attribute_values`).
        attribute_embeddings: learn a vector and a bias per attribute value for the score
            (nothing to learn when ``num_attribute_values`` is 0).
        rated_levels: the ratings whose starts add an offset of their own
            (:func:`rated_levels`; the history values ``RATED + l``, :func:`mark_ratings`),
            kept to mark a served graph alike; empty: every start is alike.
        dropout: the probability that training zeroes a channel of an item's features
            (0: never).
    """

    def __init__(self, node_types: Sequence[str], edge_types: Sequence[EdgeType],
                 num_items: int, dim: int = 16, num_layers: int = 4,
                 item_embeddings: bool = True, num_attribute_values: int = 0,
                 attribute_embeddings: bool = False, rated_levels: Sequence[float] = (),
                 dropout: float = 0.0):
        super().__init__()
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), not {dropout}")
        self.dropout = float(dropout)
        self.node_types = tuple(node_types)
        self.edge_types = tuple(tuple(et) for et in edge_types)
        self.dim, self.num_layers = dim, num_layers
        self.query = nn.Parameter(torch.ones(dim))
        self.rated_levels = [float(v) for v in rated_levels]
        #: ``[len(rated_levels), dim]``: the offset of each rated level's starts (None: every
        #: start is alike)
        self.rating_query = (nn.Parameter(torch.zeros(len(self.rated_levels), dim))
                             if self.rated_levels else None)
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
        #: ``[num_attribute_values, width + 1]``: each value's vector, then its bias
        self.content = (nn.Parameter(torch.zeros(num_attribute_values, width + 1))
                        if attribute_embeddings and num_attribute_values > 0 else None)
        self.needed = self._needed_types()
        #: per layer, the node types the next layer reads every node of (none after the
        #: last): item states outside these are computed only for the items scored
        self.sources = [self._layer_sources(self.needed[layer + 1])
                        for layer in range(num_layers - 1)] + [set()]
        self._init_kwargs = {"node_types": list(self.node_types),
                             "edge_types": [list(et) for et in self.edge_types],
                             "num_items": num_items, "dim": dim, "num_layers": num_layers,
                             "item_embeddings": item_embeddings,
                             "num_attribute_values": num_attribute_values,
                             "attribute_embeddings": attribute_embeddings,
                             "rated_levels": list(self.rated_levels), "dropout": self.dropout}

    def add_items(self, count: int) -> None:
        """Make room for ``count`` items appended to the graph (serving new items): their
        learned vectors are 0, as for every item without interactions, which the score never
        reads (:attr:`PathGraph.trained_items`)."""
        self._init_kwargs["num_items"] += count
        if self.item_emb is not None:
            grown = torch.cat([self.item_emb.data, self.item_emb.new_zeros(count,
                                                                           self.item_emb.shape[1])])
            self.item_emb = nn.Parameter(grown, requires_grad=self.item_emb.requires_grad)

    def init_kwargs(self) -> dict:
        """The constructor's arguments, JSON-ready (a run directory's ``model.json``)."""
        return dict(self._init_kwargs)

    def item_states(self, graph: PathGraph, histories: sp.csr_matrix,
                    users: np.ndarray | None = None, items: Tensor | None = None) -> Tensor:
        """``[len(items), B, dim * num_layers]`` item features of ``B`` queries.

        Args:
            histories: ``[B, num_items]`` the items each query starts from (the boundary).
            users: ``[B]`` the queries' user nodes, whose states are zeroed (None: users not
                in the graph, nothing to cut).
            items: ``[n]`` the item nodes whose features are wanted (None: every item).

        Each layer computes, per node type ``t``, ``sum_r A_r (h_r * w_r) W_t^T + b_t``
        (:class:`PathGNN`) as ``sum_r A_r (h_r M_r)`` or ``(A_r h_r) M_r`` with
        ``M_r = diag(w_r) W_t^T``, the ``[dim, dim]`` product on the side of ``A_r`` with
        fewer nodes; on the first layer the items hold only the boundary (the query vector
        on each query's items), so ``A_r`` multiplies the ``[num_items, B]`` histories and
        the vector follows as an outer product. When scoring (gradients off), the item
        states that feed no later layer (the last layer's, and any layer's whose items send
        to no type the next layer needs, :attr:`sources`) are computed for ``items`` only:
        the same values, to the bit. Training computes every item's (its gradients would
        otherwise be summed in another order).
        """
        item_type = schema.PYG_ITEM
        b = histories.shape[0]
        device = self.query.device
        # [num_items, K * B]: per kind of start (its vector in _start_vectors), 1 where a
        # query starts so: any stored non-zero (every start, the query vector), and each
        # rated level's starts (its offset); the boundary is the sum of each kind's mask (x)
        # its vector
        dense = sp.csc_matrix(histories).T.toarray()
        kinds = [dense != 0] + [dense == RATED + level
                                for level in range(len(self.rated_levels))]
        masks = torch.as_tensor(np.concatenate(kinds, axis=1).astype(np.float32),
                                device=device)
        cut = None  # (user node, query) of each query's own user
        if users is not None:
            cut = (torch.as_tensor(users, device=device), torch.arange(b, device=device))
        wanted = (torch.arange(graph.num_nodes[item_type], device=device) if items is None
                  else items.to(device))
        # the rows of items computed where no later layer reads the others (None: every row)
        some = (None if torch.is_grad_enabled() or len(wanted) == graph.num_nodes[item_type]
                else wanted)
        # None: the items' state is the boundary alone (no message has reached them yet)
        states: dict[str, Tensor | None] = {t: None for t in self.node_types}
        outputs = [self._boundary(masks.index_select(0, wanted), b)]
        for layer in range(self.num_layers):
            new: dict[str, Tensor | None] = {}
            item_rows = None  # the item rows this layer computes (None: every item's)
            for n, node_type in enumerate(self.node_types):
                if node_type not in self.needed[layer]:
                    new[node_type] = None
                    continue
                rows = (some if node_type == item_type
                        and item_type not in self.sources[layer] else None)
                if node_type == item_type:
                    item_rows = rows
                h = self._incoming(graph, states, masks, layer, n, b, rows)
                if h is None:  # only the boundary (items) or nothing yet
                    new[node_type] = None
                    continue
                h = self.norm[layer][n](h)
                if node_type == schema.PYG_USER and cut is not None:
                    # in place, between the norm (whose backward does not read its output)
                    # and the ReLU (relu(0) = 0): zeroes only the B cut states
                    h[cut] = 0.0
                h = torch.relu_(h)
                if node_type == item_type:
                    h = h + self._boundary(masks if rows is None
                                           else masks.index_select(0, rows), b)
                new[node_type] = h
            states = new
            item_state = states[item_type]
            if item_state is None:  # only the boundary has reached the items
                outputs.append(outputs[0])
            elif item_rows is None:  # every item's state
                outputs.append(item_state.index_select(0, wanted))
            else:  # the wanted rows' only
                outputs.append(item_state)
        return torch.cat(outputs[1:], dim=-1)

    def _start_vectors(self) -> list[Tensor]:
        """The ``[dim]`` vector of each kind of start, in the order of :meth:`item_states`'s
        masks: the query vector, then each rated level's offset."""
        offsets = [] if self.rating_query is None else list(self.rating_query)
        return [self.query] + offsets

    def _boundary(self, masks: Tensor, b: int) -> Tensor:
        """``[n, B, dim]``: the boundary of ``B`` queries on ``n`` items, from their masks
        ``[n, K * B]`` (:meth:`item_states`): each kind's mask (x) its vector, summed."""
        vectors = torch.stack(self._start_vectors())  # [K, dim]
        return torch.einsum("nkb,kd->nbd", masks.reshape(masks.shape[0], -1, b), vectors)

    def _incoming(self, graph: PathGraph, states: dict[str, Tensor | None], masks: Tensor,
                  layer: int, n: int, b: int, rows: Tensor | None = None) -> Tensor | None:
        """``[num_nodes, B, dim]``: the updated (pre-norm) messages into node type ``n`` at
        ``layer``, or None when nothing reaches it (``masks``: ``[num_items, K * B]``, where
        the queries start, per kind of start, :meth:`_start_vectors`; ``rows``: only those
        nodes', ``[len(rows), B, dim]``, with the same values; None: every node's). The
        products on the smaller (source) side go first, so that each sparse product adds onto
        the sum so far (the bias at first) in one pass; those on the larger side then add
        through a dense ``addmm``."""
        dst, d = self.node_types[n], self.dim
        num_dst, update = graph.num_nodes[dst], self.update[layer][n]
        before, after, boundary = [], [], []
        for k, et in enumerate(self.edge_types):
            src = states[et[0]]
            if et[2] != dst or (src is None and et[0] != schema.PYG_ITEM):
                continue  # another type's edge, or a source no message has reached yet
            fold = self.relation[layer, k].unsqueeze(1) * update.weight.T  # diag(w_r) W^T
            if src is None:  # the items' boundary alone
                boundary.append((et, fold))
            else:
                (before if src.shape[0] <= num_dst else after).append((et, src, fold))
        if not (before or after or boundary):
            return None
        total = None  # the sum so far, bias included; None: the bias alone
        for et, src, fold in before:
            moved = (src.reshape(-1, d) @ fold).reshape(src.shape[0], b * d)
            total = sparse_mm(graph.adjacency[et], graph.transposed[et], moved,
                              update.bias.repeat(b) if total is None else total, rows)
        for et, fold in boundary:
            # the boundary alone: A (mask (x) q) M = (A mask) (x) (q M) for each kind of
            # start, every kind's mask through A in one pass
            reached = sparse_mm(graph.adjacency[et], graph.transposed[et], masks, rows=rows)
            for k, vector in enumerate(self._start_vectors()):
                total = torch.addcmul(
                    update.bias if total is None else total.reshape(-1, b, d),
                    reached[:, k * b:(k + 1) * b].unsqueeze(-1), vector @ fold)
        for et, src, fold in after:
            moved = sparse_mm(graph.adjacency[et], graph.transposed[et],
                              src.reshape(src.shape[0], b * d), rows=rows)
            total = torch.addmm(update.bias if total is None else total.reshape(-1, d),
                                moved.reshape(-1, d), fold)
        return total.reshape(num_dst if rows is None else len(rows), b, d)

    def _needed_types(self) -> list[set[str]]:
        """Per layer, the node types whose states a later layer or the output reads (items
        after every layer; before the last, only the types that send to a needed type)."""
        needed = [{schema.PYG_ITEM} for _ in range(self.num_layers)]
        for layer in range(self.num_layers - 2, -1, -1):
            needed[layer] |= self._layer_sources(needed[layer + 1])
        return needed

    def _layer_sources(self, needed: set[str]) -> set[str]:
        """The node types that send to a type of ``needed`` (the types the next layer
        computes): whose every node's state that next layer reads."""
        return {src for src, _, dst in self.edge_types if dst in needed}

    def forward(self, graph: PathGraph, histories: sp.csr_matrix, items: Tensor,
                users: np.ndarray | None = None) -> Tensor:
        """``[B, len(items)]`` scores of ``items`` for the queries (see :meth:`item_states`)."""
        features = self.item_states(graph, histories, users, items)  # [n, B, width]
        if self.dropout > 0:
            features = nn.functional.dropout(features, self.dropout, self.training)
        scores = self.head(features).squeeze(-1)
        own = None
        if self.item_emb is not None:
            own = self.item_emb[items] * graph.trained_items[items].unsqueeze(1).to(
                features.device)
        if self.content is not None:
            if graph.num_attribute_values != self.content.shape[0]:
                raise ValueError(f"the graph's items link to {graph.num_attribute_values} "
                                 f"attribute values, the model has {self.content.shape[0]}")
            content = sparse_mm(graph.item_content, graph.item_content_t,
                                self.content).index_select(0, items)  # [n, width + 1]
            own = content[:, :-1] if own is None else own + content[:, :-1]
            scores = scores + content[:, -1:]
        if own is not None:
            scores = scores + (features * own.unsqueeze(1)).sum(-1)
        return scores.T
