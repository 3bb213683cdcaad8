"""Server lifecycle, authentication and a load interrupted by killing the server, each on a
server instance of its own started by the project's launcher."""

import json
import os
import socket
import stat
import subprocess
import threading
import time
from pathlib import Path

import pytest

from kg import server
from kg.errors import StoreError
from kg.store import Neo4jConfig, Neo4jStore
from tests.conftest import free_port
from tests.helpers import assert_cut_off_then_completed, cut_off_load_tables

pytestmark = pytest.mark.neo4j


def non_loopback_address() -> str | None:
    """An address of this machine other than 127.0.0.0/8, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("10.255.255.255", 1))  # no packet is sent for UDP connect
            address = sock.getsockname()[0]
        except OSError:
            return None
    return None if address.startswith("127.") else address


@pytest.mark.heavy
def test_auth_enabled_server(tmp_path):
    password = os.environ.get("GRAPHREC_TEST_NEO4J_PASSWORD") or "a-Test-secret-42"
    home = tmp_path / "auth"
    port = free_port()
    states: list = []

    def start_one() -> None:
        states.append(server.start(home, port, password=password))

    starters = [threading.Thread(target=start_one) for _ in range(2)]  # two starts at once
    for t in starters:
        t.start()
    for t in starters:
        t.join(300)
    assert len(states) == 2 and states[0].pid == states[1].pid  # one JVM, both told of it
    state = states[0]
    try:
        again = server.start(home, port, password=password)  # idempotent: same process
        assert again.pid == state.pid and state.auth
        assert stat.S_IMODE((home / "data").stat().st_mode) == 0o700
        outside = non_loopback_address()
        if outside is not None:  # Bolt listens on 127.0.0.1 only
            assert not server._port_open(port, host=outside)
        assert server.status(home)["bolt"]
        for where in (home / "server.json", home / "server.log"):
            assert password not in where.read_text()
        assert json.loads((home / "server.json").read_text())["auth"] is True
        with pytest.raises(StoreError, match="refused the credentials"):
            Neo4jStore(Neo4jConfig(uri=state.uri, password=password + "-wrong"))
        with pytest.raises(StoreError, match="credentials"):
            Neo4jStore(Neo4jConfig(uri=state.uri, password=None))
        config = Neo4jConfig(uri=state.uri, password=password)
        assert password not in repr(config)
        with Neo4jStore(config) as store:
            assert store.run_read("RETURN 1 AS one") == [{"one": 1}]
            # a local store of the user's data sends no usage report to Neo4j
            assert store.run_read("SHOW SETTINGS YIELD name, value "
                                  "WHERE name = 'dbms.usage_report.enabled' RETURN value"
                                  ) == [{"value": "false"}]
    finally:
        assert server.stop(home)
    assert not server.status(home)["running"]
    if state.class_dump:  # a first start: the clean stop kept the classes its JVM dumped
        dump = Path(state.class_dump)
        assert not dump.exists() and server.archive_of(dump).stat().st_size
    assert not server.stop(home)
    # the store remembers that it was created with authentication
    with pytest.raises(StoreError, match="created with authentication.*--no-auth"):
        server.start(home, port)
    assert not server.status(home)["running"]


def test_stop_never_signals_a_process_that_is_not_our_server(tmp_path):
    """A stale server.json whose pid now belongs to another process: stop leaves it alone."""
    other = subprocess.Popen(["sleep", "60"])
    try:
        home = tmp_path / "stale"
        home.mkdir()
        (home / "server.json").write_text(json.dumps({
            "uri": "bolt://127.0.0.1:1", "pid": other.pid, "port": 1, "home": str(home),
            "auth": False, "started_at": 0.0}))
        assert not server.status(home)["running"]
        assert not server.stop(home)
        assert other.poll() is None  # still alive: not signalled
        assert not (home / "server.json").exists()  # the stale record is gone
    finally:
        other.kill()
        other.wait()


@pytest.mark.heavy
def test_load_interrupted_by_killing_the_server_then_rerun_is_exact(tmp_path):
    home = tmp_path / "crash"
    port = free_port()
    state = server.start(home, port)
    tables = cut_off_load_tables()
    # no retry: the load fails as soon as the server is gone (a retry only waits for it)
    config = Neo4jConfig(uri=state.uri, batch_size=500, max_retry_time=0.0)
    errors: list[BaseException] = []
    try:
        with Neo4jStore(config) as store:
            def run() -> None:
                try:
                    store.load(tables, progress=False)
                except BaseException as exc:  # the load must fail: collect, assert below
                    errors.append(exc)

            loader = threading.Thread(target=run)
            loader.start()
            with Neo4jStore(config) as probe:
                while probe.run_read("MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n")[0]["n"] \
                        < 500:
                    time.sleep(0.05)  # poll, leaving the two cores to the load
            server.kill(home)
            loader.join(timeout=120)
        assert errors and isinstance(errors[0], StoreError)

        server.start(home, port)
        with Neo4jStore(Neo4jConfig(uri=state.uri)) as store:
            assert_cut_off_then_completed(store, tables)
            assert store.read().counts() == tables.normalized().counts()
    finally:  # a throwaway instance: no graceful shutdown (the auth test covers stop)
        server.kill(home)
        server.stop(home)
