"""``graphrec demo``: the main job on the embedded default store (no server needed)."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.connection import graphrec_home
from graphrec.cli.output import (
    bridge_rows,
    console,
    fail,
    strategy_rows,
    table,
    versus_table,
)
from kg.errors import GraphRecError
from kg.files import atomic_write
from kg.store import LocalStore
from kg.store.datasets import DatasetRecord
from loaders import SyntheticConfig, dataset_source, generate_synthetic


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator and of training.")] = 0,
    directory: Annotated[Path | None, typer.Option(
        "--dir", help="Local store directory (default $GRAPHREC_HOME/demo-store).")] = None,
    adversarial: Annotated[bool, typer.Option(
        help="Add a scenario whose preferences are inverted.")] = False,
    epochs: Annotated[int | None, typer.Option(
        help="Maximum training epochs per model (default graphrec's own cap; every default "
             "run stops early when validation stops improving).")] = None,
    train: Annotated[bool, typer.Option(help="Train and compare transfer strategies.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
) -> None:
    """Generate the synthetic multi-scenario data set, build its knowledge graph in the local
    store, train on the dense scenarios, transfer to the sparse one with every strategy, print
    test metrics, save every learned one as a run directory (servable with ``graphrec
    recommend``), select the one with the best validation score, compare it with the strongest
    simple baseline on the same test users, and write the item embeddings
    of the best on validation among those with embeddings (every learned strategy but
    ``path-gnn``, which scores by message passing)."""
    from graphrec.serving import write_run
    from graphrec.serving.run_dir import new_run_dir
    from graphrec.strategies import (
        STRATEGIES,
        best_with_embeddings,
        compare,
        item_embedding_table,
    )
    from graphrec.strategies.versus import STRONGEST, against_baseline, ran_baselines
    from graphrec.training import TrainConfig
    from kg.bridges import bridges_report
    
    t0 = time.perf_counter()
    config = SyntheticConfig(seed=seed, adversarial=adversarial)
    try:
        ds = generate_synthetic(config)
        store = LocalStore(directory or graphrec_home() / "demo-store")
        record = DatasetRecord(source=dataset_source(
            "synthetic", "-", {"seed": seed, "adversarial": adversarial}))
        store.clear()
        store.load(ds.tables, dataset=record, progress=not quiet)
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
    train_config = TrainConfig(seed=seed) if epochs is None else TrainConfig(epochs=epochs,
                                                                             seed=seed)
    try:
        results = compare(back, target, STRATEGIES, train_config, progress=not quiet)
        rows = strategy_rows(results, train_config.k)
        console.print(table(rows, f"target '{target}', test split, full ranking over its items "
                                  f"(epoch chosen on valid)"))
        best = max((r for r in results if r.model is not None), key=lambda r: r.valid_score)
        versus = against_baseline(best.scorer, best.index, back, target, STRONGEST,
                                  ks=(train_config.k,),
                                  fitted=ran_baselines(results, best.index))
        console.print(versus_table(versus, f"the selected {best.name} (test split)"))
        # path-gnn scores by message passing: the embeddings come from the best of the others
        embedded = best_with_embeddings(results)
        out = new_run_dir(graphrec_home() / "runs", "demo")
        settings = {"data": {"loader": "synthetic", "options": dataclasses.asdict(config)},
                    "datasets": [{"source": record.source, "namespace": None}],
                    "target": target, "model": train_config.model,
                    "train": dataclasses.asdict(train_config)}
        runs = {r.name: str(write_run(out, r, back, settings, train_config.model, seed))
                for r in results if r.model is not None}
        emb_table = item_embedding_table(embedded)
        atomic_write(out / "item_embeddings.parquet",
                     lambda tmp: emb_table.to_parquet(tmp, index=False))
        summary = {"seed": seed, "target": target, "selected": best.name,
                   "selected_run": runs[best.name], "embeddings_from": embedded.name,
                   "runs": runs, "versus": versus,
                   "results": [{"strategy": r.name, "best_epoch": r.best_epoch,
                                "valid_ndcg": r.valid_score, "stopped": r.stopped, "test": r.test,
                                "seconds": r.seconds} for r in results]}
        atomic_write(out / "summary.json", json.dumps(summary, indent=2, default=list))
    except GraphRecError as exc:
        fail(str(exc))
    console.print(f"selected on validation: {best.name}; saved {len(runs)} runs under {out}; "
                  f"wrote {len(emb_table):,} item embeddings of {embedded.name} "
                  f"({embedded.embeddings['item'].shape[1]} dims) to "
                  f"{out / 'item_embeddings.parquet'}")
    console.print(f"serve it: graphrec recommend {runs[best.name]} -s {target} -u u0")
    console.print(f"done in {time.perf_counter() - t0:.1f}s")
