"""graphrec: cross-scenario knowledge transfer for shopping-guide recommendation.

Layers: :mod:`loaders` (raw data -> canonical tables), :mod:`kg` (schema, Neo4j and local
stores, Cypher cookbook, local Neo4j server) and :mod:`graphrec` (CLI; models and transfer).
"""

from kg.errors import ConfigError, DataError, GraphRecError, SchemaError, StoreError

__version__ = "0.1.0"

__all__ = ["ConfigError", "DataError", "GraphRecError", "SchemaError", "StoreError",
           "__version__"]
