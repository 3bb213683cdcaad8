"""What the CLI reads from the environment (the library never does): where the store is
(environment variables, then the local server's state file) and the pseudonymisation key."""

from __future__ import annotations

import os
from pathlib import Path

from kg import server
from kg.errors import ConfigError, StoreError
from kg.privacy import KEY_ENV
from kg.store import LocalStore, Neo4jConfig, Neo4jStore

DEFAULT_HOME = Path(".graphrec")
DEFAULT_LOCAL_DIR = DEFAULT_HOME / "store"


def graphrec_home() -> Path:
    """``$GRAPHREC_HOME`` or ``./.graphrec``: local server, local store and run folders."""
    return Path(os.environ.get("GRAPHREC_HOME", str(DEFAULT_HOME)))


def pseudonym_key() -> str | None:
    """``$GRAPHREC_PSEUDONYM_KEY`` (None when unset)."""
    return os.environ.get(KEY_ENV) or None


def neo4j_home() -> Path:
    return graphrec_home() / "neo4j"


def neo4j_config() -> Neo4jConfig:
    """Connection settings from ``NEO4J_URI``/``NEO4J_USER``/``NEO4J_PASSWORD``/
    ``NEO4J_DATABASE``; without ``NEO4J_URI``, the server started by ``graphrec neo4j start``."""
    uri = os.environ.get("NEO4J_URI")
    if not uri:
        state = server.read_state(neo4j_home())
        if state is None:
            raise StoreError("no Neo4j to talk to: set NEO4J_URI (and NEO4J_USER/NEO4J_PASSWORD)"
                             " or run `graphrec neo4j start`")
        uri = state.uri
    return Neo4jConfig(uri=uri, user=os.environ.get("NEO4J_USER", "neo4j"),
                       password=os.environ.get("NEO4J_PASSWORD") or None,
                       database=os.environ.get("NEO4J_DATABASE", "neo4j"))


def open_neo4j() -> Neo4jStore:
    """Open the Neo4j store the environment names (see :func:`neo4j_config`)."""
    return Neo4jStore(neo4j_config())


def open_store(kind: str, directory: Path | None = None) -> LocalStore | Neo4jStore:
    """Open the ``neo4j`` or ``local`` store."""
    if kind == "neo4j":
        return open_neo4j()
    if kind == "local":
        return LocalStore(directory or graphrec_home() / "store")
    raise ConfigError(f"Could not resolve store {kind!r} among choices ['local', 'neo4j']")
