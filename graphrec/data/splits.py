"""Re-splitting a scenario's interactions for evaluation: temporal, leave-one-out, k% of data.

Data sets arrive with their own split (``train``/``valid``/``test``, or ``all``). These
functions return new tables whose ``split`` column is rewritten for one scenario, leaving the
other scenarios untouched, so the same graph serves every protocol:

* :func:`temporal_split`: the scenario's interactions ordered by time; the last ``test``
  fraction becomes ``test``, the ``valid`` fraction before it ``valid`` (one global cut, so
  nothing from the future trains the model).
* :func:`leave_one_out`: per user, the latest interaction is ``test`` and the one before it
  ``valid`` (users with at least three interactions; the XMarket protocol).
* :func:`cold_item_split`: a seeded share of the scenario's items lose every interaction to
  ``test`` (and another share to ``valid``): cold-start items, served from their attributes.
* :func:`subsample_training`: keep only a fraction of the scenario's training interactions
  (the rest are removed, not held out) for data-efficiency curves; ``valid``/``test`` stay.
* :func:`k_shot`: keep ``k`` training interactions per user of the scenario, or ``k`` in all
  (few-shot adaptation of a new scenario).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from kg.errors import ConfigError, DataError
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

METHODS = ("given", "temporal", "leave-one-out", "cold-items")


def _scenario_rows(tables: KGTables, scenario: str) -> pd.Series:
    known = set(tables.scenarios["scenario"])
    if scenario not in known:
        raise ConfigError(f"unknown scenario {scenario!r}; scenarios are {sorted(known)}")
    return tables.interactions["scenario"] == scenario


def _timed(tables: KGTables, scenario: str) -> pd.DataFrame:
    mask = _scenario_rows(tables, scenario)
    part = tables.interactions[mask]
    missing = part["ts"].isna()
    if missing.any():
        row = part[missing].iloc[0]
        raise DataError(f"{int(missing.sum())} interactions of scenario {scenario!r} have no "
                        f"timestamp (first: user {row.user_id!r}, item {row.item_id!r}); a "
                        "temporal split needs ts on every interaction")
    return part


def _with_splits(tables: KGTables, index: pd.Index, splits: pd.Series) -> KGTables:
    inter = tables.interactions.copy()
    inter.loc[index, "split"] = splits.loc[index].to_numpy()
    return dataclasses.replace(tables, interactions=inter)


def temporal_split(tables: KGTables, scenario: str, valid: float = 0.1, test: float = 0.1
                   ) -> KGTables:
    """Global time cut of ``scenario``: oldest ``1 - valid - test`` train, then valid, test.

    Ties in time are broken by (user, item) so the cut is deterministic.
    """
    if not (0 < test < 1 and 0 <= valid < 1 and valid + test < 1):
        raise ConfigError(f"valid ({valid}) and test ({test}) must be fractions summing below 1")
    part = _timed(tables, scenario).sort_values(["ts", "user_id", "item_id"])
    n = len(part)
    n_test, n_valid = int(round(n * test)), int(round(n * valid))
    labels = np.array(["train"] * (n - n_test - n_valid) + ["valid"] * n_valid
                      + ["test"] * n_test, dtype=object)
    return _with_splits(tables, part.index, pd.Series(labels, index=part.index))


def leave_one_out(tables: KGTables, scenario: str, min_interactions: int = 3) -> KGTables:
    """Per user of ``scenario``: latest interaction ``test``, the one before ``valid``, the rest
    ``train``; users with fewer than ``min_interactions`` keep everything in ``train``."""
    part = _timed(tables, scenario).sort_values(["user_id", "ts", "item_id"])
    from_end = part.groupby("user_id").cumcount(ascending=False)
    size = part.groupby("user_id")["item_id"].transform("size")
    labels = pd.Series("train", index=part.index, dtype=object)
    eligible = size >= min_interactions
    labels[eligible & (from_end == 0)] = "test"
    labels[eligible & (from_end == 1)] = "valid"
    return _with_splits(tables, part.index, labels)


def cold_item_split(tables: KGTables, scenario: str, valid: float = 0.1, test: float = 0.1,
                    seed: int = 0) -> KGTables:
    """Cold-start items: a seeded ``test`` share of ``scenario``'s items (those with
    interactions) move every interaction of theirs to ``test``, a ``valid`` share to ``valid``,
    and the rest stay ``train``; held-out items therefore have no training interaction and
    are scored from their attributes (and links) alone. Shares are of items, not of
    interactions.

    Raises:
        ConfigError: the shares are not fractions summing below 1.
        DataError: the scenario has too few items to hold one out.
    """
    if not (0 < test < 1 and 0 <= valid < 1 and valid + test < 1):
        raise ConfigError(f"valid ({valid}) and test ({test}) must be fractions summing below 1")
    rows = _scenario_rows(tables, scenario)
    inter = tables.interactions
    items = np.sort(inter.loc[rows, "item_id"].unique())
    n_test, n_valid = int(round(len(items) * test)), int(round(len(items) * valid))
    if n_test < 1 or len(items) - n_test - n_valid < 1:
        raise DataError(f"scenario {scenario!r} has {len(items)} items with interactions: too "
                        f"few to hold out a test share of {test} and a valid share of {valid}")
    order = np.random.default_rng(seed).permutation(len(items))
    role = pd.Series("train", index=items, dtype=object)
    role.iloc[order[:n_test]] = "test"
    role.iloc[order[n_test:n_test + n_valid]] = "valid"
    index = inter.index[rows]
    return _with_splits(tables, index, inter.loc[index, "item_id"].map(role))


def subsample_training(tables: KGTables, scenario: str, fraction: float, seed: int = 0,
                       train_splits: tuple[str, ...] = TRAIN_SPLITS) -> KGTables:
    """Keep a random ``fraction`` of ``scenario``'s training interactions (at least one).

    Smaller fractions are subsets of larger ones for the same seed (one permutation, cut at
    different lengths), so a data-efficiency curve adds data rather than redrawing it.
    """
    if not 0 < fraction <= 1:
        raise ConfigError(f"fraction must be in (0, 1], not {fraction}")
    inter = tables.interactions
    train_idx = inter.index[_scenario_rows(tables, scenario) & inter["split"].isin(train_splits)]
    if len(train_idx) == 0:
        raise DataError(f"scenario {scenario!r} has no training interactions to subsample")
    order = np.random.default_rng(seed).permutation(len(train_idx))
    keep = max(1, int(round(fraction * len(train_idx))))
    drop = train_idx[np.sort(order[keep:])]
    return dataclasses.replace(tables, interactions=inter.drop(index=drop).reset_index(drop=True))


def k_shot(tables: KGTables, scenario: str, shots: int, per: str = "user", seed: int = 0,
           train_splits: tuple[str, ...] = TRAIN_SPLITS) -> KGTables:
    """Keep ``shots`` random training interactions of ``scenario`` per user (``per="user"``;
    users with fewer keep all theirs) or in all (``per="scenario"``); drop the others.
    ``valid``/``test`` stay. Fewer shots are subsets of more for the same seed."""
    if shots < 1:
        raise ConfigError(f"shots must be at least 1, not {shots}")
    if per not in ("user", "scenario"):
        raise ConfigError(f"per must be 'user' or 'scenario', not {per!r}")
    inter = tables.interactions
    train = inter[_scenario_rows(tables, scenario) & inter["split"].isin(train_splits)]
    if train.empty:
        raise DataError(f"scenario {scenario!r} has no training interactions to sample shots "
                        "from")
    rank = pd.Series(np.random.default_rng(seed).permutation(len(train)), index=train.index)
    if per == "user":
        rank = rank.groupby(train["user_id"]).rank(method="first") - 1
    drop = rank.index[rank.to_numpy() >= shots]
    return dataclasses.replace(tables, interactions=inter.drop(index=drop).reset_index(drop=True))


def apply_split(tables: KGTables, scenario: str, method: str = "given", valid: float = 0.1,
                test: float = 0.1, fraction: float = 1.0, seed: int = 0,
                shots: int | None = None, per: str = "user") -> KGTables:
    """The tables as a config's ``[split]`` section asks (see :data:`METHODS`); ``shots``
    applies :func:`k_shot` after the split."""
    if method not in METHODS:
        raise ConfigError(f"split method must be one of {list(METHODS)}, not {method!r}")
    if method == "temporal":
        tables = temporal_split(tables, scenario, valid, test)
    elif method == "leave-one-out":
        tables = leave_one_out(tables, scenario)
    elif method == "cold-items":
        tables = cold_item_split(tables, scenario, valid, test, seed)
    if fraction < 1:
        tables = subsample_training(tables, scenario, fraction, seed)
    if shots is not None:
        tables = k_shot(tables, scenario, shots, per, seed)
    return tables
