"""Which data sets a store holds, and the rule that keeps unrelated data sets apart.

Every load records its data set (:class:`DatasetRecord`). Ids are only meaningful inside one
data set: user ``u0`` of a synthetic graph and user ``u0`` of Amazon are different people. So a
load of a data set into a store that holds a *different* one is refused
(:class:`DatasetConflictError`) unless the caller

* asks to merge (``merge=True``, ``--merge``): the data sets really share ids, e.g. two
  exports of one shop; or
* gives the new data set a namespace (``--namespace NAME``, :func:`with_namespace`): its user and
  item ids become ``NAME:id``, and the load is refused if even one of them exists already.

Loading the same data set again (same source, same namespace) is the idempotent re-load it has
always been. Both stores apply the rule with :func:`check_load`, so they agree on every sequence
of loads.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from kg.errors import ConfigError, StoreError
from kg.tables import KGTables

NAMESPACE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,31}$")
UNNAMED = "unnamed"


class DatasetConflictError(StoreError):
    """A load would put two different data sets' ids into one id space."""


@dataclass(frozen=True)
class DatasetRecord:
    """One data set a store holds.

    Attributes:
        source: what was loaded, e.g. ``amazon-hin /data/amazon_hin`` or
            ``synthetic seed=1``; two loads with the same source and namespace are the same
            data set.
        namespace: the prefix of its ids, or None.
        started: when its (last) load began, ISO 8601 UTC.
        finished: when that load committed, or None while it runs or after it was cut off.
        users, items, interactions: rows of its last load.
    """

    source: str = UNNAMED
    namespace: str | None = None
    started: str = ""
    finished: str | None = None
    users: int = 0
    items: int = 0
    interactions: int = 0

    @property
    def key(self) -> str:
        """Identity of the data set in a store: namespace and source."""
        return f"{self.namespace or ''}|{self.source}"

    @property
    def complete(self) -> bool:
        return self.finished is not None

    @property
    def label(self) -> str:
        return f"{self.source} (namespace {self.namespace})" if self.namespace else self.source

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> DatasetRecord:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        return cls(**known)

    def starting(self, tables: KGTables) -> DatasetRecord:
        """This record stamped with the start of a load of ``tables``."""
        return replace(self, started=now(), finished=None, users=len(tables.users),
                       items=len(tables.items), interactions=len(tables.interactions))

    def finishing(self) -> DatasetRecord:
        return replace(self, finished=now())


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def check_namespace(namespace: str) -> str:
    """``namespace`` when it is a valid prefix (letters, digits, ``_.-``, at most 32)."""
    if not isinstance(namespace, str) or not NAMESPACE_PATTERN.match(namespace):
        raise ConfigError(f"namespace {namespace!r} is not allowed: namespaces must match "
                          f"{NAMESPACE_PATTERN.pattern}")
    return namespace


def with_namespace(tables: KGTables, namespace: str) -> KGTables:
    """``tables`` with every user and item id written ``namespace:id`` (scenarios, attribute
    values and splits are left alone: they are shared vocabularies, not identities)."""
    check_namespace(namespace)

    def prefix(values: pd.Series) -> pd.Series:
        return namespace + ":" + values.astype(str)

    t = tables
    return KGTables(
        scenarios=t.scenarios,
        users=t.users.assign(user_id=prefix(t.users["user_id"])),
        items=t.items.assign(item_id=prefix(t.items["item_id"])),
        interactions=t.interactions.assign(user_id=prefix(t.interactions["user_id"]),
                                           item_id=prefix(t.interactions["item_id"])),
        item_attributes=t.item_attributes.assign(
            item_id=prefix(t.item_attributes["item_id"])),
        user_attributes=t.user_attributes.assign(
            user_id=prefix(t.user_attributes["user_id"])),
        item_links=t.item_links.assign(item_id=prefix(t.item_links["item_id"]),
                                       other_id=prefix(t.item_links["other_id"])),
    )


def check_load(held: list[DatasetRecord], incoming: DatasetRecord, *, merge: bool,
               shared_ids: Callable[[], int], where: str) -> None:
    """Refuse a load that would mix unrelated data sets (see the module docstring).

    Args:
        held: the data sets the store holds.
        incoming: the one being loaded.
        merge: the caller asked to merge.
        shared_ids: counts the incoming user and item ids the store already has; called only
            when a namespaced data set joins others (it reads the store).
        where: the store, for the message.

    Raises:
        DatasetConflictError: the load is refused; the message says why and what to do.
    """
    others = [r for r in held if r.key != incoming.key]
    problem = incomplete_message(others, where)
    if problem:
        raise DatasetConflictError(problem)
    if not others or merge:
        return
    names = ", ".join(r.label for r in others)
    if incoming.namespace is None:
        raise DatasetConflictError(
            f"{where} already holds {names}; loading {incoming.source} as well would make "
            "equal ids the same user or item. Give it its own ids with --namespace NAME, "
            "pass --merge if the data sets really share ids, or empty the store with "
            "`graphrec kg clear`")
    shared = shared_ids()
    if shared:
        raise DatasetConflictError(
            f"{where} already has {shared:,} of the user and item ids of "
            f"{incoming.label}; namespace {incoming.namespace!r} is taken, choose another")


def incomplete_message(records: list[DatasetRecord], where: str) -> str | None:
    """``"incomplete load of X ..."`` for the first record whose load never finished."""
    for r in records:
        if not r.complete:
            return (f"{where} holds an incomplete load of {r.label} (started {r.started}); "
                    "re-run that load (it is idempotent), or `graphrec kg clear`")
    return None
