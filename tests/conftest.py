"""Shared fixtures. Neo4j tests use the real server whose URI is in ``NEO4J_URI`` (scripts/test.sh
starts it with the project's launcher); without it, one is started here by the same launcher."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from kg import server
from kg.server import free_port
from kg.store import Neo4jConfig, Neo4jStore


@pytest.fixture(scope="session")
def neo4j_config(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Neo4jConfig]:
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield Neo4jConfig(uri=uri, user=os.environ.get("NEO4J_USER", "neo4j"),
                          password=os.environ.get("NEO4J_PASSWORD") or None,
                          database=os.environ.get("NEO4J_DATABASE", "neo4j"))
        return
    home = tmp_path_factory.mktemp("neo4j-main")
    state = server.start(home, free_port())
    try:
        yield Neo4jConfig(uri=state.uri)
    finally:
        server.stop(home)


@pytest.fixture
def neo4j_store(neo4j_config: Neo4jConfig) -> Iterator[Neo4jStore]:
    """A store on the real server, emptied before and after the test."""
    with Neo4jStore(neo4j_config) as store:
        store.clear()
        yield store
        store.clear()
