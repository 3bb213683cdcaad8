"""Canonical KG tables -> PyG ``HeteroData`` with id maps that survive save/load.

Node types: ``user``, ``item``, ``scenario`` and one per attribute kind (``brand``, ``genre``,
...). Edge types (see :mod:`kg.schema`): ``user -interacted-> item`` (only the interactions of
the chosen splits and scenarios), ``item -in_scenario-> scenario``, ``item -has_<kind>-> <kind>``,
``user -has_<kind>-> <kind>``, ``item -same_product|also_viewed-> item``; every edge type gets
its reverse (``rev_<relation>``). Node indices follow the sorted ids, so the same graph read from
Neo4j or from the local store gives the same tensors.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from graphrec.data.co_interactions import CO_EDGES, co_interaction_graph
from graphrec.pyg import HeteroData
from kg import schema
from kg.errors import DataError
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables


@dataclass
class GraphIndex:
    """Id <-> index maps of a built graph.

    Attributes:
        ids: node type -> list of ids (position = node index).
        item_scenario: ``[num_items]`` scenario name of every item.
    """

    ids: dict[str, list[str]]
    item_scenario: list[str]
    _lookups: dict[str, dict[str, int]] = field(default_factory=dict, repr=False,
                                                compare=False)
    _indexers: dict[str, pd.Index] = field(default_factory=dict, repr=False, compare=False)

    def lookup(self, node_type: str) -> dict[str, int]:
        """Id -> index of ``node_type`` (built once, then reused)."""
        if node_type not in self._lookups:
            self._lookups[node_type] = {v: i for i, v in enumerate(self.ids[node_type])}
        return self._lookups[node_type]

    def index(self, node_type: str, values: Iterable[str]) -> np.ndarray:
        """``[len(values)]`` indices of ``values``; :class:`DataError` listing a few known ids
        if one is unknown. Hashed in one vectorised pass (a pandas index over the ids)."""
        if node_type not in self._indexers:
            self._indexers[node_type] = pd.Index(self.ids[node_type], dtype=object)
        ids = self._indexers[node_type]
        if not isinstance(values, (pd.Series, pd.Index, np.ndarray, list)):
            values = list(values)
        wanted = pd.Index(values, dtype=object)
        out = (ids.get_indexer(wanted) if ids.is_unique
               else np.asarray([self.lookup(node_type).get(v, -1) for v in wanted],
                               dtype=np.int64))
        missing = np.flatnonzero(out < 0)
        if len(missing):
            v = wanted[missing[0]]
            sample = self.ids[node_type][:5]
            raise DataError(f"unknown {node_type} id {v!r}; known ids include {sample} "
                            f"({len(ids)} in all)")
        return out.astype(np.int64, copy=False)

    def scenario_items(self, scenario: str) -> np.ndarray:
        """Indices of the items of ``scenario``."""
        if scenario not in self.ids[schema.PYG_SCENARIO]:
            raise DataError(f"unknown scenario {scenario!r}; scenarios are "
                            f"{self.ids[schema.PYG_SCENARIO]}")
        return np.flatnonzero(np.asarray(self.item_scenario) == scenario)

    def to_dict(self) -> dict:
        return {"ids": self.ids, "item_scenario": self.item_scenario}

    @classmethod
    def from_dict(cls, data: dict) -> GraphIndex:
        return cls(ids={k: list(v) for k, v in data["ids"].items()},
                   item_scenario=list(data["item_scenario"]))


def _edges(index: GraphIndex, src_type: str, src: pd.Series, dst_type: str,
           dst: pd.Series) -> torch.Tensor:
    if len(src) == 0:
        return torch.empty(2, 0, dtype=torch.long)
    return torch.from_numpy(np.stack([index.index(src_type, src), index.index(dst_type, dst)]))


def item_scenario_ids(data: HeteroData) -> torch.Tensor | None:
    """``[num_items]`` long: each item's scenario node, from the ``(item, in_scenario,
    scenario)`` edges (0 for an item without one); None when ``data`` has no such edges."""
    if schema.ITEM_SCENARIO not in data.edge_types:
        return None
    src, dst = data[schema.ITEM_SCENARIO].edge_index
    out = torch.zeros(data[schema.PYG_ITEM].num_nodes, dtype=torch.long)
    out[src] = dst
    return out


def edge_weight(data: HeteroData, edge_type: tuple[str, str, str]) -> torch.Tensor | None:
    """``[E]`` weights of ``edge_type``'s edges in ``data`` (``edge_weight``, set by
    :func:`build_graph` with ``co_weighted``), or None where every edge counts alike."""
    store = data[edge_type]
    return store.edge_weight if "edge_weight" in store else None


def set_edges(data: HeteroData, edge_type: tuple[str, str, str], edge_index: torch.Tensor,
              weight: torch.Tensor | None = None) -> None:
    """Set ``edge_type``'s edges of ``data`` and its reverse type's (the flipped index), with
    their ``[E]`` weights if given. Edges that replace a type's edges (the cold-start
    simulations) must keep its kind: weights exactly where it has them, aligned with
    ``edge_index``."""
    if edge_type in data.edge_types and (weight is None) != (edge_weight(data, edge_type) is None):
        raise ValueError(f"{edge_type}: weights must be given exactly when the graph has them")
    for et, index in ((edge_type, edge_index), (schema.reverse_edge(edge_type),
                                                edge_index.flip(0))):
        data[et].edge_index = index
        if weight is not None:
            data[et].edge_weight = weight


def item_neighbour_edge(node_type: str) -> tuple[str, str, str]:
    """The edge type joining an item to a neighbour of ``node_type``: its scenario, or an
    attribute kind (``brand`` -> the item-brand edge)."""
    return (schema.ITEM_SCENARIO if node_type == schema.PYG_SCENARIO
            else schema.item_attribute_edge(node_type))


def with_new_nodes(data: HeteroData, new_type: str, neighbours: list[dict[str, list[int]]],
                   edge_type: Callable[[str], tuple[str, str, str]]) -> HeteroData:
    """A shallow copy of ``data`` with ``len(neighbours)`` nodes of ``new_type`` appended
    (numbered from the type's node count on), each joined to its neighbours by
    ``edge_type(neighbour type)`` edges (new node as source) and their reverses.

    Args:
        neighbours: per new node, node type -> indices of its neighbours of that type (an
            attribute kind such as ``brand``, ``scenario``, or ``item`` for a new user).
    """
    data = copy.copy(data)
    n_old = int(data[new_type].num_nodes)
    data[new_type].num_nodes = n_old + len(neighbours)
    by_type: dict[str, list[tuple[int, int]]] = {}
    for row, entry in enumerate(neighbours):
        for node_type, idx in entry.items():
            by_type.setdefault(node_type, []).extend((n_old + row, int(i)) for i in idx)
    for node_type, pairs in by_type.items():
        et = edge_type(node_type)
        new = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).t()
        old = data[et].edge_index if et in data.edge_types else new[:, :0]
        data[et].edge_index = torch.cat([old, new], 1)
        data[schema.reverse_edge(et)].edge_index = data[et].edge_index.flip(0)
    return data


def build_graph(tables: KGTables, splits: Iterable[str] = TRAIN_SPLITS,
                scenarios: Iterable[str] | None = None, co_interactions: int = 0,
                co_support: int = 1, co_weighted: bool = False
                ) -> tuple[HeteroData, GraphIndex]:
    """Build the message-passing graph.

    Args:
        tables: the knowledge graph.
        splits: interactions of these splits become ``interacted`` edges (held-out splits stay
            out of the graph so they can be evaluated).
        scenarios: only interactions of these scenarios become edges (all nodes stay, so a
            target-only model and a joint model share one index); default all.
        co_interactions: add ``item -cooccurs-> item`` edges from each item to its
            ``co_interactions`` most similar items in every scenario, computed from the
            interaction edges (:mod:`graphrec.data.co_interactions`); 0: none.
        co_support: the fewest users two items must share to be linked.
        co_weighted: keep each co-interaction edge's cosine as its ``edge_weight`` (``[E]``,
            on the edge type and its reverse), which the LightGCN normalisation then weighs
            by; False: every edge counts alike.

    Returns:
        ``(data, index)``: ``data[node_type].num_nodes`` for every node type, ``edge_index`` of
        shape ``[2, num_edges]`` for every edge type and its reverse; ``index`` maps ids.
    """
    t = tables.normalized()
    attr_kinds = sorted(set(t.item_attributes["kind"]) | set(t.user_attributes["kind"]))
    ids: dict[str, list[str]] = {
        schema.PYG_USER: list(t.users["user_id"]),
        schema.PYG_ITEM: list(t.items["item_id"]),
        schema.PYG_SCENARIO: list(t.scenarios["scenario"]),
    }
    both = pd.concat([t.item_attributes[["kind", "value"]], t.user_attributes[["kind", "value"]]])
    for kind in attr_kinds:
        schema.check_kind(kind)
        ids[kind] = sorted(set(both.loc[both["kind"] == kind, "value"]))
    index = GraphIndex(ids=ids, item_scenario=list(t.items["scenario"]))

    data = HeteroData()
    for node_type, values in ids.items():
        data[node_type].num_nodes = len(values)
    inter = t.interactions[t.interactions["split"].isin(set(splits))]
    if scenarios is not None:
        inter = inter[inter["scenario"].isin(set(scenarios))]
    edges = {
        schema.USER_ITEM: _edges(index, "user", inter["user_id"], "item", inter["item_id"]),
        schema.ITEM_SCENARIO: _edges(index, "item", t.items["item_id"], "scenario",
                                     t.items["scenario"]),
    }
    for kind in attr_kinds:
        part = t.item_attributes[t.item_attributes["kind"] == kind]
        if len(part):
            edges[schema.item_attribute_edge(kind)] = _edges(index, "item", part["item_id"],
                                                             kind, part["value"])
        part = t.user_attributes[t.user_attributes["kind"] == kind]
        if len(part):
            edges[schema.user_attribute_edge(kind)] = _edges(index, "user", part["user_id"],
                                                             kind, part["value"])
    for rel, part in t.item_links.groupby("relation"):
        edges[schema.item_link_edge(str(rel))] = _edges(index, "item", part["item_id"], "item",
                                                        part["other_id"])
    weights: dict[tuple[str, str, str], torch.Tensor] = {}
    if co_interactions > 0:
        scenario_ids = {s: n for n, s in enumerate(ids[schema.PYG_SCENARIO])}
        co_edges, co_weights = co_interaction_graph(
            edges[schema.USER_ITEM], len(ids[schema.PYG_USER]),
            np.asarray([scenario_ids[s] for s in index.item_scenario]), co_interactions,
            co_support)
        edges[CO_EDGES] = co_edges
        if co_weighted:
            weights[CO_EDGES] = co_weights
    for edge_type, edge_index in edges.items():
        set_edges(data, edge_type, edge_index, weights.get(edge_type))
    return data, index
