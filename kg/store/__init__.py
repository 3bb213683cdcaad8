"""Stores of the knowledge graph: a real Neo4j (:class:`Neo4jStore`) and an embedded local
Parquet directory (:class:`LocalStore`), with one interface (:class:`GraphStore`)."""

from kg.store.base import GraphStore, LoadReport, stats_from_tables
from kg.store.local import LocalStore
from kg.store.neo4j_store import Neo4jConfig, Neo4jStore

__all__ = ["GraphStore", "LoadReport", "LocalStore", "Neo4jConfig", "Neo4jStore",
           "stats_from_tables"]
