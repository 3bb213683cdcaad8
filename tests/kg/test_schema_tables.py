import pandas as pd
import pytest

from kg import schema
from kg.errors import DataError, SchemaError
from kg.tables import KGTables
from tests.helpers import tiny_tables


@pytest.mark.parametrize("kind", ["Brand", "brand]->(x) DETACH DELETE x //", "", "user",
                                  "1brand", "brand-name", "b" * 41])
def test_bad_attribute_kinds_are_rejected(kind):
    with pytest.raises(SchemaError, match="attribute kind"):
        schema.has_kind_type(kind)


def test_kind_names_map_to_types_and_edges():
    assert schema.has_kind_type("brand") == "HAS_BRAND"
    edge = schema.item_attribute_edge("brand")
    assert edge == ("item", "has_brand", "brand")
    assert schema.reverse_edge(edge) == ("brand", "rev_has_brand", "item")
    assert schema.reverse_edge(schema.reverse_edge(edge)) == edge


def _with(tables: KGTables, name: str, df: pd.DataFrame) -> KGTables:
    return KGTables(**{**{n: tables.table(n) for n in tables.table_names()}, name: df})


def test_tiny_graph_is_valid():
    t = tiny_tables()
    assert t.counts()["interactions"] == 7


@pytest.mark.parametrize("table, change, message", [
    ("users", lambda df: pd.concat([df, df.iloc[:1]]), "duplicate key"),
    ("items", lambda df: df.assign(scenario=["a", "a", "a", "b", "b", "zz"]),
     "unknown scenario"),
    ("interactions", lambda df: df.assign(item_id=list(df["item_id"][:6]) + ["nope"]),
     "unknown item_id"),
    ("interactions", lambda df: df.assign(scenario=["b"] + list(df["scenario"][1:])),
     "scenario differs"),
    ("interactions", lambda df: df.assign(weight=[float("nan")] + [1.0] * 6),
     "finite number"),
    ("item_links", lambda df: df.assign(other_id=["a:1", "a:2"]), "link to itself"),
    ("item_attributes", lambda df: df.assign(extra=1), "unexpected"),
    ("users", lambda df: df.assign(user_id=["", "u2", "u3", "u4", "u5"]), "non-empty"),
])
def test_validation_names_table_row_and_rule(table, change, message):
    t = tiny_tables()
    bad = _with(t, table, change(t.table(table).reset_index(drop=True)))
    with pytest.raises(DataError, match=message) as info:
        bad.validate()
    assert str(info.value).startswith(table)


def test_union_is_an_upsert_by_key():
    t = tiny_tables()
    changed = t.interactions.copy()
    changed.loc[changed["user_id"] == "u1", "weight"] = 9.0
    merged = t.union(_with(t, "interactions", changed))
    assert merged.counts() == t.counts()
    assert set(merged.interactions.loc[merged.interactions.user_id == "u1", "weight"]) == {9.0}


def test_scenario_subgraph_keeps_only_what_touches_the_scenarios():
    sub = tiny_tables().scenario_subgraph(["b"])
    assert set(sub.items["item_id"]) == {"b:1", "b:2"}
    assert set(sub.users["user_id"]) == {"u1", "u2"}
    assert sub.item_links.empty  # the SAME_PRODUCT link leaves the subgraph
    sub.validate()
