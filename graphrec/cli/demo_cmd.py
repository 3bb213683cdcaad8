"""``graphrec demo``: the main job on the embedded default store (no server needed)."""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from graphrec import __version__
from graphrec.cli.connection import graphrec_home
from graphrec.cli.output import bridge_rows, console, fail, strategy_rows, table
from graphrec.train import TrainConfig
from graphrec.transfer import STRATEGIES, compare, item_embedding_table
from kg.bridges import bridges_report
from kg.errors import GraphRecError
from kg.store import LocalStore
from loaders import SyntheticConfig, generate_synthetic


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator and of training.")] = 0,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Local store directory (default $GRAPHREC_HOME/demo-store).")] = None,
    adversarial: Annotated[bool, typer.Option(
        help="Add a scenario whose preferences are inverted.")] = False,
    epochs: Annotated[int, typer.Option(help="Maximum training epochs per model.")] = 30,
    train: Annotated[bool, typer.Option(help="Train and compare transfer strategies.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Generate the synthetic multi-scenario data set, build its knowledge graph in the local
    store, train on the dense scenarios, transfer to the sparse one, print test metrics and
    write the item embeddings."""
    t0 = time.perf_counter()
    config = SyntheticConfig(seed=seed, adversarial=adversarial)
    try:
        ds = generate_synthetic(config)
        store = LocalStore(directory or graphrec_home() / "demo-store")
        store.clear()
        store.load(ds.tables, progress=not quiet)
        back = store.read()
        stats = store.stats()
    except GraphRecError as exc:
        fail(str(exc))
    same = all(back.table(n).equals(ds.tables.normalized().table(n)) for n in back.table_names())
    console.print(f"knowledge graph in {store.path}: read back identical to what was loaded: "
                  f"{same}")
    console.print(table([{"scenario": k, **{c: f"{n:,}" for c, n in v.items()}}
                         for k, v in stats["scenarios"].items()], "scenarios"))
    target = config.target_scenario
    console.print(table(bridge_rows(bridges_report(back, target)),
                        f"candidate sources for {target!r} (graphrec kg bridges), best first"))
    if not train:
        return
    train_config = TrainConfig(epochs=epochs, seed=seed)
    try:
        results = compare(back, target, STRATEGIES, train_config, progress=not quiet)
    except GraphRecError as exc:
        fail(str(exc))
    rows = strategy_rows(results, train_config.k)
    console.print(table(rows, f"target '{target}', test split, full ranking over its items "
                              f"(epoch chosen on valid)"))
    best = max((r for r in results if r.embeddings), key=lambda r: r.valid_score)
    run_dir = graphrec_home() / "runs" / f"demo-{datetime.now(UTC):%Y%m%d-%H%M%S}"
    run_dir.mkdir(parents=True, exist_ok=True)
    emb_table = item_embedding_table(best)
    tmp = run_dir / ".item_embeddings.parquet.tmp"
    emb_table.to_parquet(tmp, index=False)
    os.replace(tmp, run_dir / "item_embeddings.parquet")
    metrics = {"version": __version__, "seed": seed, "target": target,
               "synthetic": config.__dict__, "train": train_config.__dict__,
               "selected": best.name,
               "results": [{"strategy": r.name, "best_epoch": r.best_epoch,
                            "valid_ndcg": r.valid_score, "test": r.test,
                            "seconds": r.seconds} for r in results]}
    (run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2, default=list))
    console.print(f"selected on validation: {best.name}; wrote {len(emb_table):,} item "
                  f"embeddings ({best.embeddings['item'].shape[1]} dims) and metrics to {run_dir}")
    console.print(f"done in {time.perf_counter() - t0:.1f}s")
