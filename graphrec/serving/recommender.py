"""Library API: load a trained run and ask it for embeddings and recommendations.

>>> rec = Recommender.load("runs/joint-20261127-120000")
>>> rec.recommend("u12", scenario="cosmetics", k=10)
>>> rec.similar_items("clothing:i3", target_scenario="cosmetics", k=5)
>>> rec.embed_new_items([{"brand": ["brand4"], "category": ["cat6"]}], scenario="cosmetics")

All calls take batches and are vectorised; unknown ids and scenarios raise
:class:`graphrec.errors.DataError` naming what exists.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import pandas as pd
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex, build_graph
from graphrec.data.pairs import known_users
from graphrec.errors import ConfigError, DataError, RunError
from graphrec.evaluation.baselines import build_baseline
from graphrec.evaluation.blend import BlendedScorer
from graphrec.evaluation.harness import DEFAULT_SUBSETS, EmbeddingScorer, Protocol, evaluate
from graphrec.models import GraphModel, ModelGraph, get_model
from graphrec.serving.run_dir import load_run_files
from kg import schema
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables


class UnknownAttributeWarning(UserWarning):
    """Attribute values of new items that the graph has no node for were left out."""


class Recommender:
    """A trained graph model with its knowledge graph, ready to serve.

    Args:
        model: a trained model.
        graph: the graph it serves, prepared for it (:meth:`GraphModel.prepare_graph`).
        index: id maps of that graph.
        tables: the knowledge graph (canonical tables).
        blend: serve the model blended with item-kNN (``hybrid`` runs:
            :meth:`BlendedScorer.to_dict`); None serves the model's dot products.
    """

    def __init__(self, model: GraphModel, graph: ModelGraph, index: GraphIndex,
                 tables: KGTables, blend: Mapping[str, float] | None = None):
        self.model = model.eval()
        self.graph = graph
        self.index = index
        self.tables = tables
        self.blend = dict(blend) if blend else None
        with torch.no_grad():
            self._emb = model(graph)
        self._scorer: EmbeddingScorer | BlendedScorer = EmbeddingScorer(self._emb["user"],
                                                                        self._emb["item"])
        if self.blend is not None:
            knn = build_baseline("item-knn", tables, index)
            self._scorer = BlendedScorer(self._scorer, knn, **self.blend)
        inter = tables.interactions
        train = inter[inter["split"].isin(TRAIN_SPLITS)]
        self._seen = train.groupby("user_id")["item_id"].agg(list).to_dict()

    @classmethod
    def load(cls, run_dir: str | Path) -> Recommender:
        """Load a run directory written by ``graphrec train`` (weights with
        ``weights_only=True``)."""
        spec, _, tables, state = load_run_files(run_dir)
        data, index = build_graph(tables, TRAIN_SPLITS, spec.get("graph_scenarios"),
                                  spec.get("co_interactions", 0), spec.get("co_support", 1))
        kwargs = dict(spec["kwargs"])
        try:
            if "edge_types" in kwargs:
                kwargs["edge_types"] = [tuple(et) for et in kwargs["edge_types"]]
            model = get_model(spec["name"])({t: data[t].num_nodes for t in data.node_types},
                                            **kwargs)
            model.load_state_dict(state)
        except (TypeError, ValueError, KeyError, RuntimeError, ConfigError) as exc:
            raise RunError(f"{Path(run_dir) / 'model.json'}: the model it describes cannot be "
                           f"built with {Path(run_dir) / 'weights.pt'} ({exc})") from None
        known = spec.get("known_scenarios")
        graph = model.prepare_graph(data, None if not known else {
            schema.PYG_USER: known_users(tables, index, known)})
        return cls(model, graph, index, tables, spec.get("blend"))

    @property
    def scenarios(self) -> list[str]:
        return list(self.index.ids[schema.PYG_SCENARIO])

    @property
    def scorer(self) -> EmbeddingScorer | BlendedScorer:
        """What this run serves, as a scorer for :func:`graphrec.evaluation.evaluate`: the
        model's dot products, or their blend with item-kNN (``hybrid``)."""
        return self._scorer

    def evaluate(self, scenario: str, split: str = "test", ks: Sequence[int] = (10, 20),
                 subsets: Sequence[str] = DEFAULT_SUBSETS, protocol: Protocol | None = None,
                 bootstrap: int = 1000) -> dict[str, dict]:
        """Metrics of this model on the held-out ``split`` of ``scenario`` (see
        :func:`graphrec.evaluation.evaluate`; 95% bootstrap intervals over test users). An
        unknown scenario raises :class:`DataError` listing the scenarios."""
        return evaluate(self.scorer, self.index, self.tables, scenario, split, tuple(ks),
                        tuple(subsets), protocol, TRAIN_SPLITS, bootstrap)

    def item_embeddings(self, item_ids: Sequence[str]) -> Tensor:
        """``[len(item_ids), dim]`` embeddings of existing items (any scenario)."""
        return self._emb["item"][torch.as_tensor(self.index.index("item", item_ids))]

    def scenario_item_embeddings(self, scenario: str) -> pd.DataFrame:
        """All items of ``scenario`` with their embeddings (``item_id``, ``embedding``)."""
        idx = self.index.scenario_items(scenario)
        emb = self._emb["item"][torch.as_tensor(idx)].numpy()
        return pd.DataFrame({"item_id": [self.index.ids["item"][i] for i in idx],
                             "embedding": list(emb)})

    def user_embeddings(self, user_ids: Sequence[str]) -> Tensor:
        """``[len(user_ids), dim]`` user embeddings. A user is one node across scenarios, so
        a cold-start user of a target scenario is served from what they did elsewhere."""
        return self._emb["user"][torch.as_tensor(self.index.index("user", user_ids))]

    def recommend(self, users: str | Sequence[str], scenario: str, k: int = 10,
                  exclude_seen: bool = True) -> pd.DataFrame:
        """Top-``k`` items of ``scenario`` for each user.

        Returns:
            DataFrame ``user_id, rank, item_id, score`` (``k`` rows per user, or fewer when the
            scenario has fewer unseen items).
        """
        users = [users] if isinstance(users, str) else list(users)
        candidates = self.index.scenario_items(scenario)
        scores = self.scorer.score(torch.as_tensor(self.index.index("user", users)),
                                   torch.as_tensor(candidates))
        if exclude_seen:
            pos = {int(c): p for p, c in enumerate(candidates)}
            for row, u in enumerate(users):
                seen = [pos[int(j)] for j in self.index.index("item", self._seen.get(u, []))
                        if int(j) in pos]
                if seen:
                    scores[row, torch.as_tensor(seen)] = -torch.inf
        top = torch.topk(scores, min(k, len(candidates)), dim=1)
        rows = []
        for row, u in enumerate(users):
            for rank, (score, col) in enumerate(zip(top.values[row], top.indices[row],
                                                    strict=True)):
                if torch.isfinite(score):
                    rows.append((u, rank + 1, self.index.ids["item"][candidates[col]],
                                 float(score)))
        return pd.DataFrame(rows, columns=["user_id", "rank", "item_id", "score"])

    def similar_items(self, items: str | Sequence[str], target_scenario: str,
                      k: int = 10) -> pd.DataFrame:
        """For each item (any scenario), the ``k`` most similar items of ``target_scenario``
        by cosine similarity of embeddings (the item itself excluded).

        Returns:
            DataFrame ``item_id, rank, similar_item_id, similarity``.
        """
        items = [items] if isinstance(items, str) else list(items)
        query = torch.nn.functional.normalize(self.item_embeddings(items), dim=1)
        candidates = self.index.scenario_items(target_scenario)
        cand = torch.nn.functional.normalize(self._emb["item"][torch.as_tensor(candidates)],
                                             dim=1)
        sims = query @ cand.T
        own = {int(c): p for p, c in enumerate(candidates)}
        for row, idx in enumerate(self.index.index("item", items)):
            if int(idx) in own:
                sims[row, own[int(idx)]] = -torch.inf
        top = torch.topk(sims, min(k, len(candidates) - 1 if len(candidates) > 1 else 1), dim=1)
        rows = [(item, rank + 1, self.index.ids["item"][candidates[col]], float(sim))
                for row, item in enumerate(items)
                for rank, (sim, col) in enumerate(zip(top.values[row], top.indices[row],
                                                      strict=True)) if torch.isfinite(sim)]
        return pd.DataFrame(rows, columns=["item_id", "rank", "similar_item_id", "similarity"])

    def embed_new_items(self, attributes: Sequence[Mapping[str, Sequence[str]]],
                        scenario: str | None = None) -> Tensor:
        """Embeddings of brand-new items from their attributes alone, without retraining.

        Args:
            attributes: per item, kind -> values, e.g. ``{"brand": ["acme"]}``. Unknown kinds
                raise; unknown values of a known kind have no node yet and are left out, with
                one :class:`UnknownAttributeWarning` saying how many.
            scenario: the scenario the new items belong to (adds the scenario node's message).

        Returns:
            ``[len(attributes), dim]``, comparable with :meth:`item_embeddings`.
        """
        kinds = sorted(set(self.tables.item_attributes["kind"]))
        lookups = {t: self.index.lookup(t) for t in kinds}
        neighbours = []
        dropped: dict[str, int] = {}
        for row, attrs in enumerate(attributes):
            entry: dict[str, list[int]] = {}
            for kind, values in attrs.items():
                if kind not in lookups:
                    raise DataError(f"new item {row}: unknown attribute kind {kind!r}; item "
                                    f"attribute kinds are {kinds}")
                values = [values] if isinstance(values, str) else values
                entry[kind] = [lookups[kind][v] for v in values if v in lookups[kind]]
                for v in values:
                    if v not in lookups[kind]:
                        dropped.setdefault(f"{kind}={v}", 0)
                        dropped[f"{kind}={v}"] += 1
            if scenario is not None:
                entry[schema.PYG_SCENARIO] = [int(self.index.index("scenario", [scenario])[0])]
            neighbours.append(entry)
        if dropped:
            shown = ", ".join(sorted(dropped)[:5]) + (" ..." if len(dropped) > 5 else "")
            warnings.warn(f"{sum(dropped.values())} attribute value(s) of the new items are not "
                          f"in the graph and were left out ({len(dropped)} distinct: {shown}); "
                          "items with no known value are embedded from their scenario alone",
                          UnknownAttributeWarning, stacklevel=2)
        return self.model.embed_new_items(self.graph, neighbours)
