"""Run directories: everything needed to reproduce and to serve a trained model.

Layout of ``<runs>/<name>/``::

    config.json        training and data settings
    metrics.json       validation history and test metrics
    meta.json          graphrec version, git commit (when available), seed, time
    weights.pt         model state_dict (load with torch.load(..., weights_only=True))
    model.json         model name and constructor arguments
    graph/<table>.parquet  the knowledge graph the model propagates over (canonical tables)

Every file is written to a temporary name and renamed, so a crash leaves no half file.
"""

from __future__ import annotations

import json
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import torch

from graphrec import __version__
from kg.errors import ConfigError
from kg.store import LocalStore
from kg.tables import KGTables


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


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


def save_run(path: Path, *, model: torch.nn.Module, model_spec: dict, tables: KGTables,
             config: dict, metrics: dict, seed: int) -> Path:
    """Write a complete run directory (see the module docstring)."""
    path.mkdir(parents=True, exist_ok=True)
    LocalStore(path / "graph").load(tables, progress=False)
    tmp = path / ".weights.pt.tmp"
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path / "weights.pt")
    atomic_write_text(path / "model.json", json.dumps(model_spec, indent=2))
    atomic_write_text(path / "config.json", json.dumps(config, indent=2, default=str))
    atomic_write_text(path / "metrics.json", json.dumps(metrics, indent=2, default=str))
    atomic_write_text(path / "meta.json", json.dumps({
        "version": __version__, "git_commit": git_commit(), "seed": seed,
        "created": datetime.now(UTC).isoformat()}, indent=2))
    return path


def load_run_files(path: str | Path) -> tuple[dict, dict, KGTables, dict]:
    """``(model_spec, config, tables, state_dict)`` of a run directory."""
    path = Path(path)
    for name in ("model.json", "config.json", "weights.pt", "graph"):
        if not (path / name).exists():
            raise ConfigError(f"{path} is not a complete run directory: {name} is missing")
    spec = json.loads((path / "model.json").read_text())
    config = json.loads((path / "config.json").read_text())
    tables = LocalStore(path / "graph").read()
    state = torch.load(path / "weights.pt", weights_only=True)
    return spec, config, tables, state
