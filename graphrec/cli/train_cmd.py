"""``graphrec train|transfer|recommend|embed``: train, compare, serve."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from graphrec import distributed
from graphrec.api import Recommender
from graphrec.cli.connection import graphrec_home, open_store
from graphrec.cli.output import console, fail, strategy_rows, table
from graphrec.config import RunConfig
from graphrec.guard import decision_rows, strategy_decision
from graphrec.run import atomic_write_text, new_run_dir, save_run
from graphrec.splits import apply_split
from graphrec.transfer import StrategyResult, compare
from kg.errors import ConfigError, DataError, GraphRecError
from kg.privacy import KEY_ENV, pseudonym, resolve_key
from kg.tables import KGTables
from loaders import get_loader

ConfigOpt = Annotated[Path, typer.Option("--config", "-c", help="TOML config file.")]
RunsOpt = Annotated[Path | None, typer.Option(
    "--runs", help="Folder for run directories (default $GRAPHREC_HOME/runs).")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bars.")]


def _tables(cfg: RunConfig) -> KGTables:
    """The configured knowledge graph after ``[privacy]``, re-split as ``[split]`` asks."""
    data = cfg.data
    if "loader" in data:
        tables = get_loader(data["loader"])(data.get("path", "-"), **data.get("options", {})
                                            ).tables
    else:
        with open_store(data["store"], Path(data["dir"]) if "dir" in data else None) as store:
            tables = store.read()
    tables = cfg.privacy.apply(tables)
    return apply_split(tables, cfg.target, **cfg.split) if cfg.split else tables


def _save(result: StrategyResult, cfg: RunConfig, tables: KGTables, runs: Path,
          decision: dict | None = None) -> Path:
    """Write the run directory; ``decision.json`` holds the strategy/source decision."""
    run_dir = new_run_dir(runs, result.name)
    spec = {"name": cfg.model, "kwargs": result.model.init_kwargs(),
            "graph_scenarios": result.graph_scenarios,
            "known_scenarios": result.known_scenarios}
    metrics = {"strategy": result.name, "target": cfg.target, "best_epoch": result.best_epoch,
               "valid_ndcg": result.valid_score, "test": result.test,
               "seconds": result.seconds, "history": result.history}
    privacy = {k: v for k, v in dataclasses.asdict(cfg.privacy).items() if k != "key"}
    config = {"data": cfg.data, "split": cfg.split, "privacy": privacy, "target": cfg.target,
              "strategy": result.name,
              "model": cfg.model, "train": dataclasses.asdict(cfg.train)}
    decision = decision or result.decision
    save_run(run_dir, model=result.model, model_spec=spec, tables=tables, config=config,
             metrics=metrics, seed=cfg.train.seed)
    if decision is not None:
        atomic_write_text(run_dir / "decision.json", json.dumps(decision, indent=2))
    return run_dir


def train(config: ConfigOpt, runs: RunsOpt = None, quiet: QuietOpt = False) -> None:
    """Train one strategy (``[train] strategy``) and save a run directory; print its path.
    Under ``torchrun`` the batches are split across the processes (graphrec.distributed)."""
    try:
        distributed.init_from_env()
        cfg = RunConfig.from_file(config)
        if len(cfg.strategies) != 1:
            raise ConfigError(f"{config}: train runs one strategy; use `graphrec transfer` for "
                              f"{list(cfg.strategies)}")
        tables = _tables(cfg)
        result = compare(tables, cfg.target, cfg.strategies, cfg.train, not quiet, cfg.options)[0]
        if result.model is None:
            raise ConfigError(f"strategy {result.name!r} learns nothing to save")
        if distributed.rank() != 0:
            return  # rank 0 saves and reports
        run_dir = _save(result, cfg, tables, runs or graphrec_home() / "runs")
    except GraphRecError as exc:
        fail(str(exc))
    console.print(table(strategy_rows([result], cfg.train.k), f"target {cfg.target!r}, test split"))
    typer.echo(str(run_dir))


def transfer(config: ConfigOpt, runs: RunsOpt = None, quiet: QuietOpt = False) -> None:
    """Compare strategies (``[train] strategies``) with target-only on the target's valid
    split; save the one selected on validation, with ``decision.json`` (every strategy's gain
    over target-only, and a ``guarded`` strategy's per-source evidence), and print its run
    directory."""
    try:
        distributed.init_from_env()
        cfg = RunConfig.from_file(config)
        tables = _tables(cfg)
        strategies = cfg.strategies
        if "target-only" not in strategies:  # the reference every transfer is judged against
            strategies = ("target-only", *strategies)
        results = compare(tables, cfg.target, strategies, cfg.train, not quiet, cfg.options)
        decision = strategy_decision(results, cfg.target)
        best = next(r for r in results if r.name == decision["selected"])
        if distributed.rank() != 0:
            return
        run_dir = _save(best, cfg, tables, runs or graphrec_home() / "runs", decision)
    except GraphRecError as exc:
        fail(str(exc))
    console.print(table(strategy_rows(results, cfg.train.k),
                        f"target {cfg.target!r}, test split (selected on valid: {best.name})"))
    console.print(table(decision_rows(decision), "negative-transfer check (valid split)"))
    typer.echo(str(run_dir))


def recommend(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    user: Annotated[list[str], typer.Option("--user", "-u", help="User id (repeatable).")],
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Target scenario.")],
    k: Annotated[int, typer.Option("-k", help="How many items.")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    pseudonymise: Annotated[bool, typer.Option(
        help=f"The run's user ids are pseudonyms: map --user through the key in ${KEY_ENV}.")
    ] = False,
) -> None:
    """Top-k items of a scenario for users, from a trained run."""
    try:
        if pseudonymise:
            key = resolve_key()
            user = [pseudonym(u, key) for u in user]
        rows = Recommender.load(run_dir).recommend(user, scenario, k)
    except GraphRecError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(rows.to_json(orient="records", indent=2))
    else:
        console.print(table(rows.to_dict("records"), f"top {k} in {scenario}"))


def embed(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    items: Annotated[Path, typer.Option(
        "--items", help="CSV/Parquet of new items: an item_id column and one column per "
                        "attribute kind (several values separated by '|').")],
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Their scenario.")],
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file.")],
) -> None:
    """Embeddings for brand-new items from their attributes, without retraining."""
    try:
        rec = Recommender.load(run_dir)
        if not items.is_file():
            raise DataError("file not found", source=str(items))
        df = (pd.read_parquet(items) if items.suffix == ".parquet"
              else pd.read_csv(items, dtype=str, keep_default_na=False))
        if "item_id" not in df.columns:
            raise DataError(f"needs an item_id column; columns are {list(df.columns)}",
                            source=str(items), line=1)
        kinds = [c for c in df.columns if c != "item_id"]
        attrs = [{k: [v for v in str(row[k]).split("|") if v] for k in kinds}
                 for _, row in df.iterrows()]
        emb = rec.embed_new_items(attrs, scenario)
    except GraphRecError as exc:
        fail(str(exc))
    result = pd.DataFrame({"item_id": df["item_id"], "scenario": scenario,
                           "embedding": list(emb.numpy())})
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    result.to_parquet(tmp, index=False)
    tmp.replace(out)
    console.print(json.dumps({"items": len(result), "dim": int(emb.shape[1]),
                              "out": str(out)}))
