"""graphrec: cross-scenario knowledge transfer for shopping-guide recommendation.

Layers: :mod:`loaders` (raw data -> canonical tables), :mod:`kg` (schema, Neo4j and local
stores, Cypher cookbook, local Neo4j server) and :mod:`graphrec`: :mod:`graphrec.data` (tables
-> PyG graph, splits, pairs), :mod:`graphrec.models`, :mod:`graphrec.training` (the one
trainer), :mod:`graphrec.strategies` (transfer strategies by name),
:mod:`graphrec.evaluation`, :mod:`graphrec.serving` (run directories, the
:class:`~graphrec.serving.Recommender` API) and :mod:`graphrec.cli`.

Every error graphrec raises on purpose derives from :class:`GraphRecError` (families in
:mod:`graphrec.errors`).
"""

from graphrec.errors import (
    ConfigError,
    DataError,
    GraphRecError,
    NonFiniteLossError,
    SchemaError,
    StoreError,
    TrainingError,
)

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "GraphRecError", "NonFiniteLossError", "SchemaError",
           "StoreError", "TrainingError", "__version__"]
