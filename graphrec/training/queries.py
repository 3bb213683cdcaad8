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

A third kind trains the situation of a cold-start *item* (one with attributes and no
interaction), when ``cold_item_share`` > 0:

- **cold-item** (a user who took one of this epoch's cold items): each epoch a random
  ``cold_item_pool`` share of the target's trained items loses every interaction edge in the
  graph these queries run on (:func:`~graphrec.training.cold_items.without_item_interactions`,
  rebuilt by the objective's ``hide``), so those items are reached only through their
  attributes, and their learned item vectors are off; the user starts from their other items
  and must find their cold ones, in a softmax over the epoch's cold items only, as a
  cold-start item is ranked among the other cold ones (the MetaHIN protocol).

They make up ``cold_item_share`` of an epoch's queries (the strategy's default: the share of
the target's validation interactions whose item has no training interaction), in batches of
their own; the other queries run on the whole graph as above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from graphrec.errors import TrainingError
from graphrec.models.path_gnn import PathGraph, queries_per_pass
from graphrec.training import distributed
from graphrec.training.memory import available_bytes

logger = logging.getLogger(__name__)


def queries_in_memory(model: nn.Module, graph: PathGraph, training: bool) -> int | None:
    """:func:`~graphrec.models.path_gnn.queries_per_pass` of a ``PathGNN`` over ``graph``
    in the memory left on the model's device (None: not known)."""
    device = next(model.parameters()).device
    return queries_per_pass(graph.total_nodes, model.dim, model.num_layers,
                            available_bytes(device), training)


@dataclass
class QueryBatch:
    """``B`` queries: their user nodes, where they start and what they must find.

    Attributes:
        users: ``[B]`` user nodes (cut from their own propagation).
        histories: ``[B, num_items]`` CSR, the visible items.
        hidden: ``[B, len(candidates)]`` CSR, the hidden items (positives), by their
            position in ``candidates``.
        candidates: ``[C]`` the item nodes the softmax runs over (None: the objective's
            target items).
        graph: the graph the batch propagates over (None: the trainer's whole graph; a
            cold-item batch's epoch graph otherwise).
    """

    users: np.ndarray
    histories: sp.csr_matrix
    hidden: sp.csr_matrix
    candidates: np.ndarray | None = None
    graph: PathGraph | None = None

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
        cold_item_share: the share of an epoch's queries that are cold-item queries, in
            [0, 1] (0: none; module docstring).
        cold_item_pool: the share of the target's trained items made cold for them in each
            epoch, in (0, 1).
        hide: ``[num_items]`` bool (True: made cold) -> the graph without those items'
            interaction edges, prepared and on the model's device (needed when
            ``cold_item_share`` > 0).
        per_pass: the most queries of a batch that one forward and backward pass holds
            (the batch's gradient is the sum over its passes, the same as one pass); None:
            as many as half the memory left at the first step allows
            (:func:`~graphrec.models.path_gnn.queries_per_pass`; every query of a batch on
            the benchmarks' data sets).
    """

    def __init__(self, graph: PathGraph, target_items: np.ndarray, cold_share: float,
                 batch_size: int, max_queries: int | None = None,
                 cold_item_share: float = 0.0, cold_item_pool: float = 0.2,
                 hide: Callable[[torch.Tensor], PathGraph] | None = None,
                 per_pass: int | None = None):
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
        if not 0.0 <= cold_item_share <= 1.0:
            raise ValueError(f"cold_item_share must be in [0, 1], not {cold_item_share}")
        if not 0.0 < cold_item_pool < 1.0:
            raise ValueError(f"cold_item_pool must be in (0, 1), not {cold_item_pool}")
        #: the target's items with training interactions (those a cold-item query can hide)
        self.trained_items = self.target_items[
            graph.trained_items.cpu().numpy()[self.target_items]]
        self.cold_item_share = float(cold_item_share) if len(self.trained_items) >= 2 else 0.0
        if self.cold_item_share > 0 and hide is None:
            raise ValueError("cold-item queries need hide, the graph without some items")
        self.cold_item_pool, self.hide = cold_item_pool, hide
        if per_pass is not None and per_pass < 1:
            raise ValueError(f"per_pass must be at least 1, not {per_pass}")
        self.per_pass = per_pass

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
        if self.cold_item_share >= 1:
            return self.cold_item_batches(gen, 0)
        users, cold = self.draw(gen)
        if self.cold_item_share <= 0:
            return [self.batch(users[s:s + self.batch_size], cold[s:s + self.batch_size], gen)
                    for s in range(0, len(users), self.batch_size)]
        item_batches = self.cold_item_batches(gen, len(users))
        taken = sum(len(b) for b in item_batches)
        budget = self.max_queries if self.max_queries is not None else len(users) + taken
        users, cold = users[:max(0, budget - taken)], cold[:max(0, budget - taken)]
        batches = item_batches + [
            self.batch(users[s:s + self.batch_size], cold[s:s + self.batch_size], gen)
            for s in range(0, len(users), self.batch_size)]
        return [batches[i] for i in gen.permutation(len(batches))]

    def cold_item_batches(self, gen: np.random.Generator, others: int) -> list[QueryBatch]:
        """One epoch's cold-item queries (module docstring): a random ``cold_item_pool`` of
        the trained target items made cold, and ``cold_item_share`` of the epoch's queries
        (``others``: how many other queries the epoch holds) from the users who took one of them
        and took something else, in batches sharing the epoch graph."""
        count = min(len(self.trained_items) - 1,
                    max(1, round(self.cold_item_pool * len(self.trained_items))))
        cold_items = np.sort(gen.choice(self.trained_items, count, replace=False))
        taken = self.history[:, cold_items]
        rest = self.history.getnnz(axis=1) - taken.getnnz(axis=1)
        pool = np.flatnonzero((taken.getnnz(axis=1) > 0) & (rest > 0))
        p = self.cold_item_share
        if p >= 1:
            wanted = len(pool)
        elif self.max_queries is not None:
            wanted = round(p * self.max_queries)
        else:  # in proportion p / (1 - p) to the other queries
            wanted = round(others * p / (1 - p))
        if self.max_queries is not None:
            wanted = min(wanted, self.max_queries)
        users = gen.permutation(pool)[:wanted]
        if len(users) == 0:
            return []
        hidden = torch.zeros(self.history.shape[1], dtype=torch.bool)
        hidden[torch.as_tensor(cold_items)] = True
        epoch_graph = self.hide(hidden)
        out = []
        for s in range(0, len(users), self.batch_size):
            part = users[s:s + self.batch_size]
            positives = taken[part]
            positives = sp.csr_matrix((np.ones(positives.nnz, dtype=np.float32),
                                       positives.indices, positives.indptr),
                                      shape=positives.shape)
            out.append(QueryBatch(part, epoch_graph.history[part], positives, cold_items,
                                  epoch_graph))
        return out

    def backward(self, model: nn.Module, graph: PathGraph, batch: QueryBatch
                 ) -> tuple[float, int]:
        """Softmax over the batch's candidates (the target items, or a cold-item batch's cold
        items); this process's share of the batch's mean loss over its hidden items, in
        passes of at most :attr:`per_pass` queries whose gradients add up."""
        part = distributed.shard(torch.arange(len(batch))).numpy()
        total = max(batch.hidden.nnz, 1)
        if len(part) == 0:
            return 0.0, len(batch)
        device = next(model.parameters()).device
        candidates = (self.candidates if batch.candidates is None
                      else torch.as_tensor(batch.candidates)).to(device)
        on = batch.graph or graph
        step = self._per_pass(model, on, len(part))
        value = 0.0
        for s in range(0, len(part), step):
            rows = part[s:s + step]
            logits = model(on, batch.histories[rows], candidates, batch.users[rows])
            hidden = batch.hidden[rows].tocoo()
            log_p = torch.log_softmax(logits, dim=1)
            picked = log_p[torch.as_tensor(hidden.row, device=device),
                           torch.as_tensor(hidden.col, device=device)]
            loss = -picked.sum() / total
            loss.backward()
            value += loss.item()
        return value, len(batch)

    def _per_pass(self, model: nn.Module, graph: PathGraph, wanted: int) -> int:
        """Queries per pass (:attr:`per_pass`, set from the memory left at the first call),
        at most ``wanted`` (at least 1)."""
        if self.per_pass is None:
            fit = queries_in_memory(model, graph, training=True)
            self.per_pass = self.batch_size if fit is None else fit
            if self.per_pass < self.batch_size:
                logger.info("path-gnn: %d of a batch's %d queries per pass, to fit in memory",
                            self.per_pass, self.batch_size)
        return min(self.per_pass, wanted)
