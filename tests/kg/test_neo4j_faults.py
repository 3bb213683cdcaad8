"""Server lifecycle, authentication and a load interrupted by killing the server, each on a
server instance of its own started by the project's launcher."""

import json
import os
import socket
import stat
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from kg import server
from kg.errors import StoreError
from kg.store import Neo4jConfig, Neo4jStore, stats_from_tables
from kg.tables import KGTables
from tests.conftest import free_port, held
from tests.helpers import cut_off_load_tables

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


@dataclass
class KilledLoad:
    """A load cut off by killing its server, and the server started again on that store:
    what the load raised and what the store held right after the restart."""

    uri: str
    tables: KGTables
    errors: list[BaseException]
    partial: int
    records: list
    refusal: str


@pytest.fixture(scope="module")
def killed_mid_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KilledLoad]:
    """Start a server of its own, kill it in the middle of a load, start it again. Made once
    for the two tests below (two server starts are most of its cost), under the heavy lock
    (tests/conftest.py) like the tests themselves; what they assert is read here, right after
    the restart, so either may run first."""
    home = tmp_path_factory.mktemp("crash")
    port = free_port()
    heavy = tmp_path_factory.getbasetemp().parent / "graphrec-tests-heavy.lock"
    try:
        with held(heavy):
            state = server.start(home, port)
            tables = cut_off_load_tables()
            # no retry: the load fails as soon as the server is gone (a retry only waits)
            config = Neo4jConfig(uri=state.uri, batch_size=500, max_retry_time=0.0)
            errors: list[BaseException] = []
            with Neo4jStore(config) as store:
                def run() -> None:
                    try:
                        store.load(tables, progress=False)
                    except BaseException as exc:  # the load must fail: the tests assert it
                        errors.append(exc)

                loader = threading.Thread(target=run)
                loader.start()
                with Neo4jStore(config) as probe:
                    while probe.run_read("MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n"
                                         )[0]["n"] < 500:
                        time.sleep(0.05)  # poll, leaving the two cores to the load
                server.kill(home)
                loader.join(timeout=120)
            server.start(home, port)
            with Neo4jStore(Neo4jConfig(uri=state.uri)) as store:
                partial = store.stats()["totals"]["interactions"]
                records = store.datasets()
                try:
                    store.read()
                    refusal = ""
                except StoreError as exc:
                    refusal = str(exc)
        yield KilledLoad(state.uri, tables, errors, partial, records, refusal)
    finally:  # a throwaway instance: no graceful shutdown (the auth test covers stop)
        server.kill(home)
        server.stop(home)


@pytest.mark.heavy
def test_killing_the_server_mid_load_keeps_the_committed_batches_flagged(killed_mid_load):
    killed = killed_mid_load
    assert killed.errors and isinstance(killed.errors[0], StoreError)
    # the restarted store holds the batches committed before the kill, no more
    assert 0 < killed.partial < len(killed.tables.interactions)
    [record] = killed.records  # the cut-off load is on record, and flagged
    assert record.finished is None and record.started
    assert "incomplete load of unnamed" in killed.refusal  # reading refuses it


@pytest.mark.heavy
def test_the_load_rerun_after_the_kill_completes_it_exactly(killed_mid_load):
    tables = killed_mid_load.tables
    with Neo4jStore(Neo4jConfig(uri=killed_mid_load.uri)) as store:
        store.load(tables, progress=False)
        assert store.stats() == stats_from_tables(tables)
        assert [r.complete for r in store.datasets()] == [True]
        assert store.read().counts() == tables.normalized().counts()
