"""Knowledge-graph layer: schema, canonical tables, stores (Neo4j and local Parquet), Cypher
cookbook and the local Neo4j server lifecycle.

Data flows ``loaders -> kg -> graphrec``; this package never imports ``graphrec``.
"""

from kg.errors import ConfigError, DataError, GraphRecError, SchemaError, StoreError
from kg.tables import KGTables

__all__ = ["ConfigError", "DataError", "GraphRecError", "KGTables", "SchemaError", "StoreError"]
