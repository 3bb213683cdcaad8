"""Run directories: everything needed to reproduce and to serve a trained model.

Layout of ``<runs>/<strategy>-<time>/``::

    config.json        training and data settings (the seed included)
    metrics.json       validation history and test metrics
    meta.json          graphrec version, git commit (when available), seed, time
    weights.pt         model state_dict (load with torch.load(..., weights_only=True))
    model.json         model name, constructor arguments and the graph it serves
    graph/<table>.parquet  the knowledge graph the model propagates over (canonical tables)
    decision.json      (``graphrec transfer``, ``guarded``) what was decided and why

:func:`write_run` is the one writer (``graphrec train``, ``transfer`` and ``demo``);
every file goes through :func:`kg.files.atomic_write`, so a crash leaves no half file.
"""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import torch

from graphrec import __version__
from graphrec.errors import ConfigError
from graphrec.strategies.base import StrategyResult
from kg.files import atomic_write
from kg.store import LocalStore
from kg.tables import KGTables


def git_commit() -> str | None:
    """The commit of the source tree graphrec runs from, if it is a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def new_run_dir(root: Path, prefix: str) -> Path:
    """A fresh, unique run directory under ``root``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = root / f"{prefix}-{stamp}"
    n = 1
    while path.exists():
        n += 1
        path = root / f"{prefix}-{stamp}-{n}"
    path.mkdir(parents=True)
    return path


def _json(value: object) -> str:
    return json.dumps(value, indent=2, default=str)


def write_run(runs: Path, result: StrategyResult, tables: KGTables, config: dict,
              model_name: str, seed: int, decision: dict | None = None) -> Path:
    """Write a complete run directory for a learned strategy's result (see the module
    docstring) under ``runs``; returns its path.

    Args:
        runs: the folder of run directories.
        result: a learned strategy's result (it holds a model).
        tables: the knowledge graph the model serves.
        config: the settings to record (JSON-ready; never a secret).
        model_name: the registered model name.
        seed: the seed the run used.
        decision: ``decision.json`` (default the result's own decision, if any).

    Raises:
        ConfigError: the strategy learned nothing to save (a training-free baseline).
    """
    if result.model is None:
        raise ConfigError(f"strategy {result.name!r} learns nothing to save")
    path = new_run_dir(runs, result.name)
    LocalStore(path / "graph").load(tables, progress=False)
    state = result.model.state_dict()
    atomic_write(path / "weights.pt", lambda tmp: torch.save(state, tmp))
    atomic_write(path / "model.json", _json({
        "name": model_name, "kwargs": result.model.init_kwargs(),
        "graph_scenarios": result.graph_scenarios,
        "co_interactions": result.co_interactions, "co_support": result.co_support,
        "blend": result.blend,
        "known_scenarios": result.known_scenarios}))
    atomic_write(path / "config.json", _json({**config, "strategy": result.name,
                                              "seed": seed}))
    atomic_write(path / "metrics.json", _json({
        "strategy": result.name, "best_epoch": result.best_epoch,
        "valid_ndcg": result.valid_score, "test": result.test, "seconds": result.seconds,
        "adapt_seconds": result.adapt_seconds, "history": result.history}))
    atomic_write(path / "meta.json", _json({
        "version": __version__, "git_commit": git_commit(), "seed": seed,
        "created": datetime.now(UTC).isoformat()}))
    decision = decision if decision is not None else result.decision
    if decision is not None:
        atomic_write(path / "decision.json", _json(decision))
    return path


def load_run_files(path: str | Path) -> tuple[dict, dict, KGTables, dict]:
    """``(model_spec, config, tables, state_dict)`` of a run directory.

    Raises:
        ConfigError: a file of the run directory is missing.
    """
    path = Path(path)
    for name in ("model.json", "config.json", "weights.pt", "graph"):
        if not (path / name).exists():
            raise ConfigError(f"{path} is not a complete run directory: {name} is missing")
    spec = json.loads((path / "model.json").read_text())
    config = json.loads((path / "config.json").read_text())
    tables = LocalStore(path / "graph").read()
    state = torch.load(path / "weights.pt", weights_only=True)
    return spec, config, tables, state
