"""Co-interaction edges weighted by their similarity (validation only).

The ``co_interactions`` edges link each item to its most similar items in every scenario, the
similarity being the cosine of the two items' user columns, as item-kNN scores them; the
heterogeneous LightGCN then propagates over them as over any edge, each with weight 1, so an
item's 20th neighbour counts as much as its first. Here each such edge keeps its cosine as
its weight, with the weighted form of LightGCN's normalisation, ``w_ab / sqrt(W_a W_b)``
(``W`` a node's summed weights over that edge type), so propagation leans on the strong links
as item-kNN does. The weights come from the full training graph's interactions (computed once,
when the training graph is prepared; the bridge simulation's epochs keep them). The patch
applies only inside :func:`patched`; the rows are those of ``benchmarks.levers``:

    python -m benchmarks.weighted_co_edges cdrib-game ../shared/data/cdrib_amazon '{}'
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from benchmarks import levers
from graphrec.data.co_interactions import CO_OCCURS
from graphrec.models.hetero_lightgcn import HeteroLightGCN
from graphrec.pyg import HeteroData
from kg import schema


def edge_cosines(user_item: Tensor, num_users: int, num_items: int, pairs: Tensor) -> Tensor:
    """``[E]`` cosine of the user columns of each item pair ``pairs`` ``[2, E]`` over the
    interaction edges ``user_item`` ``[2, N]`` (a repeated pair counts once)."""
    users, items = user_item.cpu().numpy()
    matrix = sp.csr_matrix((np.ones(len(users), dtype=np.float32), (items, users)),
                           shape=(num_items, num_users))
    matrix.data[:] = 1.0
    degree = np.asarray(matrix.sum(1)).ravel()
    a, b = pairs.cpu().numpy()
    shared = np.asarray(matrix[a].multiply(matrix[b]).sum(1)).ravel()
    norm = np.sqrt(degree[a] * degree[b])
    cos = np.divide(shared, norm, out=np.zeros_like(shared), where=norm > 0)
    return torch.from_numpy(cos.astype(np.float32))


def weighted_adjacency(edge_index: Tensor, weight: Tensor, num_src: int, num_dst: int
                       ) -> Tensor:
    """Sparse ``[num_dst, num_src]`` matrix with entries ``w / sqrt(W_src W_dst)``."""
    src, dst = edge_index
    weight = weight.to(edge_index.device)
    w_src = torch.zeros(num_src, device=weight.device).index_add_(0, src, weight)
    w_dst = torch.zeros(num_dst, device=weight.device).index_add_(0, dst, weight)
    values = weight * (w_src[src] * w_dst[dst]).clamp(min=1e-12).rsqrt()
    return torch.sparse_coo_tensor(torch.stack([dst, src]), values, (num_dst, num_src),
                                   check_invariants=False).coalesce()


def is_co_edge(edge_type: tuple[str, str, str]) -> bool:
    src, rel, dst = edge_type
    return src == dst == schema.PYG_ITEM and rel in (CO_OCCURS, "rev_" + CO_OCCURS)


@contextmanager
def patched() -> Iterator[None]:
    """:class:`HeteroLightGCN` propagates over weighted co-interaction edges inside the
    ``with`` only. Weights are kept per edge tensor, so a simulated epoch graph (which
    shares the training graph's co-interaction edges) reuses the training graph's."""
    prepare = HeteroLightGCN.prepare
    weights: dict[int, Tensor] = {}

    def weighted_prepare(self, data: HeteroData):
        cache = prepare(self, data)
        for et in list(cache):
            if not is_co_edge(et):
                continue
            edge_index = data[et].edge_index
            key = edge_index.data_ptr()
            if key not in weights:
                weights[key] = edge_cosines(data[schema.USER_ITEM].edge_index,
                                            data[schema.PYG_USER].num_nodes,
                                            data[schema.PYG_ITEM].num_nodes, edge_index)
            cache[et] = weighted_adjacency(edge_index.to(self._device()), weights[key],
                                           data[et[0]].num_nodes, data[et[2]].num_nodes)
        return cache

    HeteroLightGCN.prepare = weighted_prepare
    try:
        yield
    finally:
        HeteroLightGCN.prepare = prepare


def main(argv: list[str] | None = None) -> None:
    with patched():
        levers.main(sys.argv[1:] if argv is None else argv)


if __name__ == "__main__":
    main()
