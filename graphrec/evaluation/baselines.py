"""Baselines that need no gradient training, registered by name beside the transfer strategies.

Each is fitted from the canonical tables and the graph's id maps and scores (user, item)
pairs, so :func:`graphrec.evaluate.evaluate` ranks them exactly like the learned models.

- ``popularity``: an item's number of training interactions (ties broken by a seeded jitter
  far below one interaction).
- ``attribute-popularity``: the mean training frequency of the item's attributes (the number
  of training interactions with items that share the attribute); items without attributes
  score 0. Serves cold-start items.
- ``content-popularity``: an item's popularity, ``log(1 + n)`` of its ``n`` training
  interactions, and for an item without any (a cold-start item) the popularity its attribute
  values predict: a ridge regression of ``log(1 + n)`` on the binary attribute values, fitted
  on the items with interactions. Where ``attribute-popularity`` averages the values'
  frequencies by hand, this learns what each value is worth (a star's name, a brand), so it
  is the popularity baseline of cold-start items. Its one setting, the ridge weight ``l2``,
  is chosen on validation by the ``content-popularity`` strategy.
- ``item-knn``: item-based collaborative filtering (Sarwar et al., WWW 2001) with cosine
  similarity of the items' user columns: score(u, i) = sum over the user's training items j
  (in any scenario) of cos(j, i). Items of two scenarios are similar through shared users, so
  cold-start users of a scenario are served from their other scenarios.
- ``attribute-knn``: the same with the items' attribute vectors (every attribute kind; each
  value weighs 1, or its inverse document frequency, ``weighting="idf"``) instead of user
  columns: a content profile, able to rank cold-start items. The ``attribute-knn`` strategy
  chooses the weighting on validation.
- ``ease``: a linear item-item model in closed form (EASE, Steck, WWW 2019): the weights ``B``
  that best rebuild the user-item matrix ``X`` from itself, ``min ||X - X B||^2 + l2 ||B||^2``
  with ``diag(B) = 0``; score(u, i) = sum over the user's training items j of B[j, i]. Where
  item-kNN adds up independent cosines, EASE discounts items that only repeat what the user's
  other items already say. Its one setting, ``l2``, is chosen on validation by the ``ease``
  strategy.

Matrix factorisation with BPR is the ``mf`` model (:mod:`graphrec.models.mf`), trained by the
same strategies as the graph models.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex
from graphrec.errors import ConfigError
from graphrec.evaluation.harness import pairs_through_block
from kg.registry import resolve
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

#: the most items (with interactions) :class:`EASE` inverts a Gram matrix of by default
MAX_EASE_ITEMS = 30_000


def _train_interactions(tables: KGTables, train_splits: tuple[str, ...]) -> pd.DataFrame:
    inter = tables.interactions
    return inter[inter["split"].isin(train_splits)]


def _user_item_matrix(tables: KGTables, index: GraphIndex, train_splits: tuple[str, ...]
                      ) -> sp.csr_matrix:
    """``[num_users, num_items]`` binary matrix of training interactions."""
    train = _train_interactions(tables, train_splits)
    rows = index.index("user", train["user_id"])
    cols = index.index("item", train["item_id"])
    shape = (len(index.ids["user"]), len(index.ids["item"]))
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)), shape=shape)
    matrix.data[:] = 1.0  # a repeated pair counts once
    return matrix


#: how ``attribute-knn`` weighs an attribute value: ``binary`` (every value 1) or ``idf``
#: (``log(items / items with the value)``: a director with three movies outweighs a genre
#: with a thousand; a value every item has weighs 0)
ATTRIBUTE_WEIGHTINGS = ("binary", "idf")


def _item_attribute_matrix(tables: KGTables, index: GraphIndex,
                           weighting: str = "binary") -> sp.csr_matrix:
    """``[num_items, num_attribute_values]`` matrix over every attribute kind: 1 where the
    item has the value (``weighting="binary"``), or the value's inverse document frequency
    over the graph's items (``"idf"``)."""
    if weighting not in ATTRIBUTE_WEIGHTINGS:
        raise ConfigError(f"attribute weighting must be one of {list(ATTRIBUTE_WEIGHTINGS)}, "
                          f"not {weighting!r}")
    attrs = tables.item_attributes
    keys = (attrs["kind"] + "\x1f" + attrs["value"]).to_numpy()
    uniq, cols = np.unique(keys, return_inverse=True) if len(keys) else (np.array([]),
                                                                         np.array([], int))
    rows = index.index("item", attrs["item_id"])
    num_items = len(index.ids["item"])
    matrix = sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                           shape=(num_items, max(len(uniq), 1)))
    matrix.data[:] = 1.0  # a value listed twice for one item counts once
    if weighting == "idf":
        items_with = np.asarray(matrix.sum(0)).ravel()
        idf = np.log(num_items / np.maximum(items_with, 1.0)).astype(np.float32)
        matrix = (matrix @ sp.diags(idf)).tocsr()
    return matrix


class Baseline:
    """Base class: subclasses set up their state in ``__init__`` and implement :meth:`score`;
    those that score a user from its items alone also implement :meth:`score_histories`."""

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        raise NotImplementedError

    def score_histories(self, histories: sp.csr_matrix, items: Tensor) -> Tensor:
        """``[n, len(items)]`` scores of users given by their items alone: ``histories`` is a
        binary ``[n, num_items]`` matrix over the graph's items (users added after fitting,
        e.g. folded in for serving)."""
        raise ConfigError(f"{type(self).__name__} cannot score users outside its training "
                          "data")

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """``[R, N]`` scores of ``users[r]`` for ``items[r, n]`` (through the unique users and
        items, so a sampled protocol costs one dense block)."""
        return pairs_through_block(self.score, users, items)


class Popularity(Baseline):
    """Training interaction count of each item (user-independent)."""

    def __init__(self, tables: KGTables, index: GraphIndex,
                 train_splits: tuple[str, ...] = TRAIN_SPLITS, seed: int = 0):
        counts = _train_interactions(tables, train_splits).groupby("item_id").size()
        full = pd.Series(0.0, index=index.ids["item"])
        full.loc[counts.index] = counts.to_numpy(dtype=float)
        jitter = torch.rand(len(full), generator=torch.Generator().manual_seed(seed))
        self.item_scores = torch.tensor(full.to_numpy(), dtype=torch.float64) + 1e-3 * jitter

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.item_scores[items].unsqueeze(0).expand(len(users), -1).float()

    def score_histories(self, histories: sp.csr_matrix, items: Tensor) -> Tensor:
        return self.item_scores[items].unsqueeze(0).expand(histories.shape[0], -1).float()


class AttributePopularity(Popularity):
    """Mean training frequency of an item's attributes (0 for items without attributes)."""

    def __init__(self, tables: KGTables, index: GraphIndex,
                 train_splits: tuple[str, ...] = TRAIN_SPLITS, seed: int = 0):
        attributes = _item_attribute_matrix(tables, index)
        per_item = np.asarray(_user_item_matrix(tables, index, train_splits).sum(0)).ravel()
        attr_freq = attributes.T @ per_item  # interactions with items carrying each attribute
        n_attr = np.asarray(attributes.sum(1)).ravel()
        mean = np.divide(attributes @ attr_freq, n_attr, out=np.zeros(len(n_attr)),
                         where=n_attr > 0)
        jitter = torch.rand(len(mean), generator=torch.Generator().manual_seed(seed))
        self.item_scores = torch.tensor(mean, dtype=torch.float64) + 1e-3 * jitter


class ContentPopularity(Popularity):
    """Popularity, predicted from the attributes where an item has no training interaction.

    An item with ``n > 0`` training interactions (distinct users) scores ``log(1 + n)``; an
    item without any scores the ridge regression of ``log(1 + n)`` on the binary attribute
    values (every attribute kind, ``[num_items, num_values]``; where the data has several
    scenarios, the item's scenario is one more value, so a sparse scenario's new item is not
    given a dense scenario's popularity), fitted on the items with interactions, with an
    unpenalised intercept (scikit-learn's ``Ridge``): an item without attributes gets the
    intercept (and its scenario's weight). User-independent, like :class:`Popularity`, and
    without its jitter: tied items stay tied (the harness breaks ties by expected rank).

    Args:
        l2: the ridge weight (> 0); larger values pull rare values' weights towards 0.

    Raises:
        ConfigError: ``l2`` not a positive number.
    """

    def __init__(self, tables: KGTables, index: GraphIndex,
                 train_splits: tuple[str, ...] = TRAIN_SPLITS, l2: float = 1.0):
        from sklearn.linear_model import Ridge  # here: scikit-learn loads in about a second

        if isinstance(l2, bool) or not (isinstance(l2, (int, float)) and l2 > 0
                                        and np.isfinite(l2)):
            raise ConfigError(f"content-popularity l2 must be a positive number, not {l2!r}")
        self.l2 = float(l2)
        counts = np.asarray(_user_item_matrix(tables, index, train_splits).sum(0)).ravel()
        scores = np.log1p(counts.astype(np.float64))
        seen = counts > 0
        if seen.any() and not seen.all():
            values = _item_attribute_matrix(tables, index).astype(np.float64)
            scenarios, which = np.unique(np.asarray(index.item_scenario), return_inverse=True)
            if len(scenarios) > 1:  # a sparse scenario's items are not the dense ones'
                values = sp.hstack([values, sp.csr_matrix(
                    (np.ones(len(which)), (np.arange(len(which)), which)),
                    shape=(len(which), len(scenarios)))]).tocsr()
            fit = Ridge(alpha=self.l2).fit(values[seen], scores[seen])
            scores[~seen] = fit.predict(values[~seen])
        self.item_scores = torch.tensor(scores, dtype=torch.float64)


class ItemKNN(Baseline):
    """Item-based kNN with cosine similarity of item vectors (user columns or attributes).

    Args:
        source: ``"interactions"`` (item = its column of the training user-item matrix) or
            ``"attributes"`` (item = its attribute vector).
        weighting: for ``"attributes"``, how a value is weighed (``ATTRIBUTE_WEIGHTINGS``).
    """

    def __init__(self, tables: KGTables, index: GraphIndex,
                 train_splits: tuple[str, ...] = TRAIN_SPLITS, source: str = "interactions",
                 weighting: str = "binary"):
        self.history = _user_item_matrix(tables, index, train_splits)
        self.weighting = weighting
        if source == "interactions":
            vectors = self.history.T.tocsr()
        elif source == "attributes":
            vectors = _item_attribute_matrix(tables, index, weighting)
        else:
            raise ConfigError(f"Could not resolve item-kNN source {source!r} among choices "
                              "['attributes', 'interactions']")
        norms = np.sqrt(np.asarray(vectors.multiply(vectors).sum(1)).ravel())
        inv = np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)
        self.vectors = sp.diags(inv.astype(np.float32)) @ vectors  # unit rows, [items, feat]

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.score_histories(self.history[users.numpy()], items)

    def score_histories(self, histories: sp.csr_matrix, items: Tensor) -> Tensor:
        profiles = histories @ self.vectors  # [U, feat]: sum of the user's items' unit rows
        block = profiles @ self.vectors[items.numpy()].T
        return torch.from_numpy(np.asarray(block.todense(), dtype=np.float32))


class TooManyItems(ConfigError):
    """:class:`EASE` refused a catalogue: ``items`` items with interactions, over its
    ``max_items`` (its dense inversion would not fit)."""

    def __init__(self, items: int, max_items: int):
        self.items, self.max_items = items, max_items
        super().__init__(f"EASE inverts an [items, items] matrix: {items} items with "
                         f"interactions exceed max_items={max_items} (about "
                         f"{8 * items ** 2 / 2 ** 30:.1f} GiB at the peak)")


class EASE(Baseline):
    """EASE (Steck, WWW 2019): ``B = I - P / diag(P)`` with ``P = (X^T X + l2 I)^-1`` and a zero
    diagonal, over the items with training interactions (the others score 0).

    The ``[items, items]`` Gram matrix is inverted densely in float32 (Cholesky): two such
    matrices are held at the peak (``2 * 4 * items^2`` bytes, 3.3 GiB at 21,070 items) and a
    fit took about 70 s at 21,070 items on two CPU cores (``benchmarks.cdrib``).

    Args:
        l2: the ridge weight (> 0); larger values shrink the weights of rare items more.
        max_items: refuse catalogues with more items with interactions than this (raise it
            if the machine has the memory).

    Raises:
        ConfigError: ``l2`` not positive; :class:`TooManyItems` (a ConfigError) with more than
            ``max_items`` items.
    """

    def __init__(self, tables: KGTables, index: GraphIndex,
                 train_splits: tuple[str, ...] = TRAIN_SPLITS, l2: float = 100.0,
                 max_items: int = MAX_EASE_ITEMS):
        if isinstance(l2, bool) or not (isinstance(l2, (int, float)) and l2 > 0
                                        and np.isfinite(l2)):
            raise ConfigError(f"EASE l2 must be a positive number, not {l2!r}")
        self.l2 = float(l2)
        history = _user_item_matrix(tables, index, train_splits)
        self.active = np.flatnonzero(np.asarray(history.sum(0)).ravel() > 0)
        if len(self.active) > max_items:
            raise TooManyItems(len(self.active), max_items)
        self.history = history[:, self.active].tocsr()  # [users, active items]
        #: item row -> its position among the active items, -1 for items without interactions
        self.position = np.full(history.shape[1], -1, dtype=np.int64)
        self.position[self.active] = np.arange(len(self.active))
        self.weights = ease_weights(self.history, self.l2)

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self._score_active(self.history[users.numpy()], items)

    def score_histories(self, histories: sp.csr_matrix, items: Tensor) -> Tensor:
        return self._score_active(sp.csr_matrix(histories)[:, self.active], items)

    def _score_active(self, histories: sp.csr_matrix, items: Tensor) -> Tensor:
        """Scores from ``[n, active items]`` histories."""
        pos = self.position[items.numpy()]
        known = pos >= 0
        block = np.zeros((histories.shape[0], len(pos)), dtype=np.float32)
        if known.any():
            rows = histories @ self.weights  # [U, active items]
            block[:, known] = rows[:, pos[known]]
        return torch.from_numpy(block)


def ease_weights(history: sp.csr_matrix, l2: float) -> np.ndarray:
    """EASE's ``[items, items]`` weights of a binary ``[users, items]`` matrix (float32, zero
    diagonal): ``B[j, i] = -P[j, i] / P[i, i]`` with ``P = (history^T history + l2 I)^-1``."""
    gram = torch.from_numpy((history.T @ history).toarray().astype(np.float32, copy=False))
    gram.diagonal().add_(l2)
    factor = torch.linalg.cholesky(gram)
    del gram
    inverse = torch.cholesky_inverse(factor)
    del factor
    inverse.div_(-inverse.diagonal().clone().unsqueeze(0))
    inverse.diagonal().zero_()
    return inverse.numpy()


BASELINES = {
    "popularity": Popularity,
    "attribute-popularity": AttributePopularity,
    "content-popularity": ContentPopularity,
    "item-knn": lambda t, i, s=TRAIN_SPLITS: ItemKNN(t, i, s, "interactions"),
    "attribute-knn": lambda t, i, s=TRAIN_SPLITS, weighting="binary": ItemKNN(
        t, i, s, "attributes", weighting),
    "ease": EASE,
}


def build_baseline(name: str, tables: KGTables, index: GraphIndex,
                   train_splits: tuple[str, ...] = TRAIN_SPLITS, **settings) -> Baseline:
    """Fit the baseline registered as ``name`` on the ``train_splits`` interactions
    (``settings``: its keyword arguments, e.g. ``l2`` for ``ease``)."""
    return resolve(name, BASELINES, "baseline")(tables, index, train_splits, **settings)
