"""Small hand-made knowledge graphs for tests (no shared data folder needed)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from kg.errors import StoreError
from kg.store import stats_from_tables
from kg.tables import KGTables, make_tables
from loaders import SyntheticConfig, generate_synthetic


def tiny_tables() -> KGTables:
    """Three scenarios, five users (two bridge scenarios), attributes shared across scenarios,
    one SAME_PRODUCT link and one ALSO_VIEWED link, a user attribute, mixed splits."""
    items = [("a:1", "a"), ("a:2", "a"), ("a:3", "a"), ("b:1", "b"), ("b:2", "b"), ("c:1", "c")]
    inter = [
        ("u1", "a:1", "a", 5.0, 100, "train"), ("u1", "b:1", "b", 4.0, 200, "train"),
        ("u2", "a:2", "a", 3.0, 150, "train"), ("u2", "b:2", "b", 1.0, None, "test"),
        ("u3", "a:3", "a", 2.0, 120, "valid"), ("u4", "c:1", "c", 1.0, 130, "train"),
        ("u5", "a:1", "a", 1.0, 140, "train"),
    ]
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["a", "b", "c"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4", "u5"]}),
        items=pd.DataFrame(items, columns=["item_id", "scenario"]),
        interactions=pd.DataFrame(inter, columns=["user_id", "item_id", "scenario", "weight",
                                                  "ts", "split"]),
        item_attributes=pd.DataFrame([
            ("a:1", "brand", "acme"), ("b:1", "brand", "acme"), ("a:2", "brand", "zeta"),
            ("a:1", "category", "shoes"), ("a:2", "category", "shoes"),
            ("b:2", "category", "shoes"), ("c:1", "brand", "zeta"),
        ], columns=["item_id", "kind", "value"]),
        user_attributes=pd.DataFrame([("u1", "gender", "f"), ("u2", "gender", "m")],
                                     columns=["user_id", "kind", "value"]),
        item_links=pd.DataFrame([("a:1", "b:1", "SAME_PRODUCT"), ("a:1", "a:2", "ALSO_VIEWED")],
                                columns=["item_id", "other_id", "relation"]),
    ).validate()


def assert_same_tables(left: KGTables, right: KGTables) -> None:
    """Equal content, table by table, after normalisation."""
    left, right = left.normalized(), right.normalized()
    for name in left.table_names():
        pd.testing.assert_frame_equal(left.table(name), right.table(name), obj=name)


def train_run(root: Path, config: str) -> Path:
    """The run directory that ``graphrec train --quiet`` writes under ``root / "runs"`` for the
    TOML text ``config`` (written to ``root / "c.toml"``); the command must succeed."""
    from typer.testing import CliRunner

    from graphrec.cli.main import app

    path = root / "c.toml"
    path.write_text(config)
    result = CliRunner().invoke(app, ["train", "-c", str(path), "--runs", str(root / "runs"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def cut_off_load_tables() -> KGTables:
    """The synthetic graph the cut-off-load tests interrupt (2,235 interactions: five batches
    of 500, so a load cut after one or two has most of its work left)."""
    return generate_synthetic(SyntheticConfig(n_users=60, items_per_scenario=60,
                                              seed=3)).tables


def assert_cut_off_then_completed(store, tables: KGTables):
    """``store`` holds a cut-off load of ``tables``: part of it stays, it is on record and
    flagged, reading refuses it; the same load run again completes it. Returns that load's
    report."""
    partial = store.stats()["totals"]["interactions"]
    assert 0 < partial < len(tables.interactions)
    [record] = store.datasets()  # the cut-off load is on record, and flagged
    assert record.finished is None and record.started
    with pytest.raises(StoreError, match="incomplete load of unnamed"):
        store.read()
    report = store.load(tables, progress=False)
    assert store.stats() == stats_from_tables(tables)
    assert [r.complete for r in store.datasets()] == [True]
    return report
