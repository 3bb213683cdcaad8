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
from tests.conftest import free_port, heavy_lock_path, held
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
    """A load cut off by killing its server: the server's home and port, the tables, and
    what the load raised."""

    home: Path
    port: int
    uri: str
    tables: KGTables
    errors: list[BaseException]


@dataclass
class Restarted:
    """The killed server started again on its store, and what the store held right then."""

    uri: str
    tables: KGTables
    partial: int
    records: list
    refusal: str


@pytest.fixture(scope="module")
def killed_mid_load(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KilledLoad]:
    """Start a server of its own and kill it in the middle of a load. The scenario is made
    once, in two steps (this kill, then :func:`restarted_after_kill`), for the three tests
    below: its two server starts are most of its cost. Each step holds the heavy lock, as
    the tests do, and records what the tests assert, so they may run in any order."""
    home = tmp_path_factory.mktemp("crash")
    port = free_port()
    try:
        with held(heavy_lock_path(tmp_path_factory)):
            state = server.start(home, port)
            tables = cut_off_load_tables()
            # no retry: the load fails as soon as the server is gone (a retry only waits)
            config = Neo4jConfig(uri=state.uri, batch_size=500, max_retry_time=0.0)
            errors: list[BaseException] = []
            with Neo4jStore(config) as store:
                def run() -> None:
                    try:
                        store.load(tables, progress=False)
                    except BaseException as exc:  # the load must fail: the test asserts it
                        errors.append(exc)

                loader = threading.Thread(target=run)
                loader.start()
                with Neo4jStore(config) as probe:
                    while probe.run_read("MATCH ()-[r:INTERACTED]->() RETURN count(r) AS n"
                                         )[0]["n"] < 500:
                        time.sleep(0.05)  # poll, leaving the two cores to the load
                server.kill(home)
                loader.join(timeout=120)
        yield KilledLoad(home, port, state.uri, tables, errors)
    finally:  # a throwaway instance: no graceful shutdown (the auth test covers stop)
        server.kill(home)
        server.stop(home)


@pytest.fixture(scope="module")
def restarted_after_kill(killed_mid_load: KilledLoad,
                         tmp_path_factory: pytest.TempPathFactory) -> Restarted:
    """The killed server started again (store recovery), and its store read right then."""
    killed = killed_mid_load
    with held(heavy_lock_path(tmp_path_factory)):
        server.start(killed.home, killed.port)
        with Neo4jStore(Neo4jConfig(uri=killed.uri)) as store:
            partial = store.stats()["totals"]["interactions"]
            records = store.datasets()
            try:
                store.read()
                refusal = ""
            except StoreError as exc:
                refusal = str(exc)
    return Restarted(killed.uri, killed.tables, partial, records, refusal)


@pytest.mark.heavy
def test_a_load_whose_server_is_killed_fails_with_a_store_error(killed_mid_load):
    assert killed_mid_load.errors and isinstance(killed_mid_load.errors[0], StoreError)


@pytest.mark.heavy
def test_the_restarted_store_keeps_the_committed_batches_flagged(restarted_after_kill):
    restarted = restarted_after_kill
    # the batches committed before the kill survive recovery, no more
    assert 0 < restarted.partial < len(restarted.tables.interactions)
    [record] = restarted.records  # the cut-off load is on record, and flagged
    assert record.finished is None and record.started
    assert "incomplete load of unnamed" in restarted.refusal  # reading refuses it


@pytest.mark.heavy
def test_the_load_rerun_after_the_kill_completes_it_exactly(restarted_after_kill):
    tables = restarted_after_kill.tables
    with Neo4jStore(Neo4jConfig(uri=restarted_after_kill.uri)) as store:
        store.load(tables, progress=False)
        assert store.stats() == stats_from_tables(tables)
        assert [r.complete for r in store.datasets()] == [True]
        assert store.read().counts() == tables.normalized().counts()
