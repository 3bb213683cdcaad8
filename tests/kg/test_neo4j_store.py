"""Neo4j store against the real server (started by the project's launcher)."""

import dataclasses
import multiprocessing
import os
import signal

import pandas as pd
import pytest

from kg.cookbook import cookbook, get_query
from kg.errors import ConfigError, DataError, StoreError
from kg.store import LocalStore, Neo4jStore, stats_from_tables
from kg.tables import KGTables, make_tables
from tests.helpers import (
    assert_cut_off_then_completed,
    assert_same_tables,
    cut_off_load_tables,
    tiny_tables,
)

pytestmark = pytest.mark.neo4j


def test_round_trip_gives_identical_tables(neo4j_store):
    t = tiny_tables()
    neo4j_store.load(t, progress=False)
    assert_same_tables(neo4j_store.read(), t)
    assert_same_tables(neo4j_store.read(["a"]), t.scenario_subgraph(["a"]))


def test_reload_is_idempotent_and_stats_match_the_local_store(neo4j_store, tmp_path, capsys):
    t = tiny_tables()
    neo4j_store.load(t, progress=False)
    neo4j_store.load(t, progress=True)  # stderr is captured, not a terminal: no bar frames
    assert "\r" not in capsys.readouterr().err
    local = LocalStore(tmp_path / "local")
    local.load(t, progress=False)
    assert neo4j_store.stats() == local.stats() == stats_from_tables(t)


def _load_then_die(config, tables: KGTables, after: int) -> None:
    """Load ``tables``, and SIGKILL this process right after its ``after``-th batch of
    interactions is written: a loader that dies mid-load (killed, out of memory), with no
    chance to clean up."""
    store = Neo4jStore(config)
    written = 0
    run_write = store.run_write

    def counting(query: str, **params):
        nonlocal written
        result = run_write(query, **params)
        if ":INTERACTED" in query:
            written += 1
            if written == after:
                os.kill(os.getpid(), signal.SIGKILL)
        return result

    store.run_write = counting
    store.load(tables, progress=False)


def test_a_load_whose_loader_dies_is_flagged_and_a_rerun_completes_it(neo4j_store):
    """The server lives on and the loader dies: the batches it wrote stay, the load is on
    record as cut off, reading refuses the partial graph, and the same load run again
    completes it exactly (the server's own death mid-load: tests/kg/test_neo4j_faults.py)."""
    tables = cut_off_load_tables()
    config = dataclasses.replace(neo4j_store.config, batch_size=500)
    proc = multiprocessing.get_context("fork").Process(target=_load_then_die,
                                                       args=(config, tables, 2))
    proc.start()
    proc.join(120)
    if proc.is_alive():  # hung: end it, and fail below
        proc.kill()
        proc.join()
    assert proc.exitcode == -signal.SIGKILL
    report = assert_cut_off_then_completed(neo4j_store, tables)
    assert report.mode == "merge"  # the database is no longer empty
    assert_same_tables(neo4j_store.read(), tables)


def test_bad_input_writes_nothing(neo4j_store):
    t = tiny_tables()
    inter = t.interactions.copy()
    inter.loc[6, "weight"] = float("inf")
    bad = KGTables(**{**{n: t.table(n) for n in t.table_names()}, "interactions": inter})
    with pytest.raises(DataError, match="finite"):
        neo4j_store.load(bad, progress=False)
    assert neo4j_store.stats()["totals"]["users"] == 0
    assert neo4j_store.run_read("MATCH (n) RETURN count(n) AS n")[0]["n"] == 0


def test_hostile_strings_are_stored_as_data(neo4j_store):
    evil = "x'}) DETACH DELETE n //\"`;MATCH (m) DELETE m"
    t = make_tables(
        scenarios=pd.DataFrame({"scenario": ["s"]}),
        users=pd.DataFrame({"user_id": [evil, "ok"]}),
        items=pd.DataFrame({"item_id": [evil + "i", "i2"], "scenario": "s"}),
        interactions=pd.DataFrame({"user_id": [evil, "ok"], "item_id": [evil + "i", "i2"],
                                   "scenario": "s"}),
        item_attributes=pd.DataFrame({"item_id": [evil + "i"], "kind": ["brand"],
                                      "value": [evil]}),
    ).validate()
    neo4j_store.load(t, progress=False)
    assert_same_tables(neo4j_store.read(), t)


def test_every_cookbook_query_runs_with_expected_rows(neo4j_store):
    neo4j_store.load(tiny_tables(), progress=False)
    params = {
        "scenario_overview": {},
        "bridging_users": {"scenario_a": "a", "scenario_b": "b"},
        "shared_attributes": {"scenario_a": "a", "scenario_b": "b"},
        "item_neighbourhood": {"item": "a:1"},
        "shortest_path": {"user": "u4", "item": "b:1"},
    }
    # similar_items needs learned embeddings: tests/graphrec/test_export.py
    assert set(cookbook()) - {"similar_items"} == set(params), "every query needs a test here"
    rows = {name: neo4j_store.run_read(get_query(name).text, **get_query(name).bind(p))
            for name, p in params.items()}
    assert rows["scenario_overview"] == [
        {"scenario": "a", "items": 3, "users": 4, "interactions": 4},
        {"scenario": "b", "items": 2, "users": 2, "interactions": 2},
        {"scenario": "c", "items": 1, "users": 1, "interactions": 1}]
    assert {r["user"] for r in rows["bridging_users"]} == {"u1", "u2"}
    assert [(r["kind"], r["value"]) for r in rows["shared_attributes"]] == [
        ("category", "shoes"), ("brand", "acme")]
    hood = {(r["relation"], r["count"]) for r in rows["item_neighbourhood"]}
    assert hood == {("ALSO_VIEWED", 1), ("HAS_BRAND", 1), ("HAS_CATEGORY", 1),
                    ("INTERACTED", 2), ("IN_SCENARIO", 1), ("SAME_PRODUCT", 1)}
    # u4 -> c:1 -> zeta -> a:2 -> ... -> b:1: the path must avoid the Scenario hubs
    path = rows["shortest_path"][0]
    assert path["path"][0] == "u4" and path["path"][-1] == "b:1"
    assert "IN_SCENARIO" not in path["relations"] and path["hops"] == len(path["relations"])


def test_cookbook_parameters_are_checked():
    q = get_query("bridging_users")
    with pytest.raises(ConfigError, match="needs parameter 'scenario_b'"):
        q.bind({"scenario_a": "a"})
    with pytest.raises(ConfigError, match="must be int"):
        q.bind({"scenario_a": "a", "scenario_b": "b", "limit": "ten"})
    with pytest.raises(ConfigError, match="no parameter"):
        q.bind({"scenario_a": "a", "scenario_b": "b", "lmit": "3"})
    assert q.bind({"scenario_a": "a", "scenario_b": "b", "limit": "3"})["limit"] == 3
    for huge in ("99999999999999999999999", "0", "-3"):
        with pytest.raises(ConfigError, match="must be between 1 and 10000"):
            q.bind({"scenario_a": "a", "scenario_b": "b", "limit": huge})
    with pytest.raises(ConfigError, match="must be int"):
        q.bind({"scenario_a": "a", "scenario_b": "b", "limit": "1e999"})


def test_routing_uri_reads_and_writes_through_the_routing_table(neo4j_store):
    """``neo4j://`` (clusters, Aura): the driver asks the server for a routing table and sends
    writes to its writers and reads to its readers; a single server routes to itself."""
    config = neo4j_store.config
    host = config.uri.split("://", 1)[1]
    routed = dataclasses.replace(config, uri=f"neo4j://{host}")
    with Neo4jStore(routed) as store:
        store.load(tiny_tables(), progress=False)
        assert_same_tables(store.read(), tiny_tables())
        assert store.stats() == neo4j_store.stats()
    with pytest.raises(StoreError, match="invalid Neo4j URI 'neo5://"):
        Neo4jStore(dataclasses.replace(config, uri=f"neo5://{host}"))


def test_bulk_create_path_and_merge_path_write_the_same_graph(neo4j_store):
    from loaders import SyntheticConfig, generate_synthetic

    tables = generate_synthetic(SyntheticConfig(n_users=150, seed=4)).tables
    report = neo4j_store.load(tables, progress=False)  # empty database: the bulk path
    assert report.mode == "create"
    assert report.relationships["INTERACTED"] == len(tables.interactions)
    created = neo4j_store.read()
    assert_same_tables(created, tables)
    assert neo4j_store.load(tables, progress=False).mode == "merge"  # a re-run: idempotent
    assert_same_tables(neo4j_store.read(), tables)
    with pytest.raises(StoreError, match="needs an empty database"):
        neo4j_store.load(tables, progress=False, mode="create")
    neo4j_store.clear()
    assert neo4j_store.load(tables, progress=False, mode="merge").mode == "merge"
    assert_same_tables(neo4j_store.read(), created)
