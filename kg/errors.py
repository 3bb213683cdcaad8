"""Error hierarchy shared by every package of the project.

All errors derive from :class:`GraphRecError`, so a caller can catch one type. The training
family (:class:`graphrec.errors.TrainingError`) lives with the training code; the package root
:mod:`graphrec` exports every family. Messages say what failed, show the offending value and
say how to fix it.
"""

from __future__ import annotations


class GraphRecError(Exception):
    """Base class of every error raised on purpose by graphrec."""


class ConfigError(GraphRecError):
    """A configuration value or option is unknown, missing or of the wrong type."""


class DataError(GraphRecError):
    """Input data breaks a rule; the message names the file, the line (or id) and the rule.

    Args:
        message: what rule was broken and how to fix it.
        source: the file (or table) that holds the bad record.
        line: 1-based line number in ``source``, when known.
    """

    def __init__(self, message: str, *, source: str | None = None, line: int | None = None):
        self.source = source
        self.line = line
        where = ""
        if source is not None:
            where = f"{source}:{line}: " if line is not None else f"{source}: "
        super().__init__(f"{where}{message}")


class SchemaError(DataError):
    """A label, relationship type, attribute kind or column breaks the knowledge-graph schema."""


class StoreError(GraphRecError):
    """The store (Neo4j or local) could not be reached, read or written."""

