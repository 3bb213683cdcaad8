"""Canonical knowledge-graph tables: the one format loaders produce and stores read and write.

Every table is a pandas ``DataFrame`` with exactly these columns (all ids are strings):

============== ======================================================= ===========================
table          columns                                                 key
============== ======================================================= ===========================
scenarios      scenario                                                scenario
users          user_id                                                 user_id
items          item_id, scenario                                       item_id
item_attributes item_id, kind, value                                   (item_id, kind, value)
user_attributes user_id, kind, value                                   (user_id, kind, value)
interactions   user_id, item_id, scenario, weight (float64),           (user_id, item_id)
               ts (Int64 unix seconds, nullable), split
item_links     item_id, other_id, relation (schema.ITEM_LINK_TYPES)    (item_id, other_id, relation)
============== ======================================================= ===========================

``split`` names the data set's own split an interaction belongs to (``train``, ``valid``,
``test``, ``meta_training`` ... or ``all`` when the data set has none); the graph keeps every
interaction and training code reads the split it needs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kg import schema
from kg.errors import DataError

COLUMNS: dict[str, tuple[str, ...]] = {
    "scenarios": ("scenario",),
    "users": ("user_id",),
    "items": ("item_id", "scenario"),
    "item_attributes": ("item_id", "kind", "value"),
    "user_attributes": ("user_id", "kind", "value"),
    "interactions": ("user_id", "item_id", "scenario", "weight", "ts", "split"),
    "item_links": ("item_id", "other_id", "relation"),
}

KEYS: dict[str, tuple[str, ...]] = {
    "scenarios": ("scenario",),
    "users": ("user_id",),
    "items": ("item_id",),
    "item_attributes": ("item_id", "kind", "value"),
    "user_attributes": ("user_id", "kind", "value"),
    "interactions": ("user_id", "item_id"),
    "item_links": ("item_id", "other_id", "relation"),
}

_NON_STRING = {"weight": "float64", "ts": "Int64"}


def empty_table(name: str) -> pd.DataFrame:
    """An empty table with the canonical columns and dtypes of ``name``."""
    return _coerce(pd.DataFrame({c: [] for c in COLUMNS[name]}), name)


def _coerce(df: pd.DataFrame, name: str) -> pd.DataFrame:
    """Columns of ``name`` in canonical order and dtype; missing values stay missing."""
    out = {}
    for col in COLUMNS[name]:
        values = df[col] if col in df else pd.Series([], dtype=object)
        values = pd.Series(values.to_numpy(), dtype=object if len(values) else None)
        out[col] = values.astype(_NON_STRING.get(col, "str"))
    return pd.DataFrame(out)


@dataclass(frozen=True)
class KGTables:
    """The whole knowledge graph as canonical tables (see the module docstring for columns)."""

    scenarios: pd.DataFrame
    users: pd.DataFrame
    items: pd.DataFrame
    interactions: pd.DataFrame
    item_attributes: pd.DataFrame = dataclasses.field(
        default_factory=lambda: empty_table("item_attributes"))
    user_attributes: pd.DataFrame = dataclasses.field(
        default_factory=lambda: empty_table("user_attributes"))
    item_links: pd.DataFrame = dataclasses.field(default_factory=lambda: empty_table("item_links"))

    @classmethod
    def table_names(cls) -> tuple[str, ...]:
        return tuple(COLUMNS)

    def table(self, name: str) -> pd.DataFrame:
        return getattr(self, name)

    def normalized(self) -> KGTables:
        """Same content with canonical dtypes, rows sorted by key and a fresh index.

        Two graphs with the same content compare equal after normalisation, whatever store
        they came from.
        """
        out = {}
        for name in COLUMNS:
            df = _coerce(self.table(name), name)
            out[name] = df.sort_values(list(KEYS[name]), kind="stable").reset_index(drop=True)
        return KGTables(**out)

    def validate(self) -> KGTables:
        """Check every rule of the schema; return ``self`` or raise :class:`DataError`.

        Rules: the canonical columns are present and no others; ids are non-empty; keys are
        unique; scenario names and attribute kinds are valid; every item, interaction and link
        refers to known nodes; an interaction's scenario is its item's; weights are finite;
        item links join two different items.
        """
        for name in COLUMNS:
            df = self.table(name)
            if not isinstance(df, pd.DataFrame):
                raise DataError(f"table must be a pandas DataFrame, got {type(df).__name__}",
                                source=name)
            missing = [c for c in COLUMNS[name] if c not in df.columns]
            extra = [c for c in df.columns if c not in COLUMNS[name]]
            if missing or extra:
                raise DataError(
                    f"columns must be {list(COLUMNS[name])}; missing {missing}, unexpected {extra}",
                    source=name)
            for col in COLUMNS[name]:
                if col in _NON_STRING:
                    continue
                bad = df[col].isna() | (df[col].astype(str).str.len() == 0)
                _fail_rows(df, bad, name, f"column {col!r} must be a non-empty string")
            dup = df.duplicated(list(KEYS[name]), keep="first")
            _fail_rows(df, dup, name, f"duplicate key {list(KEYS[name])}")

        for sc in self.scenarios["scenario"]:
            schema.check_scenario(sc)
        scenarios = set(self.scenarios["scenario"])
        users = set(self.users["user_id"])
        item_scenario = dict(zip(self.items["item_id"], self.items["scenario"], strict=True))

        _fail_rows(self.items, ~self.items["scenario"].isin(scenarios), "items",
                   f"unknown scenario; known scenarios are {sorted(scenarios)}")
        for table in ("item_attributes", "user_attributes"):
            for kind in self.table(table)["kind"].unique():
                schema.check_kind(kind)
        _fail_rows(self.item_attributes, ~self.item_attributes["item_id"].isin(item_scenario),
                   "item_attributes", "unknown item_id")
        _fail_rows(self.user_attributes, ~self.user_attributes["user_id"].isin(users),
                   "user_attributes", "unknown user_id")

        inter = self.interactions
        _fail_rows(inter, ~inter["user_id"].isin(users), "interactions", "unknown user_id")
        _fail_rows(inter, ~inter["item_id"].isin(item_scenario), "interactions", "unknown item_id")
        expected = inter["item_id"].map(item_scenario)
        _fail_rows(inter, expected != inter["scenario"], "interactions",
                   "scenario differs from the item's scenario")
        weights = pd.to_numeric(inter["weight"], errors="coerce").to_numpy(dtype=float,
                                                                          na_value=np.nan)
        _fail_rows(inter, pd.Series(~np.isfinite(weights), index=inter.index), "interactions",
                   "weight must be a finite number")

        links = self.item_links
        for col in ("item_id", "other_id"):
            _fail_rows(links, ~links[col].isin(item_scenario), "item_links", f"unknown {col}")
        _fail_rows(links, links["item_id"] == links["other_id"], "item_links",
                   "an item cannot link to itself")
        _fail_rows(links, ~links["relation"].isin(schema.ITEM_LINK_TYPES), "item_links",
                   f"relation must be one of {list(schema.ITEM_LINK_TYPES)}")
        return self

    def counts(self) -> dict[str, int]:
        """Row count of every table."""
        return {name: len(self.table(name)) for name in COLUMNS}

    def scenario_subgraph(self, scenarios: Iterable[str]) -> KGTables:
        """The part of the graph that touches the given scenarios (their items, their
        interactions, the users and attributes those reach)."""
        keep = set(scenarios)
        items = self.items[self.items["scenario"].isin(keep)]
        item_ids = set(items["item_id"])
        inter = self.interactions[self.interactions["item_id"].isin(item_ids)]
        user_ids = set(inter["user_id"])
        links = self.item_links[self.item_links["item_id"].isin(item_ids)
                                & self.item_links["other_id"].isin(item_ids)]
        return KGTables(
            scenarios=self.scenarios[self.scenarios["scenario"].isin(keep)],
            users=self.users[self.users["user_id"].isin(user_ids)],
            items=items,
            interactions=inter,
            item_attributes=self.item_attributes[self.item_attributes["item_id"].isin(item_ids)],
            user_attributes=self.user_attributes[self.user_attributes["user_id"].isin(user_ids)],
            item_links=links,
        )

    def union(self, other: KGTables) -> KGTables:
        """Both graphs in one; on a key present in both, ``other``'s row wins (an upsert, as a
        ``MERGE ... SET`` in Neo4j)."""
        out = {}
        for name in COLUMNS:
            both = pd.concat([_coerce(self.table(name), name), _coerce(other.table(name), name)],
                             ignore_index=True)
            out[name] = both.drop_duplicates(list(KEYS[name]), keep="last")
        return KGTables(**out).normalized()


def make_tables(**tables: pd.DataFrame) -> KGTables:
    """Build canonical :class:`KGTables` from frames that may carry looser dtypes.

    Missing optional tables are empty; ``interactions`` may omit ``weight`` (1.0), ``ts``
    (missing) and ``split`` (``all``).
    """
    inter = tables["interactions"].copy()
    if "weight" not in inter:
        inter["weight"] = 1.0
    if "ts" not in inter:
        inter["ts"] = pd.array([pd.NA] * len(inter), dtype="Int64")
    if "split" not in inter:
        inter["split"] = "all"
    tables = {**tables, "interactions": inter}
    out = {name: _coerce(tables[name], name) if name in tables else empty_table(name)
           for name in COLUMNS}
    return KGTables(**out)


def _fail_rows(df: pd.DataFrame, mask: pd.Series, table: str, rule: str) -> None:
    """Raise :class:`DataError` naming the first offending row of ``table``, if any."""
    mask = mask.fillna(True) if mask.dtype == object else mask
    if not bool(mask.any()):
        return
    position = int(np.flatnonzero(mask.to_numpy(dtype=bool))[0])
    row = df.iloc[position].to_dict()
    n_bad = int(mask.sum())
    raise DataError(f"row {position} {row} breaks the rule: {rule} ({n_bad} rows in all)",
                    source=table)
