"""The errors graphrec raises on purpose, in four families under one base.

- :class:`ConfigError`: an unknown or ill-typed setting, option or name;
- :class:`DataError` (and :class:`SchemaError`): input data breaks a rule (file, line, rule);
- :class:`StoreError`: Neo4j or the local store cannot be reached, read or written;
- :class:`TrainingError` (and :class:`NonFiniteLossError`): training or evaluation cannot go on;
- :class:`RunError` (a :class:`ConfigError`): a run directory is incomplete, corrupt or altered.

The first three are defined in :mod:`kg.errors`, which the ``kg`` and ``loaders`` layers raise
below graphrec; they are the same classes here, so ``except graphrec.GraphRecError`` catches
everything.
"""

from __future__ import annotations

from kg.errors import ConfigError, DataError, GraphRecError, SchemaError, StoreError


class TrainingError(GraphRecError):
    """Training or evaluation could not proceed (no training pairs, no source scenario, ...)."""


class NonFiniteLossError(TrainingError):
    """The loss became NaN or infinite; the message names the epoch and the learning rate."""


class RunError(ConfigError):
    """A run directory is incomplete, corrupt or was changed after it was written; the message
    names the file."""


__all__ = ["ConfigError", "DataError", "GraphRecError", "NonFiniteLossError", "RunError",
           "SchemaError", "StoreError", "TrainingError"]
