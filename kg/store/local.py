"""Embedded local store: the canonical tables as Parquet files in a directory.

Layout::

    <dir>/CURRENT            name of the live version, e.g. ``v000003``
    <dir>/v000003/<table>.parquet
    <dir>/v000003/datasets.json   the data sets this version holds (kg.store.datasets)
    <dir>/.lock              taken (flock) by every writer

A load writes a complete new version next to the live one and then replaces ``CURRENT``
atomically (``os.replace``), so a reader sees the old graph or the new one, never a mix, and a
crash mid-load leaves the old graph in place. Writers (load, clear) hold an exclusive OS file
lock for the whole read-merge-switch, so two loads at once run one after the other and neither
loses the other's data; a second writer waits, saying so, up to ``lock_timeout`` seconds. Each
writer first removes what a killed one left behind: ``.tmp-*`` folders and versions that
``CURRENT`` does not name. Readers take no lock: if a writer removes the version they were
reading, they read the new one.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import sys
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from kg.errors import StoreError
from kg.files import atomic_write
from kg.store.base import LoadReport, stats_from_tables
from kg.store.datasets import DatasetRecord, check_load
from kg.tables import COLUMNS, KGTables, empty_table

logger = logging.getLogger(__name__)

CURRENT = "CURRENT"
DATASETS = "datasets.json"
LOCK = ".lock"


class LocalStore:
    """The knowledge graph in a Parquet directory; same interface as :class:`Neo4jStore`.

    Args:
        path: the store directory (created on first load).
        lock_timeout: seconds a writer waits for another writer before giving up.
    """

    def __init__(self, path: str | Path, lock_timeout: float = 600.0):
        self.path = Path(path)
        self.lock_timeout = lock_timeout

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present for the common interface."""

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    # -- versions ------------------------------------------------------------------------------

    def _live(self) -> Path | None:
        pointer = self.path / CURRENT
        if not pointer.is_file():
            return None
        name = pointer.read_text().strip()
        if not re.fullmatch(r"v\d{6}", name):
            raise StoreError(f"{pointer} holds {name[:80]!r}, not a version name (v000001); "
                             "the store is damaged (run `graphrec kg clear` and load again)")
        live = self.path / name
        if not live.is_dir():
            raise StoreError(f"{pointer} names {live.name}, which is missing; the store is "
                             "damaged (run `graphrec kg clear` and load again)")
        return live

    def _read_version(self, live: Path | None) -> tuple[KGTables, list[DatasetRecord]]:
        if live is None:
            return KGTables(**{name: empty_table(name) for name in COLUMNS}), []
        tables = KGTables(**{name: pd.read_parquet(live / f"{name}.parquet")
                             for name in COLUMNS}).normalized()
        meta = live / DATASETS
        records = ([DatasetRecord.from_dict(r) for r in json.loads(meta.read_text())]
                   if meta.is_file() else [])
        return tables, records

    def _read_all(self) -> tuple[KGTables, list[DatasetRecord]]:
        """The live version; retried when a writer switched versions while it was read."""
        for attempt in range(5):
            live = self._live()
            try:
                return self._read_version(live)
            except (OSError, ValueError) as exc:
                if attempt < 4 and self._live() != live:
                    continue  # a writer replaced the version: read the new one
                raise StoreError(f"cannot read local store {live}: {exc}") from exc
        raise AssertionError("unreachable")

    @contextmanager
    def _writing(self) -> Iterator[None]:
        """Hold the store's writer lock; clean what a killed writer left behind."""
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / LOCK, "a+") as handle:
            deadline = time.monotonic() + self.lock_timeout
            said = False
            while True:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise StoreError(
                            f"{self.path} is being written by another process (lock "
                            f"{self.path / LOCK}); gave up after {self.lock_timeout:.0f} s"
                        ) from None
                    if not said:
                        print(f"waiting for another load into {self.path} to finish ...",
                              file=sys.stderr, flush=True)
                        said = True
                    time.sleep(0.05)
            try:
                self._recover()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _recover(self) -> None:
        """Remove partial versions of killed writers (called under the lock)."""
        live = self._live()
        for entry in self.path.iterdir():
            stale = entry.name.startswith(".tmp-") or (
                entry.name.startswith("v") and entry.is_dir() and entry != live)
            if stale:
                logger.info("removing %s, left by an interrupted load", entry)
                shutil.rmtree(entry, ignore_errors=True)

    # -- public interface ----------------------------------------------------------------------

    def load(self, tables: KGTables, *, dataset: DatasetRecord | None = None,
             merge: bool = False, progress: bool = True) -> LoadReport:
        """Validate, merge with the stored graph (upsert by key) and switch atomically.

        Args:
            tables: the graph to add.
            dataset: what is being loaded (default an unnamed data set); a different data set
                than the store holds is refused unless ``merge`` (see
                :mod:`kg.store.datasets`).
            merge: allow a data set that shares ids with the stored one(s).
            progress: unused (the write is one step); present for the common interface.

        Raises:
            DataError: ``tables`` (or the merged graph) breaks a rule; nothing is written.
            DatasetConflictError: the data sets would mix; nothing is written.
        """
        start = time.perf_counter()
        tables.validate()
        record = (dataset or DatasetRecord()).starting(tables)
        with self._writing():
            live = self._live()
            stored, held = self._read_version(live)
            def shared() -> int:
                return int(stored.users["user_id"].isin(tables.users["user_id"]).sum()
                           + stored.items["item_id"].isin(tables.items["item_id"]).sum())

            check_load(held, record, merge=merge, shared_ids=shared, where=str(self.path))
            merged = stored.union(tables).validate()
            records = [r for r in held if r.key != record.key] + [record.finishing()]
            numbers = [int(p.name[1:]) for p in self.path.glob("v*") if p.name[1:].isdigit()]
            new = self.path / f"v{max(numbers, default=0) + 1:06d}"
            tmp = self.path / f".tmp-{new.name}-{os.getpid()}"
            tmp.mkdir()
            for name in COLUMNS:
                merged.table(name).to_parquet(tmp / f"{name}.parquet", index=False)
            (tmp / DATASETS).write_text(json.dumps([r.to_dict() for r in records], indent=1))
            os.replace(tmp, new)
            atomic_write(self.path / CURRENT, new.name)
            if live is not None:
                shutil.rmtree(live, ignore_errors=True)
        counts = stats_from_tables(tables)
        return LoadReport(nodes=counts["nodes"], relationships=counts["relationships"],
                          seconds={"total": time.perf_counter() - start})

    def read(self, scenarios: Iterable[str] | None = None) -> KGTables:
        """The stored graph, or the part touching ``scenarios``, as normalised tables."""
        tables = self._read_all()[0]
        if scenarios is not None:
            tables = tables.scenario_subgraph(scenarios).normalized()
        return tables

    def datasets(self) -> list[DatasetRecord]:
        """The data sets the store holds (a local load is atomic: all are complete)."""
        return self._read_all()[1]

    def stats(self) -> dict:
        """See :func:`kg.store.base.stats_from_tables`."""
        return stats_from_tables(self._read_all()[0])

    def clear(self) -> None:
        """Remove the stored graph (the directory's versions and pointer)."""
        if not self.path.exists():
            return
        with self._writing():
            (self.path / CURRENT).unlink(missing_ok=True)
            for old in self.path.glob("v*"):
                shutil.rmtree(old, ignore_errors=True)
