"""The objective of the conditional GNN: recover a user's hidden target items from the rest.

Each training query is a user whose target-scenario training items are split into a hidden
set (the positives) and the visible rest, which together with the user's items in every other
scenario is where :class:`~graphrec.models.path_gnn.PathGNN` starts. Two kinds of query train
the two situations met at test time:

- **cold** (a bridge user, with items in the target and elsewhere): every target item is
  hidden, so the target is reached only from the other scenarios, as for a cold-start user;
- **warm** (a user with at least two target items): a random half of them is hidden (at least
  one, at most all but one), as for a user whose next target item is asked for.

Bridge users become cold queries with probability ``cold_share`` (the share of the target's
validation users who are cold in it, as the bridge simulation of the embedding models uses),
and warm queries are added in proportion ``(1 - cold_share) / cold_share`` to them (all of
them when ``cold_share`` is 0), at most ``max_queries`` per epoch in all. The loss is the
softmax over every target item, averaged over a batch's hidden items.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from graphrec.errors import TrainingError
from graphrec.models.path_gnn import PathGraph
from graphrec.training import distributed


@dataclass
class QueryBatch:
    """``B`` queries: their user nodes, where they start and what they must find.

    Attributes:
        users: ``[B]`` user nodes (cut from their own propagation).
        histories: ``[B, num_items]`` CSR, the visible items.
        hidden: ``[B, num_target_items]`` CSR, the hidden target items (positives), by their
            position in the objective's ``target_items``.
    """

    users: np.ndarray
    histories: sp.csr_matrix
    hidden: sp.csr_matrix

    def __len__(self) -> int:
        return len(self.users)


class QueryObjective:
    """Hidden-item queries for :class:`~graphrec.models.path_gnn.PathGNN` (module docstring).

    Args:
        graph: the prepared graph (its ``history`` holds every user's training items).
        target_items: ``[T]`` item nodes of the target scenario (the softmax's candidates).
        cold_share: the probability that a bridge user is a cold query, in [0, 1].
        batch_size: queries per optimiser step.
        max_queries: the most queries per epoch (None: no limit).
    """

    def __init__(self, graph: PathGraph, target_items: np.ndarray, cold_share: float,
                 batch_size: int, max_queries: int | None = None):
        self.history = graph.history
        self.target_items = np.asarray(target_items, dtype=np.int64)
        self.candidates = torch.as_tensor(self.target_items)
        is_target = np.zeros(self.history.shape[1], dtype=bool)
        is_target[self.target_items] = True
        self.is_target = is_target
        in_target = self.history[:, self.target_items].getnnz(axis=1)
        elsewhere = self.history[:, ~is_target].getnnz(axis=1)
        #: users with target items and items elsewhere (cold query candidates)
        self.bridge = np.flatnonzero((in_target > 0) & (elsewhere > 0))
        #: users with at least two target items (warm query candidates)
        self.warm = np.flatnonzero(in_target >= 2)
        self.cold_share = float(cold_share)
        if len(self.bridge) == 0 and len(self.warm) == 0:
            raise TrainingError("no training queries: no user has target items beside other "
                                "items (cold) or two target items (warm)")
        self.batch_size, self.max_queries = batch_size, max_queries
        self.position = np.full(self.history.shape[1], -1, dtype=np.int64)
        self.position[self.target_items] = np.arange(len(self.target_items))

    def draw(self, gen: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """``(users, cold)``: one epoch's queries in their order and whether each is cold."""
        cold = self.bridge[gen.random(len(self.bridge)) < self.cold_share]
        pool = np.setdiff1d(self.warm, cold)
        if self.cold_share <= 0 or len(cold) == 0:
            n_warm = len(pool)
        else:
            n_warm = min(len(pool), round(len(cold) * (1 - self.cold_share) / self.cold_share))
        warm = gen.choice(pool, n_warm, replace=False) if n_warm < len(pool) else pool
        users = np.concatenate([cold, warm])
        is_cold = np.concatenate([np.ones(len(cold), bool), np.zeros(len(warm), bool)])
        order = gen.permutation(len(users))[:self.max_queries]
        return users[order], is_cold[order]

    def batch(self, users: np.ndarray, cold: np.ndarray, gen: np.random.Generator
              ) -> QueryBatch:
        """The visible and hidden items of ``users`` (cold: every target item hidden; warm: a
        random half, at least one and all but one)."""
        rows = self.history[users]
        hidden_rows, hidden_cols = [], []
        keep = np.ones(rows.nnz, dtype=bool)
        for r in range(len(users)):
            start, end = rows.indptr[r], rows.indptr[r + 1]
            target = np.flatnonzero(self.is_target[rows.indices[start:end]]) + start
            if cold[r]:
                chosen = target
            else:
                n = min(max(1, len(target) // 2), len(target) - 1)
                chosen = gen.choice(target, n, replace=False)
            keep[chosen] = False
            hidden_rows.append(np.full(len(chosen), r))
            hidden_cols.append(self.position[rows.indices[chosen]])
        coo = rows.tocoo()  # CSR order: keep lines up with coo's entries
        visible = sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])),
                                shape=rows.shape)
        hidden_r, hidden_c = np.concatenate(hidden_rows), np.concatenate(hidden_cols)
        hidden = sp.csr_matrix((np.ones(len(hidden_r), dtype=np.float32),
                                (hidden_r, hidden_c)), shape=(len(users), len(self.target_items)))
        return QueryBatch(np.asarray(users), visible, hidden)

    def epoch_batches(self, model: nn.Module, graph: PathGraph,
                      gen: np.random.Generator) -> Sequence[QueryBatch]:
        users, cold = self.draw(gen)
        return [self.batch(users[s:s + self.batch_size], cold[s:s + self.batch_size], gen)
                for s in range(0, len(users), self.batch_size)]

    def backward(self, model: nn.Module, graph: PathGraph, batch: QueryBatch
                 ) -> tuple[float, int]:
        """Softmax over the target items; this process's share of the batch's mean loss over
        its hidden items."""
        part = distributed.shard(torch.arange(len(batch))).numpy()
        total = max(batch.hidden.nnz, 1)
        if len(part) == 0:
            return 0.0, len(batch)
        device = next(model.parameters()).device
        logits = model(graph, batch.histories[part], self.candidates.to(device),
                       batch.users[part])
        hidden = batch.hidden[part].tocoo()
        log_p = torch.log_softmax(logits, dim=1)
        picked = log_p[torch.as_tensor(hidden.row, device=device),
                       torch.as_tensor(hidden.col, device=device)]
        loss = -picked.sum() / total
        loss.backward()
        return loss.item(), len(batch)
