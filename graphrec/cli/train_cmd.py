"""``graphrec train|transfer|recommend|embed``: train, compare, serve."""

from __future__ import annotations

import dataclasses
import json
import shutil
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer

from graphrec.cli.connection import graphrec_home, open_store, pseudonym_key
from graphrec.cli.output import (
    check_output,
    console,
    err_console,
    fail,
    strategy_rows,
    table,
    versus_table,
)
from kg.errors import ConfigError, DataError, GraphRecError
from kg.files import atomic_write
from kg.privacy import KEY_ENV, pseudonym, resolve_key
from loaders import load_dataset

if TYPE_CHECKING:  # the commands import torch only when they run (a fast --help)
    from graphrec.config import RunConfig
    from graphrec.strategies import StrategyResult
    from kg.tables import KGTables

ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="TOML config file (not with --resume).", show_default=False)]
ResumeOpt = Annotated[Path | None, typer.Option(
    "--resume", help="Continue an interrupted run from its run directory, with the settings "
                     "it started with.", show_default=False)]
RunsOpt = Annotated[Path | None, typer.Option(
    "--runs", help="Folder for run directories (default $GRAPHREC_HOME/runs).")]
QuietOpt = Annotated[bool, typer.Option(help="No progress bars.")]


def _tables(cfg: RunConfig) -> tuple[KGTables, list[dict]]:
    """The configured knowledge graph after ``[privacy]``, re-split as ``[split]`` asks, and
    the data sets it holds (:class:`kg.store.datasets.DatasetRecord` dicts; recorded in the
    run's ``config.json`` so that ``graphrec export`` knows whose ids the run has)."""
    from graphrec.data.splits import apply_split
    from kg.store.datasets import DatasetRecord

    data = cfg.data
    if "loader" in data:
        ds = load_dataset(data["loader"], data.get("path", "-"), data.get("options", {}))
        tables, records = ds.tables, [DatasetRecord(source=ds.source)]
    else:
        with open_store(data["store"], Path(data["dir"]) if "dir" in data else None) as store:
            tables, records = store.read(), store.datasets()
    if cfg.privacy.pseudonymise:  # other ids than the source's
        records = [dataclasses.replace(r, source=f"{r.source} pseudonymised") for r in records]
    tables = cfg.privacy.with_key(pseudonym_key()).apply(tables)
    tables = apply_split(tables, cfg.target, **cfg.split) if cfg.split else tables
    return tables, [{"source": r.source, "namespace": r.namespace} for r in records]


def _save(result: StrategyResult, cfg: RunConfig, tables: KGTables, datasets: list[dict],
          runs: Path | None, decision: dict | None = None, path: Path | None = None) -> Path:
    """Write the run directory (:func:`graphrec.serving.write_run`; into ``path`` when the
    run made it at its start)."""
    from graphrec.serving import write_run

    privacy = {k: v for k, v in dataclasses.asdict(cfg.privacy).items() if k != "key"}
    config = {"data": cfg.data, "datasets": datasets, "split": cfg.split, "privacy": privacy,
              "target": cfg.target, "model": cfg.model, "train": dataclasses.asdict(cfg.train),
              "strategy_settings": {n: dataclasses.asdict(s) for n, s in cfg.options.items()},
              "eval": cfg.eval.to_dict()}
    return write_run(runs or graphrec_home() / "runs", result, tables, config, cfg.model,
                     cfg.train.seed, decision, path)


SeedOpt = Annotated[int | None, typer.Option(
    "--seed", help="Overrides [train] seed.", show_default=False)]
EpochsOpt = Annotated[int | None, typer.Option(
    "--epochs", help="Overrides [train] epochs (the cap; early stopping still applies).",
    show_default=False, min=1)]
DeviceOpt = Annotated[str | None, typer.Option(
    "--device", help="Overrides [train] device: cpu, cuda (under torchrun each process's own "
                     "GPU) or cuda:N.", show_default=False)]
SetOpt = Annotated[list[str] | None, typer.Option(
    "--set", "-o", help="Override a setting: key=value for [train], section.key=value "
                        "otherwise, e.g. -o dim=32 -o strategy.reptile.iterations=50 "
                        "(repeatable).")]


def overrides_of(seed: int | None, epochs: int | None, settings: list[str] | None,
                 device: str | None = None) -> list[str]:
    """The ``-o`` overrides with ``--seed``, ``--epochs`` and ``--device`` folded in (they
    win)."""
    out = list(settings or [])
    if device is not None:
        out.append(f"train.device={device}")
    if seed is not None:
        out.append(f"train.seed={seed}")
    if epochs is not None:
        out.append(f"train.epochs={epochs}")
    return out


def _load_config(path: Path, overrides: list[str] | None = None,
                 command: str = "train") -> RunConfig:
    """The run config with ``overrides``, read for ``graphrec <command>``; under torchrun every
    process takes rank 0's seed (a seed drawn because the file gives none differs per
    process)."""
    from graphrec.config import RunConfig
    from graphrec.training import distributed

    cfg = RunConfig.from_file(path, overrides, command)
    distributed.init_from_env(cfg.train.device)  # the device picks the collective backend
    seed = distributed.agree_int(cfg.train.seed)
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, seed=seed))


def _absolute_paths(data: dict) -> dict:
    """``[data]`` with its local paths made absolute, so a resumed run finds them from any
    folder."""
    out = dict(data)
    for key in ("path", "dir"):
        if key in out and out[key] != "-" and Path(out[key]).exists():
            out[key] = str(Path(out[key]).resolve())
    return out


def _begin(command: str, config: Path | None, overrides: list[str], runs: Path | None,
           resume: Path | None, name_of: Callable[[RunConfig], str]
           ) -> tuple[RunConfig, Path | None]:
    """The run's settings and its run directory, made now so that training can checkpoint
    into it (:mod:`graphrec.training.checkpoint`), or the interrupted run ``resume`` names.
    ``name_of`` checks the settings and names the directory. Under ``torchrun`` with several
    processes there are no checkpoints (run directory None)."""
    from graphrec.config import RunConfig
    from graphrec.serving.run_dir import MANIFEST, RESUME, new_run_dir, read_run_json
    from graphrec.training import distributed
    from graphrec.training.device import resolve_device

    if resume is None:
        if config is None:
            raise ConfigError(f"{command} needs --config FILE (or --resume RUN_DIR)")
        cfg = _load_config(config, overrides, command)
        name = name_of(cfg)
        resolve_device(cfg.train.device)  # refused before a run directory is made
        if distributed.world_size() > 1:
            return cfg, None
        # the seed is fixed now, so that the resumed run draws what this one would have
        cfg = dataclasses.replace(cfg, data=_absolute_paths(cfg.data),
                                  train=cfg.train.with_seed())
        run_dir = new_run_dir(runs or graphrec_home() / "runs", name)
        atomic_write(run_dir / RESUME, json.dumps({"command": command,
                                                   "config": cfg.to_dict()}, indent=2))
        err_console.print(f"run directory {run_dir} (if interrupted: graphrec {command} "
                          f"--resume {run_dir})", highlight=False, markup=False)
        return cfg, run_dir
    if config is not None or overrides:
        raise ConfigError("--resume continues with the settings the run started with; drop "
                          "--config and the overrides")
    if (resume / MANIFEST).is_file():
        raise ConfigError(f"{resume}: the run finished; there is nothing to resume")
    saved = read_run_json(resume, RESUME)
    if not isinstance(saved, dict) or saved.get("command") != command:
        raise ConfigError(f"{resume / RESUME}: not a run of `graphrec {command}` (it says "
                          f"{saved.get('command') if isinstance(saved, dict) else saved!r})")
    if distributed.world_size() > 1:
        raise ConfigError("--resume runs in one process; start it without torchrun")
    cfg = RunConfig.from_dict(saved["config"], str(resume / RESUME), command)
    distributed.init_from_env(cfg.train.device)
    return cfg, resume


def _checkpoints(run_dir: Path | None):
    from graphrec.serving.run_dir import CHECKPOINTS
    from graphrec.training.checkpoint import Checkpoints

    return None if run_dir is None else Checkpoints(run_dir / CHECKPOINTS)


def _failed(message: str, run_dir: Path | None, resumed: bool) -> None:
    """A refused run: a run directory it made that holds no checkpoint yet is removed (it
    could only repeat the refusal), then the error is printed."""
    from graphrec.serving.run_dir import CHECKPOINTS

    if run_dir is not None and not resumed and not any((run_dir / CHECKPOINTS).glob("*.pt")):
        shutil.rmtree(run_dir, ignore_errors=True)
    fail(message)


def _interrupted(command: str, run_dir: Path | None) -> None:
    """Ctrl-C: say how to resume, exit 130."""
    hint = f"; resume with: graphrec {command} --resume {run_dir}" if run_dir else ""
    err_console.print(f"interrupted{hint}", highlight=False, markup=False)
    raise typer.Exit(130)


#: ``--baseline``'s value that compares with no baseline
NO_BASELINE = "none"
BASELINE_HELP = ("Compare the {what} on the test split with this training-free baseline, "
                 "fitted on the same training interactions, on the same users (a paired 95% "
                 "bootstrap interval of the ratio): strongest (on each subset the one of "
                 "popularity, attribute-popularity, content-popularity, item-knn and "
                 "attribute-knn that validates best there), one of them, ease, or none.")


def _versus(baseline: str, result: StrategyResult, tables: KGTables, cfg: RunConfig,
            quiet: bool, results: Sequence[StrategyResult] = ()) -> dict | None:
    """``result`` against ``baseline`` on the target's test split
    (:func:`graphrec.strategies.versus.against_baseline`; None for :data:`NO_BASELINE`); the
    baselines among ``results`` (the same comparison's) are not fitted again."""
    from graphrec.strategies.versus import against_baseline, ran_baselines

    if baseline == NO_BASELINE:
        return None
    if not quiet:
        err_console.print(f"{result.name} against {baseline} baseline on the test split",
                          highlight=False, markup=False)
    return against_baseline(result.scorer, result.index, tables, cfg.target, baseline,
                            ks=(cfg.train.k,), protocol=cfg.eval,
                            fitted=ran_baselines(results, result.index))


def _check_baseline(baseline: str) -> None:
    """A ConfigError for an unknown ``--baseline`` (before anything is trained)."""
    from graphrec.strategies.versus import check_baseline

    if baseline != NO_BASELINE:
        check_baseline(baseline)


def train(config: ConfigOpt = None, runs: RunsOpt = None, quiet: QuietOpt = False,
          seed: SeedOpt = None, epochs: EpochsOpt = None, device: DeviceOpt = None,
          settings: SetOpt = None, resume: ResumeOpt = None,
          baseline: Annotated[str, typer.Option(
              help=BASELINE_HELP.format(what="trained model"))] = NO_BASELINE) -> None:
    """Train one strategy (``[train] strategy``, default ``joint``, the embedding model) and
    save a run directory; print its path.
    Every epoch is checkpointed in the run directory, so an interrupted run continues with
    ``--resume RUN_DIR``. Under ``torchrun`` the batches are split across the processes.
    With ``--baseline``, the model is compared with a training-free baseline on the test
    split's users, printed and recorded in ``decision.json`` (``versus``)."""
    from graphrec.strategies import compare, get_strategy
    from graphrec.training import distributed

    def one_strategy(cfg: RunConfig) -> str:
        if len(cfg.strategies) != 1:
            raise ConfigError(f"{config}: train runs one strategy; use `graphrec transfer` "
                              f"for {list(cfg.strategies)}")
        name = cfg.strategies[0]
        if not get_strategy(name).learned:  # refused before any data is read
            raise ConfigError(f"{config}: strategy {name!r} is a training-free baseline and "
                              f"learns nothing to save; compare it with `graphrec transfer`")
        return name

    run_dir = None
    try:
        _check_baseline(baseline)
        cfg, run_dir = _begin("train", config, overrides_of(seed, epochs, settings, device),
                              runs, resume, one_strategy)
        tables, datasets = _tables(cfg)
        result = compare(tables, cfg.target, cfg.strategies, cfg.train, not quiet, cfg.options,
                         cfg.eval, _checkpoints(run_dir))[0]
        if result.model is None:
            raise ConfigError(f"strategy {result.name!r} learns nothing to save")
        if distributed.rank() != 0:
            return  # rank 0 saves and reports
        versus = _versus(baseline, result, tables, cfg, quiet)
        decision = None if versus is None else {**(result.decision or {}), "versus": versus}
        run_dir = _save(result, cfg, tables, datasets, runs, decision, path=run_dir)
    except GraphRecError as exc:
        _failed(str(exc), run_dir, resume is not None)
    except KeyboardInterrupt:
        _interrupted("train", run_dir)
    console.print(table(strategy_rows([result], cfg.train.k), f"target {cfg.target!r}, test split"))
    if versus is not None:
        console.print(versus_table(versus, f"{result.name} (test split)"))
    typer.echo(str(run_dir))


def transfer(config: ConfigOpt = None, runs: RunsOpt = None, quiet: QuietOpt = False,
             seed: SeedOpt = None, epochs: EpochsOpt = None, device: DeviceOpt = None,
             settings: SetOpt = None, resume: ResumeOpt = None,
             baseline: Annotated[str, typer.Option(
                 help=BASELINE_HELP.format(what="selected model"))] = "strongest") -> None:
    """Compare strategies (``[train] strategies``, default ``joint`` and ``path-gnn``) with
    target-only on the target's valid split; save the one selected on validation, with
    ``decision.json`` (every strategy's gain over target-only, a ``guarded`` strategy's
    per-source evidence, and the selected model against the strongest simple baseline on the
    test split, ``versus``), and print its run directory. Every epoch is checkpointed, so an
    interrupted run continues with ``--resume RUN_DIR``."""
    from graphrec.strategies import compare, decision_rows, strategy_decision
    from graphrec.training import distributed

    run_dir = None
    try:
        _check_baseline(baseline)
        cfg, run_dir = _begin("transfer", config, overrides_of(seed, epochs, settings, device),
                              runs, resume, lambda cfg: "transfer")
        tables, datasets = _tables(cfg)
        strategies = cfg.strategies
        if "target-only" not in strategies:  # the reference every transfer is judged against
            strategies = ("target-only", *strategies)
        results = compare(tables, cfg.target, strategies, cfg.train, not quiet, cfg.options,
                          cfg.eval, _checkpoints(run_dir))
        decision = strategy_decision(results, cfg.target)
        best = next(r for r in results if r.name == decision["selected"])
        if distributed.rank() != 0:
            return
        versus = _versus(baseline, best, tables, cfg, quiet, results)
        if versus is not None:
            decision = {**decision, "versus": versus}
        vectors = _embedding_run(results, best)
        vectors_dir = None
        if vectors is not None:  # the served strategy has no vectors: keep the best that has
            vectors_dir = _save(vectors, cfg, tables, datasets, runs,
                                {**decision, "served_run": str(run_dir)})
            decision = {**decision, "embeddings_run": str(vectors_dir),
                        "embeddings_strategy": vectors.name}
        run_dir = _save(best, cfg, tables, datasets, runs, decision, path=run_dir)
    except GraphRecError as exc:
        _failed(str(exc), run_dir, resume is not None)
    except KeyboardInterrupt:
        _interrupted("transfer", run_dir)
    console.print(table(strategy_rows(results, cfg.train.k),
                        f"target {cfg.target!r}, test split (selected on valid: {best.name})"))
    console.print(table(decision_rows(decision), "negative-transfer check (valid split)"))
    if versus is not None:
        console.print(versus_table(versus, f"{best.name} (test split)"))
    if vectors_dir is not None:
        console.print(f"{best.name} scores by message passing and has no vectors; the item and "
                      f"user embeddings of {vectors.name} (the best strategy with vectors on "
                      f"valid) are in {vectors_dir} (graphrec export, embed)")
    typer.echo(str(run_dir))


def _embedding_run(results: list[StrategyResult], served: StrategyResult
                   ) -> StrategyResult | None:
    """The result whose vectors a ``transfer`` keeps beside the ``served`` one when that
    has none (``path-gnn``, or a ``hybrid`` on it): the learned strategy with embeddings that
    validates best; None when ``served`` has vectors or no other result does."""
    from graphrec.strategies import best_with_embeddings

    return None if served.has_embeddings else best_with_embeddings(results)


FORMATS = ("table", "json", "csv")


def recommend(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    user: Annotated[list[str] | None, typer.Option(
        "--user", "-u", help="User id (repeatable).")] = None,
    users_file: Annotated[Path | None, typer.Option(
        "--users-file", help="A file of user ids, one per line.")] = None,
    all_users: Annotated[bool, typer.Option(
        "--all-users", help="Every user of the graph (needs --out).")] = False,
    scenario: Annotated[str | None, typer.Option(
        "--scenario", "-s", help="Scenario to recommend from (default the run's target).")
    ] = None,
    k: Annotated[int, typer.Option("-k", help="How many items.", min=1)] = 10,
    output_format: Annotated[str, typer.Option(
        "--format", help="table | json | csv.")] = "table",
    out: Annotated[Path | None, typer.Option(
        "--out", help="Write the rows to this file (csv, or json with --format json).")] = None,
    fallback: Annotated[str | None, typer.Option(
        help="For users the run does not know: 'popularity' (default: an error).")] = None,
    batch: Annotated[int, typer.Option(help="Users scored per batch.", min=1)] = 1000,
    approximate: Annotated[bool, typer.Option(
        "--approximate", help="Search an inverted-file index instead of scoring every item "
                              "(faster for big batches; not for hybrid runs).")] = False,
    probes: Annotated[int | None, typer.Option(
        help="Index cells searched per user with --approximate (more: closer to exact).",
        min=1)] = None,
    pseudonymise: Annotated[bool, typer.Option(
        help=f"The run's user ids are pseudonyms: map --user through the key in ${KEY_ENV}.")
    ] = False,
    keep_memory: Annotated[bool, typer.Option(
        help="Keep freed memory in this process for reuse (faster batches; the process "
             "holds its peak memory until it exits, as training does by default).")] = True,
) -> None:
    """Top-k items for users, from a trained run. Users come from --user, --users-file or
    --all-users; rows go to the terminal or to --out."""
    from graphrec.serving import Recommender
    from graphrec.training.memory import keep_freed_memory

    try:
        if output_format not in FORMATS:
            raise ConfigError(f"--format must be one of {list(FORMATS)}, not {output_format!r}")
        if sum([bool(user), users_file is not None, all_users]) != 1:
            raise ConfigError("name the users with exactly one of --user, --users-file and "
                              "--all-users")
        if all_users and out is None:
            raise ConfigError("--all-users writes a file: add --out PATH")
        if out is not None:
            check_output(out, *([users_file] if users_file else []))
        rec = Recommender.load(run_dir)
        if keep_memory:  # this process ends when the rows are out
            keep_freed_memory()
        if users_file is not None:
            if not users_file.is_file():
                raise DataError("file not found", source=str(users_file))
            ids = [line.strip() for line in users_file.read_text("utf-8").splitlines()
                   if line.strip()]
        elif all_users:
            ids = list(rec.index.ids["user"])
        else:
            ids = list(user or [])
        if pseudonymise:
            key = resolve_key(pseudonym_key())
            ids = [pseudonym(u, key) for u in ids]
        parts = [rec.recommend(ids[start:start + batch], scenario, k, fallback=fallback,
                               approximate=approximate, probes=probes)
                 for start in range(0, len(ids), batch)]
        rows = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
            columns=["user_id", "rank", "item_id", "score"])
    except GraphRecError as exc:
        fail(str(exc))
    shown = scenario or rec.target
    if out is not None:
        if output_format == "json":
            atomic_write(out, rows.to_json(orient="records", indent=2))
        else:
            atomic_write(out, lambda tmp: rows.to_csv(tmp, index=False))
        err_console.print(f"wrote {len(rows):,} rows for {len(ids):,} users to {out}")
    elif output_format == "json":
        typer.echo(rows.to_json(orient="records", indent=2))
    elif output_format == "csv":
        typer.echo(rows.to_csv(index=False), nl=False)
    else:
        console.print(table(rows.assign(score=rows["score"].map("{:.4f}".format))
                            .to_dict("records"), f"top {k} in {shown}"))


def embed(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    items: Annotated[Path, typer.Option(
        "--items", help="CSV/Parquet of new items: an item_id column and one column per "
                        "attribute kind (several values separated by '|').")],
    scenario: Annotated[str, typer.Option("--scenario", "-s", help="Their scenario.")],
    out: Annotated[Path, typer.Option("--out", help="Output Parquet file.")],
) -> None:
    """Embeddings for brand-new items from their attributes, without retraining."""
    from graphrec.serving import Recommender, UnknownAttributeWarning

    try:
        check_output(out, items)
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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", UnknownAttributeWarning)
            _, emb = rec.embed_new_items(attrs, scenario, list(df["item_id"].astype(str)))
    except GraphRecError as exc:
        fail(str(exc))
    for warning in caught:
        err_console.print(f"warning: {warning.message}", highlight=False, markup=False)
    result = pd.DataFrame({"item_id": df["item_id"], "scenario": scenario,
                           "embedding": list(emb.numpy())})
    atomic_write(out, lambda tmp: result.to_parquet(tmp, index=False))
    console.print(json.dumps({"items": len(result), "dim": int(emb.shape[1]),
                              "out": str(out)}))
