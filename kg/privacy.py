"""Privacy transforms of the knowledge graph, applied at load time, before any store sees it.

- :func:`pseudonymise_users`: every user id becomes ``HMAC-SHA256(key, id)`` (keyed, so
  pseudonyms cannot be recomputed from a list of candidate ids without the key; deterministic,
  so the same user gets the same pseudonym in every load and every scenario). The key comes
  from configuration or the ``GRAPHREC_PSEUDONYM_KEY`` environment variable and is never
  stored or printed.
- :func:`drop_user_attributes`: keep user attributes (gender, age, region, ...) out of the graph.
- :func:`isolate_scenarios`: a scenario contributes only aggregated item-side knowledge: its
  interactions are replaced by ``CO_INTERACTED`` links between items taken by at least
  ``min_support`` distinct users (within the scenario and towards items of other scenarios);
  none of its users' rows remain, and users seen only there disappear.

:class:`PrivacyConfig` bundles them for the ``[privacy]`` config section and ``graphrec kg load``.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field, replace

import pandas as pd

from kg import schema
from kg.errors import ConfigError, DataError
from kg.registry import check_fields
from kg.tables import KGTables

#: environment variable holding the pseudonymisation key
KEY_ENV = "GRAPHREC_PSEUDONYM_KEY"
#: shortest key accepted (bytes of UTF-8); a short key can be brute-forced
MIN_KEY_BYTES = 16
PSEUDONYM_PREFIX = "p_"


def pseudonym(user_id: str, key: str | bytes) -> str:
    """The pseudonym of one user id: ``p_`` + the first 24 hex digits (96 bits) of
    HMAC-SHA256(key, id)."""
    raw = key.encode() if isinstance(key, str) else key
    digest = hmac.new(raw, str(user_id).encode(), hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:24]


def resolve_key(key: str | None) -> str:
    """Check the pseudonymisation key (the CLI passes ``$GRAPHREC_PSEUDONYM_KEY`` when the
    config gives none).

    Raises:
        ConfigError: no key, or one shorter than :data:`MIN_KEY_BYTES` (the message never
            contains the key).
    """
    if not key:
        raise ConfigError(f"pseudonymisation needs a secret key: set {KEY_ENV} or "
                          "[privacy] key in the config")
    if len(key.encode()) < MIN_KEY_BYTES:
        raise ConfigError(f"the pseudonymisation key is too short ({len(key.encode())} bytes; "
                          f"at least {MIN_KEY_BYTES} required)")
    return key


def pseudonymise_users(tables: KGTables, key: str) -> KGTables:
    """Replace every user id (users, interactions, user attributes) by its keyed pseudonym."""
    mapping = {u: pseudonym(u, key) for u in tables.users["user_id"]}
    if len(set(mapping.values())) != len(mapping):  # 96 bits: practically impossible
        raise DataError("two user ids map to one pseudonym; use another key")

    def swap(df: pd.DataFrame) -> pd.DataFrame:
        return df.assign(user_id=df["user_id"].map(mapping))

    return replace(tables, users=swap(tables.users), interactions=swap(tables.interactions),
                   user_attributes=swap(tables.user_attributes))


def drop_user_attributes(tables: KGTables) -> KGTables:
    """The same graph without any user attribute."""
    return replace(tables, user_attributes=tables.user_attributes.iloc[0:0])


def isolate_scenarios(tables: KGTables, scenarios: list[str], min_support: int = 3,
                      max_links_per_item: int = 20) -> KGTables:
    """Replace the interactions of ``scenarios`` by aggregated item-item links.

    For every isolated scenario ``S``, each pair (item of ``S``, any other item) taken by at
    least ``min_support`` distinct users in the training splits becomes a ``CO_INTERACTED``
    link (the ``max_links_per_item`` strongest per item of ``S``). Then every interaction of
    ``S`` (all splits) is removed, and users left without any interaction are removed with
    their attributes.

    Raises:
        DataError: an unknown scenario, or ``min_support`` below 2 (one user's pair would be
            that user's row in disguise).
    """
    known = set(tables.scenarios["scenario"])
    unknown = sorted(set(scenarios) - known)
    if unknown:
        raise DataError(f"cannot isolate unknown scenario(s) {unknown}; scenarios are "
                        f"{sorted(known)}")
    if min_support < 2:
        raise DataError(f"min_support must be at least 2, not {min_support}")
    inter = tables.interactions
    observed = inter[inter["split"].isin(schema.TRAIN_SPLITS)][["user_id", "item_id", "scenario"]]
    observed = observed.drop_duplicates(["user_id", "item_id"])
    links = []
    for scenario in scenarios:
        mine = observed[observed["scenario"] == scenario]
        pairs = mine.merge(observed, on="user_id", suffixes=("", "_other"))
        pairs = pairs[pairs["item_id"] != pairs["item_id_other"]]
        # within S count each unordered pair once
        inside = pairs["scenario_other"] == scenario
        pairs = pairs[~inside | (pairs["item_id"] < pairs["item_id_other"])]
        support = pairs.groupby(["item_id", "item_id_other"]).size().rename("n").reset_index()
        support = support[support["n"] >= min_support]
        support = support.sort_values(["item_id", "n", "item_id_other"],
                                      ascending=[True, False, True])
        support = support.groupby("item_id").head(max_links_per_item)
        links.append(pd.DataFrame({"item_id": support["item_id"],
                                   "other_id": support["item_id_other"],
                                   "relation": schema.CO_INTERACTED}))
    kept = inter[~inter["scenario"].isin(scenarios)]
    users = tables.users[tables.users["user_id"].isin(set(kept["user_id"]))]
    user_attrs = tables.user_attributes[tables.user_attributes["user_id"].isin(
        set(users["user_id"]))]
    item_links = pd.concat([tables.item_links, *links], ignore_index=True).drop_duplicates(
        ["item_id", "other_id", "relation"])
    return replace(tables, interactions=kept.reset_index(drop=True),
                   users=users.reset_index(drop=True),
                   user_attributes=user_attrs.reset_index(drop=True),
                   item_links=item_links.reset_index(drop=True)).validate()


@dataclass(frozen=True)
class PrivacyConfig:
    """The ``[privacy]`` section: what to do to the graph before it is stored or trained on.

    ``key`` is left out of ``repr``; the CLI sets it from ``$GRAPHREC_PSEUDONYM_KEY`` when the
    config does not give one (:meth:`with_key`).
    """

    pseudonymise: bool = False
    key: str | None = field(default=None, repr=False)
    user_attributes: bool = True
    isolate: tuple[str, ...] = ()
    min_support: int = 3

    @classmethod
    def from_dict(cls, data: dict) -> PrivacyConfig:
        """Build from a mapping; unknown keys are a :class:`ConfigError`."""
        check_fields(cls, data, "privacy")
        data = dict(data)
        if isinstance(data.get("isolate"), str):
            data["isolate"] = (data["isolate"],)
        if "isolate" in data:
            data["isolate"] = tuple(data["isolate"])
        return cls(**data)

    def with_key(self, key: str | None) -> PrivacyConfig:
        """This config with ``key`` when it has none of its own."""
        return self if self.key or not key else replace(self, key=key)

    def apply(self, tables: KGTables) -> KGTables:
        """Isolation first (it needs raw co-interactions), then attributes, then pseudonyms."""
        if self.isolate:
            tables = isolate_scenarios(tables, list(self.isolate), self.min_support)
        if not self.user_attributes:
            tables = drop_user_attributes(tables)
        if self.pseudonymise:
            tables = pseudonymise_users(tables, resolve_key(self.key))
        return tables
