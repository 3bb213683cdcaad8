import pytest

from kg.errors import DataError
from kg.store import LocalStore, stats_from_tables
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
