"""Transferability report: which source scenarios can help a target, read off the graph.

Computed from the knowledge graph alone, before any training (networkx for the graph parts):

- **user bridge**: the share of the target's training users who also have training
  interactions in the source (the user-overlap projection between scenarios);
- **preference agreement**: for those bridging users, the cosine between their attribute
  profiles in the source and in the target (counts of the attribute values of the items they
  took), minus the same cosine with the users shuffled. Positive: a user's taste in the source
  predicts it in the target; negative: the source's users go the other way (a source that will
  hurt). Needs shared users and shared attribute values;
- **item bridge**: the share of the target's items joined to a source item by a product link
  (``SAME_PRODUCT``/``ALSO_VIEWED``);
- **popularity agreement**: Spearman correlation of training popularity over linked item pairs
  (do the same products sell in both?);
- **shared attributes**: attribute values carried by items of both scenarios, with the top
  *bridge attributes* ranked by their betweenness on the shortest paths between scenarios in the
  scenario-attribute graph (bipartite: scenarios and attribute values, an edge where a
  scenario's items carry the value);
- **components**: connected components of the user-item-link graph restricted to the two
  scenarios, and the share of the target's items in a component that holds source items.

The ranking score is ``user_bridge * user_agreement + item_bridge * item_agreement`` where an
agreement that cannot be computed counts as 1 (overlap alone). Sources are ranked by it, best
first; a negative score flags a source that is likely to hurt.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import networkx as nx
import numpy as np
import pandas as pd
from scipy import stats

from kg import schema
from kg.errors import DataError
from kg.tables import KGTables


@dataclass
class SourceReport:
    """Bridges between one source and the target (see the module docstring)."""

    source: str
    score: float
    user_bridge: float
    bridging_users: int
    user_agreement: float | None
    item_bridge: float
    linked_items: int
    item_agreement: float | None
    shared_attributes: int
    attribute_jaccard: float
    bridge_attributes: list[tuple[str, float]] = field(default_factory=list)
    components: int = 0
    target_items_connected: float = 0.0
    rank: int = 0


def _observed(tables: KGTables) -> pd.DataFrame:
    inter = tables.interactions
    return inter[inter["split"].isin(schema.TRAIN_SPLITS)]  # held-out rows never count


def _profiles(inter: pd.DataFrame, attrs: pd.DataFrame, users: list[str],
              vocab: dict[str, int]) -> np.ndarray:
    """``[len(users), len(vocab)]`` counts of attribute values of the items each user took."""
    out = np.zeros((len(users), len(vocab)))
    if not users or not vocab:
        return out
    row = {u: i for i, u in enumerate(users)}
    joined = inter[inter["user_id"].isin(row)].merge(attrs, on="item_id")
    joined = joined[joined["key"].isin(vocab)]
    np.add.at(out, (joined["user_id"].map(row).to_numpy(), joined["key"].map(vocab).to_numpy()),
              1.0)
    return out


def _mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    na = np.linalg.norm(a, axis=1)
    nb = np.linalg.norm(b, axis=1)
    ok = (na > 0) & (nb > 0)
    if not ok.any():
        return math.nan
    return float(((a[ok] * b[ok]).sum(1) / (na[ok] * nb[ok])).mean())


def user_agreement(inter: pd.DataFrame, attrs: pd.DataFrame, source: str, target: str,
                   users: list[str], seed: int = 0, shuffles: int = 5) -> float | None:
    """Mean cosine of bridging users' attribute profiles (source vs target) minus the mean over
    ``shuffles`` random pairings of the same users; None if it cannot be computed."""
    if len(users) < 2:
        return None
    src_items = set(attrs.loc[attrs["scenario"] == source, "key"])
    tgt_items = set(attrs.loc[attrs["scenario"] == target, "key"])
    shared = sorted(src_items & tgt_items)
    if not shared:
        return None
    vocab = {k: i for i, k in enumerate(shared)}
    a = _profiles(inter[inter["scenario"] == source], attrs, users, vocab)
    b = _profiles(inter[inter["scenario"] == target], attrs, users, vocab)
    paired = _mean_cosine(a, b)
    rng = np.random.default_rng(seed)
    shuffled = np.nanmean([_mean_cosine(a, b[rng.permutation(len(users))])
                           for _ in range(shuffles)])
    if math.isnan(paired) or math.isnan(shuffled):
        return None
    return paired - float(shuffled)


def scenario_attribute_graph(tables: KGTables) -> nx.Graph:
    """Bipartite graph: ``('scenario', s)`` and ``('attribute', 'kind=value')`` nodes, an edge
    weighted by how many of the scenario's items carry the value."""
    attrs = tables.item_attributes.merge(tables.items, on="item_id")
    counts = attrs.groupby(["scenario", "kind", "value"]).size()
    graph = nx.Graph()
    for (scenario, kind, value), n in counts.items():
        graph.add_edge(("scenario", scenario), ("attribute", f"{kind}={value}"), weight=int(n))
    return graph


def _components(inter: pd.DataFrame, links: pd.DataFrame, items: pd.DataFrame,
                source: str, target: str) -> tuple[int, float]:
    """Connected components of the two scenarios' user-item-link graph and the share of the
    target's items that sit in a component with a source item."""
    graph = nx.Graph()
    scen = items.set_index("item_id")["scenario"]
    both = items[items["scenario"].isin((source, target))]
    graph.add_nodes_from(("i", i) for i in both["item_id"])
    part = inter[inter["scenario"].isin((source, target))]
    graph.add_edges_from((("u", u), ("i", i))
                         for u, i in zip(part["user_id"], part["item_id"], strict=True))
    ok = links["item_id"].map(scen).isin((source, target)) & links["other_id"].map(
        scen).isin((source, target))
    graph.add_edges_from((("i", a), ("i", b)) for a, b in zip(
        links.loc[ok, "item_id"], links.loc[ok, "other_id"], strict=True))
    n_target = int((both["scenario"] == target).sum())
    connected = 0
    count = 0
    for comp in nx.connected_components(graph):
        count += 1
        comp_items = [scen[n[1]] for n in comp if n[0] == "i"]
        if source in comp_items:
            connected += sum(1 for s in comp_items if s == target)
    return count, connected / n_target if n_target else 0.0


def bridges_report(tables: KGTables, target: str, sources: list[str] | None = None,
                   top_attributes: int = 5, components: bool = True,
                   seed: int = 0) -> list[SourceReport]:
    """Rank candidate source scenarios for ``target`` (see the module docstring).

    Args:
        tables: the knowledge graph (only observed splits ``train``/``all`` are read).
        target: the target scenario.
        sources: candidates (default: every other scenario).
        top_attributes: how many bridge attributes to list per source.
        components: also compute connected components (the slowest part on large graphs).
        seed: seed of the shuffled pairing in the agreement score.

    Returns:
        one :class:`SourceReport` per source, best first (``rank`` 1 = best).
    """
    scenarios = list(tables.scenarios["scenario"])
    if target not in scenarios:
        raise DataError(f"unknown target scenario {target!r}; scenarios are {sorted(scenarios)}")
    sources = [s for s in scenarios if s != target] if sources is None else list(sources)
    unknown = sorted(set(sources) - set(scenarios))
    if unknown:
        raise DataError(f"unknown source scenario(s) {unknown}; scenarios are "
                        f"{sorted(scenarios)}")
    inter = _observed(tables)
    attrs = tables.item_attributes.merge(tables.items, on="item_id")
    attrs = attrs.assign(key=attrs["kind"] + "=" + attrs["value"])[["item_id", "scenario", "key"]]
    graph = scenario_attribute_graph(tables)
    # shortest paths between scenarios only: a BFS from each scenario node, not from every
    # attribute value (exact all-pairs betweenness is O(V E): minutes on 10^4 values)
    ends = [n for n in graph if n[0] == "scenario"]
    betweenness = nx.betweenness_centrality_subset(graph, ends, ends, normalized=True) \
        if ends else {}
    scen_of = tables.items.set_index("item_id")["scenario"]
    popularity = inter.groupby("item_id").size()
    links = tables.item_links
    target_users = set(inter.loc[inter["scenario"] == target, "user_id"])
    target_items = set(tables.items.loc[tables.items["scenario"] == target, "item_id"])
    target_keys = set(attrs.loc[attrs["scenario"] == target, "key"])
    reports = []
    for source in sources:
        src_users = set(inter.loc[inter["scenario"] == source, "user_id"])
        bridging = sorted(target_users & src_users)
        agreement = user_agreement(inter, attrs, source, target, bridging, seed)
        # product links between the two scenarios, oriented target -> source
        a, b = links["item_id"].map(scen_of), links["other_id"].map(scen_of)
        fwd = links[(a == target) & (b == source)][["item_id", "other_id"]]
        back = links[(a == source) & (b == target)][["other_id", "item_id"]]
        back.columns = ["item_id", "other_id"]
        pairs = pd.concat([fwd, back]).drop_duplicates()
        linked = int(pairs["item_id"].nunique())
        item_agreement = None
        if len(pairs) >= 3:
            x = popularity.reindex(pairs["item_id"]).fillna(0).to_numpy()
            y = popularity.reindex(pairs["other_id"]).fillna(0).to_numpy()
            if x.std() > 0 and y.std() > 0:
                item_agreement = float(stats.spearmanr(x, y).statistic)
        src_keys = set(attrs.loc[attrs["scenario"] == source, "key"])
        shared = src_keys & target_keys
        union = src_keys | target_keys
        bridge_attrs = sorted(((k, betweenness.get(("attribute", k), 0.0)) for k in shared),
                              key=lambda kv: (-kv[1], kv[0]))[:top_attributes]
        user_bridge = len(bridging) / len(target_users) if target_users else 0.0
        item_bridge = linked / len(target_items) if target_items else 0.0
        score = (user_bridge * (1.0 if agreement is None else agreement)
                 + item_bridge * (1.0 if item_agreement is None else item_agreement))
        n_comp, connected = (_components(inter, links, tables.items, source, target)
                             if components else (0, 0.0))
        reports.append(SourceReport(
            source=source, score=score, user_bridge=user_bridge, bridging_users=len(bridging),
            user_agreement=agreement, item_bridge=item_bridge, linked_items=linked,
            item_agreement=item_agreement, shared_attributes=len(shared),
            attribute_jaccard=len(shared) / len(union) if union else 0.0,
            bridge_attributes=[(k, round(v, 4)) for k, v in bridge_attrs],
            components=n_comp, target_items_connected=connected))
    reports.sort(key=lambda r: (-r.score, r.source))
    for rank, rep in enumerate(reports, 1):
        rep.rank = rank
    return reports


def report_dict(reports: list[SourceReport]) -> list[dict]:
    """JSON-ready form of a report."""
    return [asdict(r) for r in reports]
