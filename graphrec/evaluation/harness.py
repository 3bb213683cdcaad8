"""The evaluation harness: one scenario, one held-out split, several subsets and protocols.

Protocols (:class:`Protocol`):

* ``full`` (primary): every item of the scenario is a candidate, the user's other positives of
  the evaluated split included (the standard top-K definition); the user's items of other
  splits (taken in training, held out in another split) do not compete; metrics are averaged
  over users.
* ``sampled``: each held-out row's positive against ``negatives`` items drawn uniformly with
  replacement from the scenario's training items, once, with a fixed seed (the CDRIB authors'
  protocol uses 999). By default the draw skips the user's training items and their items of
  the evaluated split, and metrics are averaged over users (each user's value is the mean of
  their rows); ``exclude_own=False, average="rows", ties="optimistic"`` reproduces the CDRIB
  authors' code for their video test (see benchmarks/cdrib.py).
* ``ties``: ``expected`` (default; the exact mean over orderings of tied candidates, fair to
  sparse scorers and dense ones alike), ``pessimistic`` or ``optimistic`` (papers' rule, for
  comparison only); see :mod:`graphrec.evaluation.metrics`.
* both protocols take ``min_weight`` (rows rated lower are not positives but stay candidates,
  as in MetaHIN-style tables) and ``candidates="split"`` (rank only the items held out in the
  split, e.g. the 737 cold-start movies of MovieLens' ``item_cold_testing``).

Subsets of the held-out rows: ``all``; ``warm`` (user and item both have training interactions
in the scenario); ``cold_users`` (the user has none in the scenario: served from other
scenarios); ``cold_items`` (the item has none, ranked among the scenario's cold items only, the
MetaHIN protocol); ``both_cold`` (cold user and cold item, ranked among cold items).

Anything that scores (user, item) pairs can be evaluated: learned models through
:class:`EmbeddingScorer`, baselines (:mod:`graphrec.evaluation.baselines`) directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Protocol as TypingProtocol

import numpy as np
import pandas as pd
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex
from graphrec.errors import ConfigError, DataError
from graphrec.evaluation.metrics import (
    bootstrap_ci,
    check_finite,
    check_ties,
    coverage,
    paired_bootstrap,
    ranks_among,
    sampled_ranks,
    user_metrics,
    without_excluded,
)
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

SUBSETS = ("all", "warm", "cold_users", "cold_items", "both_cold")
DEFAULT_SUBSETS = ("all", "cold_users", "cold_items")


class Scorer(TypingProtocol):
    """Scores of (user, item) pairs; indices are node indices of a :class:`GraphIndex`."""

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        """``[len(users), len(items)]`` score of every user for every item."""

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        """``[R, N]`` score of ``users[r]`` for ``items[r, n]``."""


def pairs_through_block(score, users: Tensor, items: Tensor) -> Tensor:
    """``[R, N]`` scores of ``users[r]`` for ``items[r, n]`` from ``score(users, items)``
    (a ``[U, I]`` block) called once on the unique users and items, so a sampled protocol
    costs one block for scorers that score users in bulk."""
    uniq_u, inv_u = torch.unique(users, return_inverse=True)
    uniq_i, inv_i = torch.unique(items, return_inverse=True)
    block = score(uniq_u, uniq_i)
    return block[inv_u.unsqueeze(1).expand_as(inv_i), inv_i]


@dataclass
class EmbeddingScorer:
    """Dot product of user and item embeddings (``[num_users, d]``, ``[num_items, d]``)."""

    user_emb: Tensor
    item_emb: Tensor

    def score(self, users: Tensor, items: Tensor) -> Tensor:
        return self.user_emb[users] @ self.item_emb[items].T

    def score_pairs(self, users: Tensor, items: Tensor) -> Tensor:
        return torch.einsum("rd,rnd->rn", self.user_emb[users], self.item_emb[items])


@dataclass(frozen=True)
class Protocol:
    """How candidates are formed and metrics averaged (see the module docstring)."""

    name: str = "full"
    negatives: int = 999
    seed: int = 2022
    exclude_own: bool = True
    average: str = "users"
    ties: str = "expected"
    #: held-out rows with a smaller ``weight`` (rating) are not positives; they stay candidates
    min_weight: float | None = None
    #: ``scenario``: every item of the scenario; ``split``: only items held out in the split
    candidates: str = "scenario"

    def __post_init__(self):
        if self.candidates not in ("scenario", "split"):
            raise ConfigError(f"candidates must be 'scenario' or 'split', not "
                              f"{self.candidates!r}")
        if self.name not in ("full", "sampled"):
            raise ConfigError(f"protocol must be 'full' or 'sampled', not {self.name!r}")
        if self.average not in ("users", "rows"):
            raise ConfigError(f"average must be 'users' or 'rows', not {self.average!r}")
        check_ties(self.ties)
        for name in ("negatives", "seed"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{name} must be an integer, not {value!r}")
        if self.negatives < 1:
            raise ConfigError(f"negatives must be >= 1, not {self.negatives}")
        if not isinstance(self.exclude_own, bool):
            raise ConfigError(f"exclude_own must be true or false, not {self.exclude_own!r}")
        weight = self.min_weight
        if weight is not None and (isinstance(weight, bool) or not isinstance(weight, (int, float))
                                   or not math.isfinite(weight)):
            raise ConfigError(f"min_weight must be a finite number or left out, not {weight!r}")

    @classmethod
    def from_dict(cls, raw: Mapping, source: str = "[eval]") -> Protocol:
        """The protocol of a configuration's ``[eval]`` section: ``protocol`` (the name), and
        every other field by its own name; unknown keys and bad values are a
        :class:`ConfigError` naming ``source``."""
        known = {f.name for f in fields(cls)} - {"name"} | {"protocol"}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise ConfigError(f"{source}: unknown key(s) {unknown}; known: {sorted(known)}")
        values = dict(raw)
        if "protocol" in values:
            values["name"] = values.pop("protocol")
        try:
            return cls(**values)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    def to_dict(self) -> dict:
        """The ``[eval]`` section that :meth:`from_dict` reads back (``min_weight`` left out
        when unset, as TOML has no null)."""
        out = {"protocol" if f.name == "name" else f.name: getattr(self, f.name)
               for f in fields(self)}
        if out["min_weight"] is None:
            del out["min_weight"]
        return out


def sample_negatives(pool: np.ndarray, users: np.ndarray, own: dict[str, set], count: int,
                     seed: int, exclude_own: bool) -> np.ndarray:
    """``[len(users), count]`` item indices drawn uniformly with replacement from ``pool``,
    skipping each user's ``own`` items when ``exclude_own``."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(users), count), dtype=np.int64)
    for row, user in enumerate(users):
        banned = own.get(user, set()) if exclude_own else set()
        allowed = pool if not banned else pool[~np.isin(pool, list(banned))]
        if len(allowed) == 0:
            raise ConfigError(f"user {user!r}: no item left to sample negatives from")
        out[row] = allowed[rng.integers(len(allowed), size=count)]
    return out


def _subset_rows(held: pd.DataFrame, subset: str, warm_users: set, warm_items: set
                 ) -> pd.DataFrame:
    cold_user = ~held["user_id"].isin(warm_users)
    cold_item = ~held["item_id"].isin(warm_items)
    mask = {"all": np.ones(len(held), bool), "warm": ~cold_user & ~cold_item,
            "cold_users": cold_user, "cold_items": cold_item,
            "both_cold": cold_user & cold_item}[subset]
    return held[np.asarray(mask)]


def _summarise(per_user: dict[str, np.ndarray], groups: np.ndarray, bootstrap: int,
               seed: int, users: np.ndarray, keep_values: bool) -> dict:
    """Means of ``per_user`` (metric -> ``[m]`` per test unit, a user or a row), their
    ``ci95`` when ``bootstrap`` > 0, and with ``keep_values`` the ``values`` themselves
    (``users``: ``[m]`` each unit's user id; :func:`compare`)."""
    out: dict = {name: float(v.mean()) for name, v in per_user.items()}
    if bootstrap:
        out["ci95"] = {name: list(bootstrap_ci(v, groups, bootstrap, seed))
                       for name, v in per_user.items()}
    if keep_values:
        out["values"] = {"users": np.asarray(users, dtype=object), **per_user}
    return out


def without_values(result: dict) -> dict:
    """One subset's result of :func:`evaluate` without the per-user ``values`` that
    ``keep_values=True`` adds (not JSON), to save or print."""
    return {key: value for key, value in result.items() if key != "values"}


def compare(result: dict, baseline: dict, metric: str, bootstrap: int = 1000,
            seed: int = 0) -> dict:
    """A paired comparison of two results of :func:`evaluate` on the same split, subset and
    protocol (one subset each, evaluated with ``keep_values=True``): ``metric``'s
    :func:`~graphrec.evaluation.metrics.paired_bootstrap` of ``result`` against
    ``baseline``, whole test users resampled together (as the ``ci95`` of each result with
    the same ``seed``). A :class:`ValueError` where either has no values or they are not of
    the same test units."""
    for name, r in (("result", result), ("baseline", baseline)):
        if "values" not in r:
            raise ValueError(f"the {name} holds no per-user values: evaluate it with "
                             "keep_values=True")
        if metric not in r["values"]:
            raise ValueError(f"the {name} has no metric {metric!r}; it has "
                             f"{sorted(k for k in r['values'] if k != 'users')}")
    users, other = result["values"]["users"], baseline["values"]["users"]
    if len(users) != len(other) or not (users == other).all():
        raise ValueError("the two results are not of the same test users and rows: evaluate "
                         "both on the same split, subset and protocol")
    return paired_bootstrap(result["values"][metric], baseline["values"][metric], users,
                            bootstrap, seed)


def evaluate(scorer: Scorer, index: GraphIndex, tables: KGTables, scenario: str,
             split: str = "test", ks: tuple[int, ...] = (20,),
             subsets: tuple[str, ...] = DEFAULT_SUBSETS, protocol: Protocol | None = None,
             train_splits: tuple[str, ...] = TRAIN_SPLITS, bootstrap: int = 0,
             seed: int = 0, keep_values: bool = False) -> dict[str, dict]:
    """Evaluate ``scorer`` on the held-out ``split`` of ``scenario``.

    Args:
        ks: cut-offs for Recall/NDCG/HR (and coverage under the full protocol).
        subsets: any of :data:`SUBSETS`; empty subsets are left out of the result.
        train_splits: splits whose interactions count as seen in training.
        bootstrap: number of bootstrap resamples over test users for 95% intervals (0: none).
        keep_values: also return each test unit's values (a user's, or under the sampled
            protocol averaged over rows a row's), for a paired comparison of two scorers
            (:func:`compare`).

    Returns:
        subset -> ``{"users": n, "rows": r, "mrr": ..., "ndcg@20": ..., "recall@20": ...,
        "hr@20": ..., "coverage@20": ... (full only), "ci95": {metric: [lo, hi]}}``, with
        ``keep_values`` also ``"values": {"users": [m] user ids, metric: [m] values}``
        (not JSON: drop it before saving a result).
    """
    protocol = protocol or Protocol()
    bad = sorted(set(subsets) - set(SUBSETS))
    if bad:
        raise ConfigError(f"unknown subset(s) {bad}; subsets are {list(SUBSETS)}")
    inter = tables.interactions
    present = set(inter["split"].unique())
    if split not in present:
        splits = sorted(present)
        hint = ""
        if splits == ["all"]:
            hint = ("; the data set comes without a split: add a [split] section to the "
                    "config, e.g. method = \"temporal\" with valid = 0.1 and test = 0.1, or "
                    "method = \"leave-one-out\"")
        raise ConfigError(f"no interactions in split {split!r}; splits are {splits}{hint}")
    in_scenario = inter[inter["scenario"] == scenario]
    train = in_scenario[in_scenario["split"].isin(train_splits)]
    held = in_scenario[in_scenario["split"] == split]
    all_candidates = index.scenario_items(scenario)
    if protocol.candidates == "split":
        in_split = index.index("item", held["item_id"].unique())
        all_candidates = all_candidates[np.isin(all_candidates, in_split)]
    if protocol.min_weight is not None:
        held = held[held["weight"] >= protocol.min_weight]
    warm_users, warm_items = set(train["user_id"].unique()), set(train["item_id"].unique())
    warm_pool = np.unique(index.index("item", list(warm_items)))  # sorted item indices
    if protocol.name == "full":
        # the user's items of other splits (training and other held-out splits) never
        # compete; only the users being ranked matter
        ranked = in_scenario["user_id"].isin(held["user_id"].unique())
        elsewhere = in_scenario[ranked & (in_scenario["split"] != split)]
        others = (elsewhere["user_id"].to_numpy(dtype=object),
                  index.index("item", elsewhere["item_id"]))
    else:  # the draw pool is warm_pool; the items exclude_own skips per user
        mine = pd.concat([train[train["user_id"].isin(held["user_id"].unique())], held])
        own = mine.groupby("user_id")["item_id"].agg(set).to_dict()
    out = {}
    for subset in subsets:
        rows = _subset_rows(held, subset, warm_users, warm_items)
        if len(rows) == 0:
            continue
        candidates = all_candidates
        if subset in ("cold_items", "both_cold"):
            candidates = all_candidates[~np.isin(all_candidates, warm_pool)]
        if protocol.name == "full":
            out[subset] = _full(scorer, index, rows, candidates, others, ks, protocol,
                                bootstrap, seed, keep_values)
        else:
            pool = candidates if subset in ("cold_items", "both_cold") else warm_pool
            out[subset] = _sampled(scorer, index, rows, pool, own, ks, protocol, bootstrap,
                                   seed, keep_values)
    return out


#: scores held at once by full-ranking evaluation (users per chunk = this / candidates): the
#: memory is a few copies of [chunk, candidates] floats whatever the number of test users
FULL_CHUNK_SCORES = 20_000_000


def _full(scorer: Scorer, index: GraphIndex, rows: pd.DataFrame, candidates: np.ndarray,
          others: tuple[np.ndarray, np.ndarray], ks: tuple[int, ...], protocol: Protocol,
          bootstrap: int, seed: int, keep_values: bool = False) -> dict:
    """Full ranking of ``rows`` (held-out interactions) over ``candidates``; ``others``:
    ``(user ids, item indices)`` of the ranked users' interactions of other splits, which do
    not compete. Users in sorted id order, each user's positives in row order."""
    position = np.full(len(index.ids["item"]), -1, dtype=np.int64)
    position[candidates] = np.arange(len(candidates))
    keys, group = np.unique(rows["user_id"].to_numpy(dtype=object), return_inverse=True)
    held = position[index.index("item", rows["item_id"])]
    if (held < 0).any():
        raise DataError(f"held-out item {rows['item_id'].iloc[int(np.argmin(held))]!r} is not "
                        f"among the candidates")
    positives = _ragged(held, group, len(keys))
    users = index.index("user", keys)
    other_users, other_items = others
    other_group = pd.Index(keys, dtype=object).get_indexer(other_users)  # -1: not ranked here
    other_pos = position[other_items]
    mine = (other_group >= 0) & (other_pos >= 0)
    exclude = _ragged(other_pos[mine], other_group[mine], len(keys))
    chunk = max(1, FULL_CHUNK_SCORES // max(1, len(candidates)))
    item_tensor = torch.as_tensor(candidates)
    ranks, tops = [], {k: [] for k in ks}
    for start in range(0, len(users), chunk):
        part = slice(start, start + chunk)
        scores = scorer.score(torch.as_tensor(users[part]), item_tensor).float()
        check_finite(scores, "candidate")
        # excluded items at -inf; recommendation lists keep this split's positives
        competitors = without_excluded(scores, positives[part], exclude[part])
        ranks += ranks_among(competitors, positives[part])
        for k in ks:
            tops[k].append(torch.topk(competitors, min(k, competitors.shape[1]),
                                      dim=1).indices)
    per_user = user_metrics(ranks, ks, protocol.ties)
    result = {"users": len(keys), "rows": len(rows),
              **_summarise(per_user, np.arange(len(keys)), bootstrap, seed, keys,
                           keep_values)}
    for k in ks:
        result[f"coverage@{k}"] = coverage(torch.cat(tops[k]), len(candidates))
    return result


def _ragged(values: np.ndarray, group: np.ndarray, n: int) -> list[np.ndarray]:
    """``values`` split by ``group`` (``[len(values)]`` in ``0..n-1``) into ``n`` int64
    arrays, each in the order its values come in."""
    order = np.argsort(group, kind="stable")
    bounds = np.cumsum(np.bincount(group, minlength=n))[:-1]
    return np.split(values[order].astype(np.int64, copy=False), bounds)


def _sampled(scorer: Scorer, index: GraphIndex, rows: pd.DataFrame, pool: np.ndarray,
             own: dict, ks: tuple[int, ...], protocol: Protocol, bootstrap: int, seed: int,
             keep_values: bool = False) -> dict:
    rows = rows.reset_index(drop=True)
    user_ids = rows["user_id"].to_numpy()
    own_pos = {u: set(index.index("item", sorted(items))) for u, items in own.items()}
    negatives = sample_negatives(pool, user_ids, own_pos, protocol.negatives, protocol.seed,
                                 protocol.exclude_own)
    users = torch.as_tensor(index.index("user", user_ids))
    positives = torch.as_tensor(index.index("item", rows["item_id"]))
    pos_scores = scorer.score_pairs(users, positives.unsqueeze(1))[:, 0]
    neg_scores = scorer.score_pairs(users, torch.as_tensor(negatives))
    per_row = user_metrics(sampled_ranks(pos_scores, neg_scores), ks, protocol.ties)
    if protocol.average == "rows":
        summary = _summarise(per_row, user_ids, bootstrap, seed, user_ids, keep_values)
    else:  # each row is scored against its own negatives: a user's value is their rows' mean
        means = {name: pd.Series(v).groupby(user_ids).mean() for name, v in per_row.items()}
        by_user = {name: v.to_numpy() for name, v in means.items()}
        summary = _summarise(by_user, np.arange(len(set(user_ids))), bootstrap, seed,
                             next(iter(means.values())).index.to_numpy(), keep_values)
    return {"users": int(len(set(user_ids))), "rows": len(rows), **summary}


__all__ = ["DEFAULT_SUBSETS", "SUBSETS", "EmbeddingScorer", "Protocol", "Scorer", "compare",
           "evaluate", "sample_negatives", "without_values"]
