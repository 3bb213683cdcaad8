"""Approximate top-k search over one scenario's items: an inverted-file (IVF) index.

Exact serving scores every candidate: a batch of 1,000 users over 100,000 items writes and
ranks 10^8 scores, which bounds a 2-core machine at a few thousand users per second however
the product is tiled. An inverted file scores far fewer: k-means groups the items into
``clusters`` cells, a query scores the cells' centroids, and only the items of its ``probes``
best cells compete. The answer is exact within those cells; what it can miss is a top item in
a cell the query did not probe (``benchmarks.system`` reports the recall against exact search).

Cells are found with k-means on the Euclidean distance (Lloyd's algorithm, seeded, a fixed
number of rounds); queries rank cells by the dot product with their centroid, as the model
ranks items. With normalised item embeddings (the softmax default) this is the usual
spherical IVF; with free norms it is the usual approximation for maximum inner product.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from graphrec.serving.ranking import merge_top_k, top_k

#: k-means rounds when the index is built
ROUNDS = 10
#: cells probed per query when the caller does not say
DEFAULT_PROBES = 16
#: items scored at once while assigning items to cells during k-means
_ASSIGN_CHUNK = 16384


def default_clusters(n_items: int) -> int:
    """``round(sqrt(n))`` cells (at least 1): cells of about ``sqrt(n)`` items, so probing
    costs about the same as ranking the centroids."""
    return max(1, round(math.sqrt(n_items)))


def _nearest(points: Tensor, centroids: Tensor) -> Tensor:
    """``[n]`` index of each point's nearest centroid (squared Euclidean distance)."""
    half_norm = 0.5 * (centroids * centroids).sum(1)
    out = torch.empty(len(points), dtype=torch.long)
    for start in range(0, len(points), _ASSIGN_CHUNK):
        part = points[start:start + _ASSIGN_CHUNK]
        # argmin |x - c|^2 = argmax x.c - |c|^2 / 2
        out[start:start + len(part)] = (part @ centroids.T - half_norm).argmax(1)
    return out


class ClusterIndex:
    """An IVF index over ``items`` (``[n, dim]``, the candidates of one scenario in candidate
    order); :meth:`search` returns candidate positions.

    Args:
        items: candidate embeddings.
        clusters: number of cells (default :func:`default_clusters`; at most ``n``).
        seed: seeds the choice of the first centroids, so an index is the same on every build.
    """

    def __init__(self, items: Tensor, clusters: int | None = None, seed: int = 0):
        if items.dim() != 2 or len(items) == 0:
            raise ValueError(f"items must be a non-empty [n, dim] matrix, not {tuple(items.shape)}")
        items = items.detach().float()
        n = len(items)
        clusters = min(n, default_clusters(n) if clusters is None else clusters)
        if clusters < 1:
            raise ValueError(f"clusters must be >= 1, not {clusters}")
        gen = torch.Generator().manual_seed(seed)
        centroids = items[torch.randperm(n, generator=gen)[:clusters]].clone()
        assign = _nearest(items, centroids)
        for _ in range(ROUNDS):
            sums = torch.zeros_like(centroids).index_add_(0, assign, items)
            counts = torch.bincount(assign, minlength=clusters)
            filled = counts > 0  # an empty cell keeps its centroid
            centroids[filled] = sums[filled] / counts[filled].unsqueeze(1).float()
            new = _nearest(items, centroids)
            if torch.equal(new, assign):
                break
            assign = new
        self.centroids = centroids
        order = torch.argsort(assign, stable=True)
        sizes = torch.bincount(assign, minlength=clusters).tolist()
        #: per cell: its candidates' positions, and their embeddings transposed ``[dim, size]``
        self.members: list[Tensor] = list(torch.split(order, sizes))
        self.vectors: list[Tensor] = [items[m].T.contiguous() for m in self.members]
        #: per candidate: its cell and its place within the cell
        self.cell = assign
        self.place = torch.empty(n, dtype=torch.long)
        for m in self.members:
            self.place[m] = torch.arange(len(m))

    def __len__(self) -> int:
        return len(self.cell)

    @property
    def clusters(self) -> int:
        return len(self.members)

    def search(self, queries: Tensor, k: int, probes: int = DEFAULT_PROBES,
               exclude: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        """The ``k`` best candidates of each query among its ``probes`` best cells.

        Args:
            queries: ``[B, dim]`` user vectors.
            k: results per query.
            probes: cells searched per query (all cells: exact search).
            exclude: ``(query rows [E], candidate positions [E])`` pairs that must not be
                returned (the users' seen items).

        Returns:
            ``(scores [B, k], positions [B, k])``, best first, equal scores by position
            (:mod:`graphrec.serving.ranking`, as exact serving orders them); where fewer
            than ``k`` candidates are reachable the rest are ``-inf`` and ``-1``.
        """
        if probes < 1:
            raise ValueError(f"probes must be >= 1, not {probes}")
        n_q = len(queries)
        probes = min(probes, self.clusters)
        best_scores = torch.full((n_q, probes, k), -torch.inf)
        best_pos = torch.full((n_q, probes, k), -1, dtype=torch.long)
        if n_q == 0:
            return best_scores[:, 0], best_pos[:, 0]
        probed = torch.topk(queries @ self.centroids.T, probes, dim=1).indices  # [B, p]
        flat = probed.reshape(-1)
        order = torch.argsort(flat, stable=True)
        query_of = torch.arange(n_q).repeat_interleave(probes)[order]
        slot_of = torch.arange(probes).repeat(n_q)[order]
        ends = torch.cumsum(torch.bincount(flat, minlength=self.clusters), 0).tolist()
        starts = [0, *ends[:-1]]
        masking = exclude is not None and len(exclude[0]) > 0
        if masking:  # the excluded pairs, grouped by the cell of their candidate
            ex_cell = self.cell[exclude[1]]
            ex_order = torch.argsort(ex_cell, stable=True)
            ex_query, ex_place = exclude[0][ex_order], self.place[exclude[1]][ex_order]
            ex_ends = torch.cumsum(torch.bincount(ex_cell, minlength=self.clusters), 0).tolist()
            ex_starts = [0, *ex_ends[:-1]]
            row_of = torch.full((n_q,), -1, dtype=torch.long)
        for cell, (start, end) in enumerate(zip(starts, ends, strict=True)):
            size = len(self.members[cell])
            if end == start or size == 0:
                continue
            who, slot = query_of[start:end], slot_of[start:end]
            scores = queries[who] @ self.vectors[cell]  # [queries probing the cell, size]
            if masking and ex_ends[cell] > ex_starts[cell]:
                part = slice(ex_starts[cell], ex_ends[cell])
                row_of[who] = torch.arange(len(who))
                rows = row_of[ex_query[part]]
                hit = rows >= 0
                scores[rows[hit], ex_place[part][hit]] = -torch.inf
                row_of[who] = -1
            # a cell's members are in position order, so its ties fall by position
            values, columns = top_k(scores, k)
            width = values.shape[1]
            best_scores[who, slot, :width] = values
            best_pos[who, slot, :width] = self.members[cell][columns]
        values, positions = merge_top_k(best_scores.reshape(n_q, -1),
                                        best_pos.reshape(n_q, -1), k)
        positions[~torch.isfinite(values)] = -1
        return values, positions
