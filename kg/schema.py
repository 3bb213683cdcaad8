"""The knowledge-graph schema, in one place.

Every Neo4j label, relationship type, property key and PyG edge type used by the project is named
here; other modules import these names instead of spelling them. Attribute kinds (``brand``,
``genre``, ``gender`` ...) come from data, so they are checked against :data:`KIND_PATTERN` before
they are turned into a relationship type or a PyG node type.

Graph (Neo4j)::

    (:User {user_id})-[:INTERACTED {scenario, weight, ts, split}]->(:Item {item_id, scenario})
    (:Item)-[:IN_SCENARIO]->(:Scenario {name})
    (:Item)-[:HAS_<KIND>]->(:Attribute {key, kind, value})      e.g. HAS_BRAND, HAS_GENRE
    (:User)-[:HAS_<KIND>]->(:Attribute {key, kind, value})      e.g. HAS_GENDER
    (:Item)-[:SAME_PRODUCT]->(:Item)      the same product in another scenario (platform, market)
    (:Item)-[:ALSO_VIEWED]->(:Item)       co-view links inside a scenario
    (:Item)-[:CO_INTERACTED]->(:Item)     aggregated co-interactions of an isolated scenario

PyG (``HeteroData``) node types are ``user``, ``item``, ``scenario`` and one per attribute kind;
every edge type has a reverse type (``rev_<relation>``) so attribute nodes are updated during
message passing.
"""

from __future__ import annotations

import re

from kg.errors import SchemaError

# Node labels
USER = "User"
ITEM = "Item"
SCENARIO = "Scenario"
ATTRIBUTE = "Attribute"
NODE_LABELS: tuple[str, ...] = (USER, ITEM, SCENARIO, ATTRIBUTE)

# Unique key property of each label (a uniqueness constraint is created on it).
NODE_KEYS: dict[str, str] = {USER: "user_id", ITEM: "item_id", SCENARIO: "name", ATTRIBUTE: "key"}

# Relationship types with a fixed name
INTERACTED = "INTERACTED"
IN_SCENARIO = "IN_SCENARIO"
SAME_PRODUCT = "SAME_PRODUCT"
ALSO_VIEWED = "ALSO_VIEWED"
CO_INTERACTED = "CO_INTERACTED"
ITEM_LINK_TYPES: tuple[str, ...] = (SAME_PRODUCT, ALSO_VIEWED, CO_INTERACTED)

# Splits whose interactions are observed training data (``all``: a data set without a split)
TRAIN_SPLITS: tuple[str, ...] = ("train", "all")

# Attribute kinds: lower-case identifiers; they become HAS_<KIND> and a PyG node type.
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
RESERVED_KINDS = frozenset({"user", "item", "scenario", "attribute"})
ATTRIBUTE_KEY_SEPARATOR = ":"

# Scenario names end up in file names and in metric tables: keep them tame.
SCENARIO_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")

# PyG node types with a fixed name
PYG_USER = "user"
PYG_ITEM = "item"
PYG_SCENARIO = "scenario"


def check_kind(kind: str) -> str:
    """Return ``kind`` when it is a valid attribute kind, else raise :class:`SchemaError`."""
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind) or kind in RESERVED_KINDS:
        raise SchemaError(
            f"attribute kind {kind!r} is not allowed: kinds must match {KIND_PATTERN.pattern} "
            f"and not be one of {sorted(RESERVED_KINDS)} (rename the column, e.g. 'brand')"
        )
    return kind


def check_scenario(name: str) -> str:
    """Return ``name`` when it is a valid scenario name, else raise :class:`SchemaError`."""
    if not isinstance(name, str) or not SCENARIO_PATTERN.match(name):
        raise SchemaError(
            f"scenario name {name!r} is not allowed: names must match {SCENARIO_PATTERN.pattern}"
        )
    return name


def has_kind_type(kind: str) -> str:
    """Relationship type linking a node to an attribute of ``kind``: ``brand`` -> ``HAS_BRAND``."""
    return "HAS_" + check_kind(kind).upper()


def attribute_key(kind: str, value: str) -> str:
    """Unique key of an attribute node: ``brand:Sony``."""
    return f"{kind}{ATTRIBUTE_KEY_SEPARATOR}{value}"


def check_item_link_type(rel_type: str) -> str:
    """Return ``rel_type`` when it is a known item-item relationship type."""
    if rel_type not in ITEM_LINK_TYPES:
        raise SchemaError(
            f"item link type {rel_type!r} is unknown; choose among {list(ITEM_LINK_TYPES)}"
        )
    return rel_type


# PyG edge types -------------------------------------------------------------------------------

EdgeType = tuple[str, str, str]

USER_ITEM: EdgeType = (PYG_USER, "interacted", PYG_ITEM)
ITEM_SCENARIO: EdgeType = (PYG_ITEM, "in_scenario", PYG_SCENARIO)


def item_attribute_edge(kind: str) -> EdgeType:
    """PyG edge type from items to attributes of ``kind``: ``('item', 'has_brand', 'brand')``."""
    return (PYG_ITEM, "has_" + check_kind(kind), kind)


def user_attribute_edge(kind: str) -> EdgeType:
    """PyG edge type from users to attribute nodes of ``kind``."""
    return (PYG_USER, "has_" + check_kind(kind), kind)


def item_link_edge(rel_type: str) -> EdgeType:
    """PyG edge type of an item-item link: ``('item', 'same_product', 'item')``."""
    return (PYG_ITEM, check_item_link_type(rel_type).lower(), PYG_ITEM)


def reverse_edge(edge_type: EdgeType) -> EdgeType:
    """The reverse of an edge type: ``(src, rel, dst)`` -> ``(dst, 'rev_' + rel, src)``."""
    src, rel, dst = edge_type
    return (dst, rel[4:] if rel.startswith("rev_") else "rev_" + rel, src)
