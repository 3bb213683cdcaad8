"""Top-k selection with one tie rule for every serving path.

Items the model cannot tell apart score exactly the same (two cold-start items with the same
attributes have the same embedding), and ``torch.topk`` orders such ties as its kernel
happens to. Serving must not: exact and approximate search, and one call and the next, must
return the same list. Here equal scores are ordered by the candidate's position (the earlier
one first), at the cut of the top ``k`` as well as within it.
"""

from __future__ import annotations

import torch
from torch import Tensor


def top_k(scores: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` best columns of each row of ``scores`` ``[B, N]``, ties by column.

    Returns:
        ``(values [B, k], columns [B, k])``, best first; equal values in column order.
    """
    k = min(k, scores.shape[1])
    if k == 0 or scores.shape[0] == 0:
        return scores[:, :0], torch.zeros(scores.shape[0], 0, dtype=torch.long)
    cut = torch.topk(scores, k, dim=1).values[:, -1:]  # [B, 1], the k-th best value
    above = scores > cut
    tied = scores == cut
    # of the values equal to the cut, the first (by column) that fill the row up to k
    wanted = k - above.sum(1, keepdim=True)
    chosen = above | (tied & (torch.cumsum(tied, 1) <= wanted))
    columns = torch.nonzero(chosen)[:, 1].reshape(-1, k)  # row-major: ascending columns
    values = scores.gather(1, columns)
    order = torch.argsort(values, dim=1, descending=True, stable=True)
    return values.gather(1, order), columns.gather(1, order)


def merge_top_k(scores: Tensor, positions: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` best of partial lists: ``scores`` and candidate ``positions`` ``[B, M]``
    (``-1``: an empty slot, score ``-inf``), ties by position as :func:`top_k` orders them.

    Returns:
        ``(values [B, k], positions [B, k])``, best first.
    """
    k = min(k, scores.shape[1])
    key = torch.where(positions < 0, torch.iinfo(torch.long).max, positions)
    by_position = torch.argsort(key, dim=1, stable=True)
    scores, positions = scores.gather(1, by_position), positions.gather(1, by_position)
    order = torch.argsort(scores, dim=1, descending=True, stable=True)[:, :k]
    return scores.gather(1, order), positions.gather(1, order)
