"""Embedded local store: the canonical tables as Parquet files in a directory.

Layout::

    <dir>/CURRENT            name of the live version, e.g. ``v000003``
    <dir>/v000003/<table>.parquet

A load writes a complete new version next to the live one and then replaces ``CURRENT``
atomically (``os.replace``), so a reader sees the old graph or the new one, never a mix, and a
crash mid-load leaves the old graph in place. Older versions are removed after the switch.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from kg.errors import StoreError
from kg.files import atomic_write
from kg.store.base import LoadReport, stats_from_tables
from kg.tables import COLUMNS, KGTables, empty_table

CURRENT = "CURRENT"


class LocalStore:
    """The knowledge graph in a Parquet directory; same interface as :class:`Neo4jStore`.

    Args:
        path: the store directory (created on first load).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __enter__(self) -> LocalStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Nothing to release; present for the common interface."""

    def __repr__(self) -> str:
        return f"LocalStore({str(self.path)!r})"

    def _live(self) -> Path | None:
        pointer = self.path / CURRENT
        if not pointer.is_file():
            return None
        live = self.path / pointer.read_text().strip()
        if not live.is_dir():
            raise StoreError(f"{pointer} names {live.name}, which is missing; the store is "
                             "damaged (remove the directory and load again)")
        return live

    def _read_all(self) -> KGTables:
        live = self._live()
        if live is None:
            return KGTables(**{name: empty_table(name) for name in COLUMNS})
        try:
            return KGTables(**{name: pd.read_parquet(live / f"{name}.parquet")
                               for name in COLUMNS}).normalized()
        except (OSError, ValueError) as exc:
            raise StoreError(f"cannot read local store {live}: {exc}") from exc

    def load(self, tables: KGTables, *, progress: bool = True) -> LoadReport:
        """Validate, merge with the stored graph (upsert by key) and switch atomically."""
        start = time.perf_counter()
        tables.validate()
        merged = self._read_all().union(tables).validate()
        self.path.mkdir(parents=True, exist_ok=True)
        live = self._live()
        number = int(live.name[1:]) + 1 if live is not None else 1
        new = self.path / f"v{number:06d}"
        tmp = self.path / f".tmp-{new.name}-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name in COLUMNS:
            merged.table(name).to_parquet(tmp / f"{name}.parquet", index=False)
        os.replace(tmp, new)
        atomic_write(self.path / CURRENT, new.name)
        for old in self.path.glob("v*"):
            if old != new and old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
        counts = stats_from_tables(tables)
        return LoadReport(nodes=counts["nodes"], relationships=counts["relationships"],
                          seconds={"total": time.perf_counter() - start})

    def read(self, scenarios: Iterable[str] | None = None) -> KGTables:
        """The stored graph, or the part touching ``scenarios``, as normalised tables."""
        tables = self._read_all()
        if scenarios is not None:
            tables = tables.scenario_subgraph(scenarios).normalized()
        return tables

    def stats(self) -> dict:
        """See :func:`kg.store.base.stats_from_tables`."""
        return stats_from_tables(self._read_all())

    def clear(self) -> None:
        """Remove the stored graph (the directory's versions and pointer)."""
        if self.path.exists():
            (self.path / CURRENT).unlink(missing_ok=True)
            for old in self.path.glob("v*"):
                shutil.rmtree(old, ignore_errors=True)
