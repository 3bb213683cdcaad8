"""Heterogeneous LightGCN: parameter-free propagation over every edge type of the KG.

LightGCN (He et al., SIGIR 2020) smooths id embeddings over the user-item graph with the
symmetric normalisation ``D^-1/2 A D^-1/2`` and averages the layer outputs. Here the same
propagation runs over each edge type of the heterogeneous graph (user-item, item-attribute,
user-attribute, item-scenario, item-item links, each with its reverse; an edge type with an
``edge_weight`` uses the weighted form); a node's new embedding is the mean over the edge types
that reach it. Items are therefore encoded from their
attributes as well as their id, and a user is served in a scenario from interactions in any
other (see :class:`graphrec.models.base.GraphModel` for cold-start nodes).
"""

from __future__ import annotations

import warnings

import torch
from torch import Tensor, nn

from graphrec.data.graph import edge_weight
from graphrec.models.base import GraphModel
from graphrec.pyg import HeteroData

EdgeType = tuple[str, str, str]


#: edges from which an adjacency is stored as CSR instead of COO. Measured forward + backward of
#: one propagation on this 2-core CPU: MovieLens-1M 0.019 s (COO) vs 0.022 s (CSR); the
#: synthetic graph of 10^6 interactions 0.15 s either way; of 10^7, 4.28 s vs 3.38 s
CSR_MIN_EDGES = 2_000_000


def normalized_adjacency(edge_index: Tensor, num_src: int, num_dst: int,
                         edge_weight: Tensor | None = None) -> Tensor:
    """Sparse ``[num_dst, num_src]`` matrix with entries ``1/sqrt(deg_src * deg_dst)``: COO,
    or CSR from :data:`CSR_MIN_EDGES` edges on, where it multiplies faster.

    With ``edge_weight`` (``[E]``, > 0) the weighted form: ``w / sqrt(W_src * W_dst)``, ``W``
    a node's summed weights (equal to the above when every weight is 1)."""
    src, dst = edge_index
    weight = (torch.ones(src.numel(), device=edge_index.device) if edge_weight is None
              else edge_weight.to(edge_index.device, torch.float32))
    deg_src = torch.zeros(num_src, device=edge_index.device).index_add_(0, src, weight)
    deg_dst = torch.zeros(num_dst, device=edge_index.device).index_add_(0, dst, weight)
    values = weight * (deg_src[src] * deg_dst[dst]).clamp(min=1e-12).rsqrt()
    coo = torch.sparse_coo_tensor(torch.stack([dst, src]), values, (num_dst, num_src),
                                  check_invariants=False).coalesce()
    if coo._nnz() < CSR_MIN_EDGES:
        return coo
    # CSR: the same matrix; torch calls its CSR layout "beta" in a notice, silenced here only
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Sparse CSR tensor support is in beta",
                                category=UserWarning)
        return coo.to_sparse_csr()


class HeteroLightGCN(GraphModel):
    """Id embeddings for every node type, LightGCN propagation over every edge type.

    Args:
        relation_weights: edge types whose share of a node's message is learned: each gets a
            logit (0 at start), and a node's message is the softmax-weighted sum over the edge
            types reaching it instead of their plain mean (equal at start). Lets training
            weigh, say, the co-interaction links against the scenario node. None: the plain
            mean, no extra parameters.
        (others: :class:`GraphModel`)
    """

    def __init__(self, num_nodes: dict[str, int], *,
                 relation_weights: list[list[str]] | None = None, **kwargs):
        super().__init__(num_nodes, **kwargs)
        self.relation_types = ([tuple(et) for et in relation_weights]
                               if relation_weights else None)
        if self.relation_types:
            self.relation_logits = nn.Parameter(torch.zeros(len(self.relation_types)))
            self._relation_index = {et: n for n, et in enumerate(self.relation_types)}

    def init_kwargs(self) -> dict:
        relations = ([list(et) for et in self.relation_types] if self.relation_types
                     else None)
        return {**super().init_kwargs(), "relation_weights": relations}

    def relation_shares(self, cache: dict[EdgeType, Tensor]) -> dict[EdgeType, Tensor]:
        """With ``relation_weights``: each edge type's share of its destination's message, the
        softmax of the logits of the edge types reaching that destination (an edge type
        without a logit counts with logit 0)."""
        by_dst: dict[str, list[EdgeType]] = {}
        for et in cache:
            by_dst.setdefault(et[2], []).append(et)
        zero = torch.zeros((), device=self._device())
        shares = {}
        for types in by_dst.values():
            logits = torch.stack([self.relation_logits[self._relation_index[et]]
                                  if et in self._relation_index else zero for et in types])
            shares.update(zip(types, torch.softmax(logits, 0), strict=True))
        return shares

    def prepare(self, data: HeteroData) -> dict[EdgeType, Tensor]:
        device = self._device()
        return {et: normalized_adjacency(data[et].edge_index.to(device), data[et[0]].num_nodes,
                                         data[et[2]].num_nodes, edge_weight(data, et))
                for et in data.edge_types if data[et].edge_index.numel()}

    def propagate(self, x: dict[str, Tensor], cache: dict[EdgeType, Tensor]
                  ) -> dict[str, Tensor]:
        total = dict(x)
        shares = self.relation_shares(cache) if self.relation_types else None
        # a destination's message: the mean over the edge types reaching it, or with
        # relation_weights their shares' weighted sum (the shares sum to 1: divide by 1)
        divisor: dict[str, int] = {}
        for _, _, dst in cache:
            divisor[dst] = 1 if shares is not None else divisor.get(dst, 0) + 1
        for _ in range(self.num_layers):
            sums: dict[str, Tensor] = {}
            for et, adj in cache.items():
                msg = adj @ x[et[0]]
                if shares is not None:
                    msg = shares[et] * msg
                sums[et[2]] = sums[et[2]] + msg if et[2] in sums else msg
            x = {t: sums[t] / divisor[t] if t in sums else x[t] for t in x}
            total = {t: total[t] + x[t] for t in total}
        return {t: v / (self.num_layers + 1) for t, v in total.items()}
