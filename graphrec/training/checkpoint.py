"""Checkpoints of training stages, so that an interrupted run resumes where it stopped.

A run (``graphrec train`` / ``transfer``) trains through one or more stages: one
:meth:`~graphrec.training.Trainer.fit` each (``finetune`` has a source and a target stage,
``transfer`` one or more per strategy). :class:`Checkpoints` numbers the stages in the order a
run meets them, and each stage keeps one file, ``<folder>/<NN>-<stage>.pt``, rewritten
atomically after every epoch:

- while the stage runs: the epoch, the model's and the optimiser's state, the early stopper
  (best state, epoch, score, evaluations waited), the history, the numpy and torch generator
  states and the seconds spent;
- when it ends: ``finished`` and the stage's :class:`~graphrec.training.trainer.FitResult`.

A resumed run meets the same stages in the same order (the seed is the run's), takes a finished
stage's result from its file without training, and continues an unfinished stage from the
epoch after its last checkpoint, with every generator where it was: the resumed run ends with
the weights an uninterrupted run would have had. Files load with ``weights_only=True``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch

from graphrec.errors import RunError
from kg.files import atomic_write

#: what a checkpoint file holds besides tensors (checked when it is read)
KEYS = ("version", "stage", "epoch", "finished", "model", "optimizer", "stopper", "history",
        "numpy_rng", "torch_rng", "seconds", "stopped")
#: the layout of a checkpoint file; a file of another version is refused
VERSION = 1


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "stage"


class StageCheckpoint:
    """The checkpoint file of one training stage.

    Args:
        path: its file.
        stage: the stage's name (the trainer's ``name``), checked when the file is read.
    """

    def __init__(self, path: Path, stage: str):
        self.path, self.stage = path, stage

    def load(self) -> dict[str, Any] | None:
        """The saved state (see the module docstring), or None when the stage never saved.

        Raises:
            RunError: the file is not a checkpoint of this stage (another stage, another
                layout, or not readable).
        """
        if not self.path.is_file():
            return None
        try:
            saved = torch.load(self.path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same message
            raise RunError(f"{self.path}: not a readable checkpoint ({exc})") from None
        if not isinstance(saved, dict) or saved.get("version") != VERSION or any(
                key not in saved for key in KEYS):
            raise RunError(f"{self.path}: not a graphrec checkpoint of version {VERSION}")
        if saved["stage"] != self.stage:
            raise RunError(f"{self.path}: holds stage {saved['stage']!r}, but the run reached "
                           f"{self.stage!r} here; resume with the settings the run started "
                           "with")
        return saved

    def save(self, **state: Any) -> None:
        """Write ``state`` (the :data:`KEYS` but ``version`` and ``stage``) atomically."""
        payload = {"version": VERSION, "stage": self.stage, **state}
        missing = [key for key in KEYS if key not in payload]
        if missing:
            raise ValueError(f"checkpoint of {self.stage!r} lacks {missing}")
        atomic_write(self.path, lambda tmp: torch.save(payload, tmp))


class Checkpoints:
    """The checkpoint files of a run's stages, under ``folder`` (created on first use).

    Args:
        folder: where the files go (``<run dir>/checkpoints``).
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self.count = 0

    def next_stage(self, name: str) -> StageCheckpoint:
        """The checkpoint of the next stage the run meets, named ``name``."""
        self.count += 1
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / f"{self.count:02d}-{_slug(name)}.pt"
        for other in self.folder.glob(f"{self.count:02d}-*.pt"):
            if other != path:
                raise RunError(f"{other}: stage {self.count} of the interrupted run was "
                               f"{other.stem[3:]!r}, but the run reached {name!r} there; "
                               "resume with the settings the run started with")
        return StageCheckpoint(path, name)
