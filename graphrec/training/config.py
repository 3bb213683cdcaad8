"""Training settings (the ``[train]`` section) and how a missing seed is drawn."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, replace
from typing import ClassVar

from kg.registry import Settings

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig(Settings):
    """Training knobs. ``from_dict`` rejects unknown keys.

    ``seed`` may be left out (None): :meth:`with_seed` then draws one, logs it, and the run
    directory saves it, so every run can be repeated.
    """

    what: ClassVar[str] = "training"

    model: str = "lightgcn"
    dim: int = 64
    num_layers: int = 2
    lr: float = 0.01
    weight_decay: float = 1e-4
    epochs: int = 40
    batch_size: int = 4096
    #: evaluations without improvement before stopping (None: never stop early)
    patience: int | None = 5
    k: int = 20
    seed: int | None = None
    #: share of user/item id embeddings dropped per training step (cold-start robustness)
    id_dropout: float = 0.0

    def with_seed(self) -> TrainConfig:
        """This config with a concrete seed: its own, or a fresh one (logged) when None."""
        if self.seed is not None:
            return self
        seed = secrets.randbelow(2**31)
        logger.warning("no seed given; drew seed = %d (set it to repeat this run)", seed)
        return replace(self, seed=seed)
