"""Shared fixtures. Neo4j tests use the real server whose URI is in ``NEO4J_URI`` (scripts/test.sh
starts it with the project's launcher); without it, one is started here by the same launcher.

scripts/test.sh runs the suite on two pytest-xdist workers. The shared server has one database,
which every ``neo4j_store`` test empties and fills, so those tests take a file lock named after
the server's URI: one at a time per server, across workers and across pytest sessions. Tests
marked ``heavy`` (their own processes, servers or kernels) take the session's heavy lock: two of
them running at once on the machine's two cores slowed each other towards the 30 s a test
may take. Each of the two kinds is also one ``xdist_group``, so that under ``--dist loadgroup``
(scripts/test.sh) one worker runs a kind in turn while the other runs the rest, instead of
waiting on the lock; the locks still hold under any other schedule."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from kg import server
from kg.server import free_port
from kg.store import Neo4jConfig, Neo4jStore


@contextmanager
def held(path: Path) -> Iterator[None]:
    """An exclusive lock on the file ``path`` (created if missing), across processes, for the
    ``with``; released when the file closes, also when the process dies."""
    with open(path, "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Group the tests that would wait for each other, for ``--dist loadgroup`` (scripts/test.sh):
    the ``heavy`` ones, then those on the shared server, each group on one worker in turn. A
    worker then never sits idle on a lock while the other runs a test of its group."""
    for item in items:
        if item.get_closest_marker("heavy") is not None:
            item.add_marker(pytest.mark.xdist_group("heavy"))
        elif "neo4j_store" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.xdist_group("shared-neo4j"))


def heavy_lock_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The session's heavy-test lock: in the parent of a worker's base temp folder, which the
    session's workers share."""
    return tmp_path_factory.getbasetemp().parent / "graphrec-tests-heavy.lock"


@pytest.fixture(autouse=True)
def _one_heavy_test_at_a_time(request: pytest.FixtureRequest,
                              tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    if request.node.get_closest_marker("heavy") is None:
        yield
        return
    with held(heavy_lock_path(tmp_path_factory)):
        yield


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


def server_lock_path(uri: str) -> Path:
    """The lock file of the tests on the server at ``uri`` (in the system's temporary folder)."""
    digest = hashlib.sha256(uri.encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"graphrec-tests-neo4j-{digest}.lock"


@pytest.fixture
def neo4j_store(neo4j_config: Neo4jConfig) -> Iterator[Neo4jStore]:
    """A store on the real server, emptied before and after the test, held by this test alone
    (see the module's docstring)."""
    with held(server_lock_path(neo4j_config.uri)):
        with Neo4jStore(neo4j_config) as store:
            store.clear()
            yield store
            store.clear()
