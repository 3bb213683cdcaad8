"""Data sets in a store: a second, unrelated data set is refused unless merged or namespaced;
the same rule and the same verdicts on the local store and on a real Neo4j."""

from __future__ import annotations

import pandas as pd
import pytest

from kg.errors import DataError
from kg.store import LocalStore
from kg.store.datasets import DatasetConflictError, DatasetRecord, with_namespace
from kg.tables import KGTables, make_tables
from tests.helpers import assert_same_tables, tiny_tables

A = DatasetRecord(source="tiny /data/a")
B = DatasetRecord(source="other /data/b")


def other_tables() -> KGTables:
    """An unrelated data set that happens to reuse user ids u1, u2 (and has item z:1)."""
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["z"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2"]}),
        items=pd.DataFrame({"item_id": ["z:1"], "scenario": ["z"]}),
        interactions=pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["z:1", "z:1"],
                                   "scenario": ["z", "z"]}),
    ).validate()


@pytest.fixture(params=["local", pytest.param("neo4j", marks=pytest.mark.neo4j)])
def store(request, tmp_path):
    if request.param == "local":
        with LocalStore(tmp_path / "store") as local:
            yield local
    else:
        yield request.getfixturevalue("neo4j_store")


def test_a_second_data_set_is_refused_and_nothing_is_written(store):
    store.load(tiny_tables(), dataset=A, progress=False)
    store.load(tiny_tables(), dataset=A, progress=False)  # the same data set: idempotent
    with pytest.raises(DatasetConflictError, match="already holds tiny /data/a.*--namespace"):
        store.load(other_tables(), dataset=B, progress=False)
    assert_same_tables(store.read(), tiny_tables())
    assert [r.source for r in store.datasets()] == [A.source]
    assert store.datasets()[0].complete and store.datasets()[0].users == 5


def test_namespace_keeps_ids_apart_and_is_refused_when_taken(store):
    store.load(tiny_tables(), dataset=A, progress=False)
    spaced = with_namespace(other_tables(), "b")
    store.load(spaced, dataset=DatasetRecord(source=B.source, namespace="b"), progress=False)
    users = set(store.read().users["user_id"])
    assert {"u1", "u2", "b:u1", "b:u2"} <= users and len(users) == 7
    assert {r.label for r in store.datasets()} == {A.source, f"{B.source} (namespace b)"}
    with pytest.raises(DatasetConflictError, match="namespace 'b' is taken"):
        store.load(spaced, dataset=DatasetRecord(source="third", namespace="b"), progress=False)


def test_merge_joins_equal_ids(store):
    store.load(tiny_tables(), dataset=A, progress=False)
    store.load(other_tables(), dataset=B, merge=True, progress=False)
    graph = store.read()
    assert len(graph.users) == 5  # u1 and u2 are the same people in both
    assert set(graph.interactions[graph.interactions["user_id"] == "u1"]["scenario"]) == {
        "a", "b", "z"}
    assert len(store.datasets()) == 2


def test_clear_forgets_the_data_sets(store):
    store.load(tiny_tables(), dataset=A, progress=False)
    store.clear()
    assert store.datasets() == []
    store.load(other_tables(), dataset=B, progress=False)
    assert [r.source for r in store.datasets()] == [B.source]


def test_a_load_that_moves_an_item_is_refused_by_both_stores(store):
    """Same verdict on the same sequence of loads: re-using item a:1 in another scenario would
    leave its interactions in scenario a; nothing is written."""
    store.load(tiny_tables(), dataset=A, progress=False)
    moved = make_tables(
        scenarios=pd.DataFrame({"scenario": ["z"]}),
        users=pd.DataFrame({"user_id": ["x1"]}),
        items=pd.DataFrame({"item_id": ["a:1"], "scenario": ["z"]}),
        interactions=pd.DataFrame({"user_id": ["x1"], "item_id": ["a:1"], "scenario": ["z"]}),
    ).validate()
    with pytest.raises(DataError, match="scenario differs from the item's scenario"):
        store.load(moved, dataset=B, merge=True, progress=False)
    assert_same_tables(store.read(), tiny_tables())
    assert [r.source for r in store.datasets()] == [A.source]


def test_namespace_names_are_checked():
    with pytest.raises(Exception, match="namespace 'a b' is not allowed"):
        with_namespace(tiny_tables(), "a b")
