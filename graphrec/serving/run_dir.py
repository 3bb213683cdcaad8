"""Run directories: everything needed to reproduce and to serve a trained model.

Layout of ``<runs>/<strategy>-<time>/``::

    config.json        training and data settings (the seed included)
    metrics.json       validation history and test metrics
    meta.json          graphrec version, git commit (when available), seed, time
    weights.pt         model state_dict (load with torch.load(..., weights_only=True))
    model.json         model name, constructor arguments and the graph it serves
    graph/<table>.parquet  the knowledge graph the model propagates over (canonical tables)
    decision.json      (``graphrec transfer``, ``guarded``) what was decided and why; a
                       ``transfer`` that serves a strategy without vectors names the run
                       directory of the best one with vectors (``embeddings_run``)
    resume.json        (``graphrec train``/``transfer``) the command and its effective settings,
                       written when the run starts
    checkpoints/       while training runs: one file per training stage
                       (:mod:`graphrec.training.checkpoint`); removed when the run is written
    manifest.json      sha256 of every other file, written last

:func:`write_run` is the one writer (``graphrec train``, ``transfer`` and ``demo``);
every file goes through :func:`kg.files.atomic_write`, so a crash leaves no half file, and a run
without ``manifest.json`` is one whose writing did not finish. :func:`load_run_files` is the one
reader: it checks every file against the manifest (a changed ``num_layers``, a truncated or
swapped ``weights.pt``, a ``graph/CURRENT`` pointing elsewhere are all refused), accepts only
regular files inside the run directory (no symlinks), and refuses non-finite weights. Every
refusal is a :class:`~graphrec.errors.RunError` naming the file.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import torch

from graphrec import __version__
from graphrec.errors import ConfigError, RunError
from graphrec.strategies.base import StrategyResult
from kg.errors import GraphRecError
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


#: a run's resume file and checkpoint folder (present while it trains)
RESUME = "resume.json"
CHECKPOINTS = "checkpoints"


def write_run(runs: Path, result: StrategyResult, tables: KGTables, config: dict,
              model_name: str, seed: int, decision: dict | None = None,
              path: Path | None = None) -> Path:
    """Write a complete run directory for a learned strategy's result (see the module
    docstring) under ``runs``; returns its path.

    Args:
        runs: the folder of run directories.
        result: a learned strategy's result (it holds a model).
        tables: the knowledge graph the model serves.
        config: the settings to record (JSON-ready; never a secret).
        model_name: the registered model name (unless the result names its own,
            :attr:`StrategyResult.model_name`).
        seed: the seed the run used.
        decision: ``decision.json`` (default the result's own decision, if any).
        path: the run directory made when training started (:func:`new_run_dir`; its
            checkpoints are removed once everything else is written); None: a new one.

    Raises:
        ConfigError: the strategy learned nothing to save (a training-free baseline).
    """
    if result.model is None:
        raise ConfigError(f"strategy {result.name!r} learns nothing to save")
    path = new_run_dir(runs, result.name) if path is None else Path(path)
    LocalStore(path / "graph").load(tables, progress=False)
    state = result.model.state_dict()
    atomic_write(path / "weights.pt", lambda tmp: torch.save(state, tmp))
    atomic_write(path / "model.json", _json({
        "name": result.model_name or model_name, "kwargs": result.model.init_kwargs(),
        "graph_scenarios": result.graph_scenarios,
        "co_interactions": result.co_interactions, "co_support": result.co_support,
        "co_weighted": result.co_weighted,
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
    shutil.rmtree(path / CHECKPOINTS, ignore_errors=True)
    atomic_write(path / MANIFEST, _json({"sha256": {
        rel: _sha256(path / rel) for rel in _run_files(path)}}))
    return path


MANIFEST = "manifest.json"


def _run_files(path: Path) -> list[str]:
    """Relative paths of the run's files (the manifest and hidden files, such as the graph's
    writer lock, excepted)."""
    return sorted(str(p.relative_to(path)) for p in path.rglob("*")
                  if p.is_file() and p.name != MANIFEST
                  and not any(part.startswith(".") for part in p.relative_to(path).parts))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_run(path: str | Path) -> None:
    """Check a run directory against its manifest (see the module docstring).

    Raises:
        RunError: the directory or its manifest is missing, a file is missing, not a regular
            file, outside the directory, or differs from what was written.
    """
    path = Path(path)
    if not path.is_dir():
        raise RunError(f"{path}: not a run directory (no such folder)")
    manifest = read_run_json(path, MANIFEST)
    sums = manifest.get("sha256") if isinstance(manifest, dict) else None
    if not isinstance(sums, dict) or not sums:
        raise RunError(f"{path / MANIFEST}: not a manifest (expected {{'sha256': {{file: "
                       "digest}}}})")
    root = path.resolve()
    for rel, expected in sorted(sums.items()):
        file = path / str(rel)
        if file.is_symlink() or not file.resolve().is_relative_to(root):
            raise RunError(f"{file}: points outside the run directory; refused")
        if not file.is_file():
            raise RunError(f"{file}: missing (listed in {MANIFEST}); the run directory is "
                           "incomplete")
        if _sha256(file) != expected:
            raise RunError(f"{file}: differs from what was written (sha256 in {MANIFEST}); "
                           "the run directory was changed or damaged, re-run training")


def read_run_json(path: Path, name: str) -> object:
    """The JSON file ``name`` of run directory ``path``; a :class:`RunError` naming it when it
    is missing or not JSON."""
    file = Path(path) / name
    if not file.is_file():
        raise RunError(f"{Path(path)} is not a complete run directory: {name} is missing")
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise RunError(f"{file}: not valid JSON ({exc})") from None


def _json_object(path: Path, name: str, required: tuple[str, ...] = ()) -> dict:
    value = read_run_json(path, name)
    if not isinstance(value, dict):
        raise RunError(f"{path / name}: expected a JSON object, got {type(value).__name__}")
    missing = [k for k in required if k not in value]
    if missing:
        raise RunError(f"{path / name}: missing {missing}")
    return value


def load_run_files(path: str | Path) -> tuple[dict, dict, KGTables, dict]:
    """``(model_spec, config, tables, state_dict)`` of a run directory, verified first
    (:func:`verify_run`).

    Raises:
        RunError: a file is missing, corrupt, altered, or holds non-finite weights.
    """
    path = Path(path)
    for name in ("model.json", "config.json", "weights.pt", "graph", MANIFEST):
        if not (path / name).exists():
            hint = ""
            if (path / RESUME).is_file():
                command = _json_object(path, RESUME).get("command", "train")
                hint = (f"; its training did not finish: resume it with `graphrec {command} "
                        f"--resume {path}`")
            raise RunError(f"{path} is not a complete run directory: {name} is missing{hint}")
    verify_run(path)
    spec = _json_object(path, "model.json", ("name", "kwargs"))
    if not isinstance(spec["kwargs"], dict):
        raise RunError(f"{path / 'model.json'}: 'kwargs' must be an object")
    config = _json_object(path, "config.json")
    if (path / "decision.json").exists():
        _json_object(path, "decision.json")
    try:
        tables = LocalStore(path / "graph").read()
    except GraphRecError as exc:
        raise RunError(f"{path / 'graph'}: {exc}") from exc
    try:
        state = torch.load(path / "weights.pt", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file (EOF, pickle, zip)
        raise RunError(f"{path / 'weights.pt'}: cannot be read as weights ({exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise RunError(f"{path / 'weights.pt'}: not a state_dict of tensors")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            bad = int((~torch.isfinite(tensor)).sum())
            raise RunError(f"{path / 'weights.pt'}: {bad} non-finite value(s) in {name!r}; "
                           "the model cannot be served")
    return spec, config, tables, state
