"""Stores of the knowledge graph: a real Neo4j (:class:`Neo4jStore`) and an embedded local
Parquet directory (:class:`LocalStore`), with the same methods (load, read, stats, clear)."""

from kg.store.base import LoadReport, stats_from_tables
from kg.store.local import LocalStore
from kg.store.neo4j_store import Neo4jConfig, Neo4jStore

__all__ = ["LoadReport", "LocalStore", "Neo4jConfig", "Neo4jStore",
           "stats_from_tables"]
