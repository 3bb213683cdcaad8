import multiprocessing
import random
import threading
import time

import pytest

from kg.errors import DataError, StoreError
from kg.store import LocalStore, stats_from_tables
from kg.store.datasets import DatasetRecord, with_namespace
from kg.tables import KGTables
from tests.helpers import assert_same_tables, tiny_tables


def test_round_trip_and_idempotent_reload(tmp_path):
    t = tiny_tables()
    with LocalStore(tmp_path / "s") as store:
        store.load(t, progress=False)
        assert_same_tables(store.read(), t)
        store.load(t, progress=False)
        assert_same_tables(store.read(), t)
        assert store.stats() == stats_from_tables(t)
        assert len(list((tmp_path / "s").glob("v*"))) == 1


def test_bad_input_leaves_the_store_as_it_was(tmp_path):
    t = tiny_tables()
    store = LocalStore(tmp_path / "s")
    store.load(t, progress=False)
    inter = t.interactions.copy()
    inter.loc[0, "item_id"] = "missing-item"
    bad = KGTables(**{**{n: t.table(n) for n in t.table_names()}, "interactions": inter})
    with pytest.raises(DataError, match="unknown item_id"):
        store.load(bad, progress=False)
    assert_same_tables(store.read(), t)


def test_scenario_read_and_stats(tmp_path):
    t = tiny_tables()
    store = LocalStore(tmp_path / "s")
    store.load(t, progress=False)
    assert_same_tables(store.read(["a"]), t.scenario_subgraph(["a"]))
    stats = store.stats()
    assert stats["totals"] == {"users": 5, "items": 6, "interactions": 7, "scenarios": 3,
                               "attributes": 5}
    assert stats["scenarios"]["a"] == {"items": 3, "users": 4, "interactions": 4}
    assert stats["relationships"]["HAS_BRAND"] == 4
    assert stats["relationships"]["HAS_GENDER"] == 2
    store.clear()
    assert store.stats()["totals"]["users"] == 0


def _load_namespaced(path: str, namespace: str, delay: float, barrier) -> None:
    tables = with_namespace(tiny_tables(), namespace)
    barrier.wait()
    time.sleep(delay)
    LocalStore(path).load(tables, dataset=DatasetRecord(source=namespace, namespace=namespace),
                          progress=False)


@pytest.mark.heavy
@pytest.mark.parametrize("seed", [0, 1])
def test_concurrent_loads_from_two_processes_all_land(tmp_path, seed):
    """Writers are serialised by a file lock: over 25 rounds of two processes loading at once
    (start offsets of 0-30 ms, so the read-merge-switch steps interleave differently; 50
    rounds over the two seeds), no load overwrites another's version."""
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(seed)
    path = str(tmp_path / "s")
    rounds = 25
    for r in range(rounds):
        barrier = ctx.Barrier(2)
        procs = [ctx.Process(target=_load_namespaced,
                             args=(path, f"r{r}{side}", rng.uniform(0, 0.03), barrier))
                 for side in "ab"]
        for p in procs:
            p.start()
        for p in procs:
            p.join(30)
            assert p.exitcode == 0
    store = LocalStore(path)
    assert len(store.read().users) == 5 * 2 * rounds
    assert len(store.datasets()) == 2 * rounds


def test_a_second_writer_waits_for_the_lock_or_gives_up(tmp_path, capfd):
    holder = LocalStore(tmp_path / "s")
    entered, release = threading.Event(), threading.Event()

    def hold() -> None:
        with holder._writing():
            entered.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    entered.wait(30)
    with pytest.raises(StoreError, match="being written by another process"):
        LocalStore(tmp_path / "s", lock_timeout=0.5).load(tiny_tables(), progress=False)
    assert "waiting for another load" in capfd.readouterr().err
    threading.Timer(0.5, release.set).start()
    LocalStore(tmp_path / "s", lock_timeout=30).load(tiny_tables(), progress=False)
    thread.join()
    assert_same_tables(LocalStore(tmp_path / "s").read(), tiny_tables())


def test_leftovers_of_a_killed_load_are_recovered(tmp_path):
    """A crash after the version rename but before the CURRENT switch leaves a newer version
    that CURRENT does not name, plus a .tmp folder: the next load cleans both and works."""
    path = tmp_path / "s"
    store = LocalStore(path)
    store.load(tiny_tables(), progress=False)
    live = (path / "CURRENT").read_text()
    orphan = path / f"v{int(live[1:]) + 1:06d}"
    orphan.mkdir()
    (orphan / "items.parquet").write_bytes(b"partial")
    (path / ".tmp-v000009-12345").mkdir()
    assert_same_tables(store.read(), tiny_tables())  # still readable
    store.load(tiny_tables(), progress=False)  # and writable
    assert_same_tables(store.read(), tiny_tables())
    assert sorted(p.name for p in path.iterdir() if p.name not in ("CURRENT", ".lock")) == [
        (path / "CURRENT").read_text()]


def test_stats_per_scenario_match_a_direct_count_on_many_scenarios():
    """Per-scenario counts come from group-bys; check them against a direct count."""
    import pandas as pd

    from kg.tables import make_tables

    n = 3000
    scen = [f"s{k}" for k in range(n)]
    items = pd.DataFrame({"item_id": [f"i{k}" for k in range(n)], "scenario": scen})
    inter = pd.DataFrame({"user_id": [f"u{k % 7}" for k in range(2 * n)],
                          "item_id": [f"i{k % n}" for k in range(2 * n)],
                          "scenario": [scen[k % n] for k in range(2 * n)]})
    t = make_tables(scenarios=pd.DataFrame({"scenario": scen + ["empty"]}),
                    users=pd.DataFrame({"user_id": [f"u{k}" for k in range(7)]}),
                    items=items, interactions=inter).validate()
    per = stats_from_tables(t)["scenarios"]
    assert per["empty"] == {"items": 0, "users": 0, "interactions": 0}
    for name in ("s0", "s1234", f"s{n - 1}"):
        rows = t.interactions[t.interactions["scenario"] == name]
        assert per[name] == {"items": 1, "users": rows["user_id"].nunique(),
                             "interactions": len(rows)}


def _load_forever(path: str, tables: KGTables, started) -> None:
    started.set()
    while True:  # re-loads until killed, so the kill lands at any step of a load
        LocalStore(path).load(tables, dataset=DatasetRecord(source="big"), merge=True,
                              progress=False)


@pytest.mark.heavy
def test_kill_9_at_many_points_leaves_the_old_or_the_new_graph(tmp_path):
    """A writer killed with SIGKILL at 12 random moments: each time the store reads as one
    whole graph (never a mix), and the next load gives exact content."""
    from loaders import SyntheticConfig, generate_synthetic

    big = generate_synthetic(SyntheticConfig(n_users=400, seed=1)).tables
    path = str(tmp_path / "s")
    LocalStore(path).load(tiny_tables(), dataset=DatasetRecord(source="big"), progress=False)
    merged = tiny_tables().union(big)
    ctx = multiprocessing.get_context("fork")
    rng = random.Random(0)
    for _ in range(12):
        started = ctx.Event()
        proc = ctx.Process(target=_load_forever, args=(path, big, started))
        proc.start()
        started.wait(10)
        time.sleep(rng.uniform(0.05, 0.6))
        proc.kill()
        proc.join(10)
        got = LocalStore(path).read()
        assert len(got.users) in (len(tiny_tables().users), len(merged.users))
        assert_same_tables(got, merged if len(got.users) == len(merged.users)
                           else tiny_tables())
    LocalStore(path, lock_timeout=5).load(big, dataset=DatasetRecord(source="big"),
                                          merge=True, progress=False)
    assert_same_tables(LocalStore(path).read(), merged)
    leftovers = [p.name for p in (tmp_path / "s").iterdir() if p.name.startswith(".tmp-")]
    assert leftovers == []
