"""``graphrec export RUN_DIR --to neo4j``: write learned embeddings back into the graph."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.connection import open_neo4j
from graphrec.cli.output import console, fail
from kg import schema
from kg.errors import ConfigError, GraphRecError
from kg.store.datasets import DatasetRecord


def _run_dataset(run_dir: Path, held: list[DatasetRecord]) -> tuple[DatasetRecord, bool]:
    """The data set a run's graph belongs to (its ``config.json`` names the sources it was
    trained on), and whether the database holds exactly those already (then the run's graph
    is a part of them, with the same ids, and loading it merges nothing new)."""
    try:
        config = json.loads((run_dir / "config.json").read_text())
        sources = [DatasetRecord(source=d["source"], namespace=d.get("namespace"))
                   for d in config.get("datasets", [])]
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        sources = []
    held_keys = {r.key for r in held}
    same_ids = bool(sources) and all(r.key in held_keys for r in sources)
    if len(sources) == 1:
        return sources[0], same_ids
    return DatasetRecord(source=f"run {run_dir.resolve().name}"), same_ids


def export(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    to: Annotated[str, typer.Option("--to", help="Destination (neo4j).")] = "neo4j",
    load_graph: Annotated[bool, typer.Option(
        help="First load the run's graph (idempotent MERGE) so every node exists.")] = True,
    users: Annotated[bool, typer.Option(help="Write user embeddings too.")] = True,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    dp_epsilon: Annotated[float | None, typer.Option(
        help="Release user embeddings with (epsilon, delta)-differential privacy (Gaussian "
             "mechanism on unit-norm vectors; see graphrec.serving.dp).")] = None,
    dp_delta: Annotated[float, typer.Option(help="delta of --dp-epsilon.")] = 1e-5,
    merge: Annotated[bool, typer.Option(
        help="--load-graph into a database that holds other data sets with the same ids.")
                     ] = False,
) -> None:
    """Write item (and user) embeddings as node properties and create cosine vector indexes
    (``graphrec_item_embedding``, ``graphrec_user_embedding``) for the ``similar_items``
    cookbook query."""
    from graphrec.serving import Recommender
    from graphrec.serving.dp import privatise_embeddings
    
    try:
        if to != "neo4j":
            raise ConfigError(f"Could not resolve destination {to!r} among choices ['neo4j']")
        rec = Recommender.load(run_dir)
        # before the database is touched: a run without vectors (path-gnn) is refused here
        items, item_vectors = rec.item_embeddings()
        if users:
            ids, vectors = rec.user_embeddings()
            if dp_epsilon is not None:
                vectors = privatise_embeddings(vectors, dp_epsilon, dp_delta)
        with open_neo4j() as store:
            if load_graph:
                record, same_ids = _run_dataset(run_dir, store.datasets())
                store.load(rec.tables, dataset=record, merge=merge or same_ids,
                           progress=not quiet)
            n_items = store.write_embeddings(
                schema.ITEM, items, item_vectors.tolist(), progress=not quiet)
            n_users = 0
            if users:
                n_users = store.write_embeddings(
                    schema.USER, ids, vectors.tolist(), progress=not quiet)
    except GraphRecError as exc:
        fail(str(exc))
    private = f" (user vectors ({dp_epsilon}, {dp_delta})-DP)" if dp_epsilon and users else ""
    console.print(f"wrote {n_items:,} item and {n_users:,} user embeddings to "
                  f"{store.config.uri} (database {store.config.database}) with vector "
                  f"indexes{private}")
