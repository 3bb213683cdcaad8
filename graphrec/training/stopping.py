"""When to evaluate and when to stop: the trainer's pluggable schedule and stopper."""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
from torch import nn


@dataclass(frozen=True)
class EvalSchedule:
    """Evaluate after every ``every``-th epoch and always after the last one."""

    every: int = 1

    def due(self, epoch: int, last: int) -> bool:
        return epoch % self.every == 0 or epoch == last


class EarlyStopping:
    """Keeps the state with the best validation score; says when ``patience`` evaluations in
    a row brought no improvement (``patience=None``: never stop early, keep the best)."""

    def __init__(self, model: nn.Module, patience: int | None):
        self.patience = patience
        self.best_score = -np.inf
        self.best_epoch = 0
        self.state = copy.deepcopy(model.state_dict())
        self.waited = 0

    def snapshot(self) -> dict:
        """What a checkpoint keeps of the stopper (:meth:`restore` reads it back)."""
        return {"state": self.state, "best_epoch": self.best_epoch,
                "best_score": float(self.best_score), "waited": self.waited}

    def restore(self, saved: dict) -> None:
        """Continue from a :meth:`snapshot`."""
        self.state, self.best_epoch = saved["state"], int(saved["best_epoch"])
        self.best_score, self.waited = float(saved["best_score"]), int(saved["waited"])

    def update(self, score: float, epoch: int, model: nn.Module) -> bool:
        """Record an evaluation; True when training should stop."""
        if score > self.best_score:
            self.best_score, self.best_epoch, self.waited = score, epoch, 0
            self.state = copy.deepcopy(model.state_dict())
            return False
        self.waited += 1
        return self.patience is not None and self.waited >= self.patience
