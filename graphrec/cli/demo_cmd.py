"""``graphrec demo``: the main job on the embedded default store (no server needed)."""

from __future__ import annotations

import itertools
import time
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.connection import graphrec_home
from graphrec.cli.output import console, fail, table
from kg.errors import GraphRecError
from kg.store import LocalStore
from loaders import SyntheticConfig, generate_synthetic


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the synthetic generator.")] = 0,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Local store directory (default $GRAPHREC_HOME/demo-store).")] = None,
    adversarial: Annotated[bool, typer.Option(
        help="Add a scenario whose preferences are inverted.")] = False,
) -> None:
    """Generate the synthetic multi-scenario data set, build its knowledge graph in the local
    store, read it back and show the scenarios and what bridges them."""
    t0 = time.perf_counter()
    try:
        ds = generate_synthetic(SyntheticConfig(seed=seed, adversarial=adversarial))
        store = LocalStore(directory or graphrec_home() / "demo-store")
        store.clear()
        store.load(ds.tables)
        back = store.read()
        stats = store.stats()
    except GraphRecError as exc:
        fail(str(exc))
    same = all(back.table(n).equals(ds.tables.normalized().table(n)) for n in back.table_names())
    console.print(f"knowledge graph in {store.path}: read back identical to what was loaded: "
                  f"{same}")
    console.print(table([{"scenario": k, **{c: f"{n:,}" for c, n in v.items()}}
                         for k, v in stats["scenarios"].items()], "scenarios"))
    console.print(table([{"type": k, "relationships": f"{v:,}"}
                         for k, v in stats["relationships"].items()], "relationships"))
    inter = back.interactions
    train = inter[inter["split"] == "train"]
    attrs = back.item_attributes.merge(back.items, on="item_id")
    rows = []
    for a, b in itertools.combinations(sorted(stats["scenarios"]), 2):
        users_a = set(train.loc[train["scenario"] == a, "user_id"])
        users_b = set(train.loc[train["scenario"] == b, "user_id"])
        keys_a = set(attrs.loc[attrs["scenario"] == a, "value"])
        keys_b = set(attrs.loc[attrs["scenario"] == b, "value"])
        rows.append({"scenarios": f"{a} - {b}", "bridging users (train)":
                     f"{len(users_a & users_b):,}", "shared attribute values":
                     f"{len(keys_a & keys_b):,}"})
    console.print(table(rows, "bridges between scenarios"))
    splits = inter.groupby(["scenario", "split"]).size().unstack(fill_value=0)
    console.print(table([{"scenario": s, **{c: f"{int(v):,}" for c, v in r.items()}}
                         for s, r in splits.iterrows()], "interactions per split"))
    console.print(f"done in {time.perf_counter() - t0:.1f}s")
