"""What a load reports, and graph statistics computed from canonical tables (both stores)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kg import schema
from kg.tables import KGTables


@dataclass(frozen=True)
class LoadReport:
    """What a load wrote.

    Attributes:
        nodes: node rows sent, per label.
        relationships: relationship rows sent, per type.
        seconds: wall time of the write phase, per step and ``total``.
        mode: how Neo4j wrote it: ``create`` (bulk path into an empty database) or ``merge``
            (idempotent upserts); ``atomic`` for the local store.
    """

    nodes: dict[str, int] = field(default_factory=dict)
    relationships: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    mode: str = "atomic"


def stats_from_tables(tables: KGTables) -> dict:
    """Counts of the graph that ``tables`` describe, laid out as both stores report them::

        {"totals": {"users", "items", "interactions", "scenarios", "attributes"},
         "nodes": {label: n}, "relationships": {type: n},
         "scenarios": {name: {"items", "users", "interactions"}}}
    """
    t = tables
    attr_keys = set()
    for table in (t.item_attributes, t.user_attributes):
        attr_keys.update(zip(table["kind"], table["value"], strict=True))
    rels = {schema.INTERACTED: len(t.interactions), schema.IN_SCENARIO: len(t.items)}
    for table in (t.item_attributes, t.user_attributes):
        for kind, n in table.groupby("kind").size().items():
            key = schema.has_kind_type(str(kind))
            rels[key] = rels.get(key, 0) + int(n)
    for rel, n in t.item_links.groupby("relation").size().items():
        rels[str(rel)] = int(n)
    # one group-by per table (not one mask per scenario: 30,000 scenarios stay fast)
    items_per = t.items.groupby("scenario").size()
    grouped = t.interactions.groupby("scenario")
    users_per, inter_per = grouped["user_id"].nunique(), grouped.size()
    per_scenario = {
        name: {"items": int(items_per.get(name, 0)), "users": int(users_per.get(name, 0)),
               "interactions": int(inter_per.get(name, 0))}
        for name in sorted(t.scenarios["scenario"])
    }
    nodes = {schema.USER: len(t.users), schema.ITEM: len(t.items),
             schema.SCENARIO: len(t.scenarios), schema.ATTRIBUTE: len(attr_keys)}
    return {
        "totals": {"users": len(t.users), "items": len(t.items),
                   "interactions": len(t.interactions), "scenarios": len(t.scenarios),
                   "attributes": len(attr_keys)},
        "nodes": nodes,
        "relationships": {k: v for k, v in sorted(rels.items()) if v},
        "scenarios": per_scenario,
    }
