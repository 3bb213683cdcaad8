"""Library API: load a trained run and ask it for embeddings and recommendations.

>>> rec = Recommender.load(".graphrec/runs/joint-20261127-120000")
>>> rec.recommend("u12", k=10)                      # the run's target scenario by default
>>> rec.predict(["u12"], ["cosmetics:i3"])          # scores of (user, item) pairs
>>> rec.similar_items("clothing:i3", scenario="cosmetics", k=5)
>>> rec.add_items(["cosmetics:new1"], [{"brand": ["brand4"]}], scenario="cosmetics")
>>> rec.fold_in_users({"visitor1": ["cosmetics:i3", "clothing:i9"]})

Every scoring method returns a DataFrame with a ``score`` column; every embedding method returns
``(ids, tensor)``. ``scenario=`` defaults to the run's target everywhere. All calls take batches;
what does not change between calls (candidates per scenario, seen items) is cached. Unknown ids
and scenarios raise :class:`graphrec.errors.DataError` naming what exists.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex, build_graph
from graphrec.data.pairs import known_users
from graphrec.errors import ConfigError, DataError, RunError
from graphrec.evaluation.baselines import build_baseline
from graphrec.evaluation.blend import BlendedScorer
from graphrec.evaluation.harness import (
    DEFAULT_SUBSETS,
    EmbeddingScorer,
    Protocol,
    Scorer,
    evaluate,
)
from graphrec.models import GraphModel, ModelGraph, get_model
from graphrec.models.path_gnn import PATH_MODEL
from graphrec.serving.ivf import DEFAULT_PROBES, ClusterIndex
from graphrec.serving.ranking import top_k
from graphrec.serving.run_dir import load_run_files
from graphrec.strategies.versus import against_baseline
from kg import schema
from kg.schema import TRAIN_SPLITS
from kg.tables import KGTables

SCORE_CHUNK = 256  # users scored at once: [256, items] floats at a time
APPROXIMATE_CHUNK = 4096  # users per approximate search (it holds [users, probes, k] only)


class UnknownAttributeWarning(UserWarning):
    """Attribute values of new items that the graph has no node for were left out."""


class Recommender:
    """A trained graph model with its knowledge graph, ready to serve.

    Args:
        model: a trained model.
        graph: the graph it serves, prepared for it (:meth:`GraphModel.prepare_graph`).
        index: id maps of that graph.
        tables: the knowledge graph (canonical tables).
        blend: serve the model blended with a baseline (``hybrid`` runs: the weight and
            scales of :meth:`BlendedScorer.to_dict`, ``baseline``, default ``item-knn``, and
            its ``baseline_settings``); None serves the model's dot products.
    """

    def __init__(self, model: GraphModel, graph: ModelGraph, index: GraphIndex,
                 tables: KGTables, blend: Mapping[str, object] | None = None,
                 target: str | None = None, run_dir: str | Path | None = None):
        self.model = model.eval()
        self.graph = graph
        self.index = index
        self.tables = tables
        self.blend = dict(blend) if blend else None
        self.target = target
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self._scorer = self._model_scorer()
        if self.blend is not None:
            numbers = {key: self.blend[key] for key in ("weight", "model_scale", "knn_scale")
                       if key in self.blend}
            knn = build_baseline(self.blend.get("baseline", "item-knn"), tables, index,
                                 **self.blend.get("baseline_settings", {}))
            self._scorer = BlendedScorer(self._scorer, knn, **numbers)
        inter = tables.interactions
        train = inter[inter["split"].isin(TRAIN_SPLITS)]
        self._seen: dict[str, list[str]] = train.groupby("user_id")["item_id"].agg(
            list).to_dict()
        # what serving reuses on every call: item rows (graph items, then added ones), the
        # candidates of each scenario, each user's seen rows, the popularity fallback
        self._item_ids: list[str] = list(index.ids[schema.PYG_ITEM])
        self._n_graph_items = len(self._item_ids)
        self._item_row: dict[str, int] = dict(index.lookup(schema.PYG_ITEM))
        self._scenario_rows: dict[str, Tensor] = {}
        self._scenario_matrix: dict[str, Tensor] = {}
        self._scenario_ivf: dict[str, ClusterIndex] = {}
        self._scenario_position: dict[str, Tensor] = {}
        self._id_array: np.ndarray | None = None
        self._seen_cache: dict[str, Tensor] = {}
        self._popular: Tensor | None = None
        self._added_scenario: dict[str, str] = {}
        self._added_users: dict[str, Tensor] = {}

    def _model_scorer(self) -> Scorer:
        """What the model scores (before any blend): here the dot products of its embeddings,
        computed once (``_emb``; ``_items``: the item rows, added items appended)."""
        with torch.no_grad():
            self._emb = self.model(self.graph)
        self._items = self._emb["item"]
        return EmbeddingScorer(self._emb["user"], self._emb["item"])

    @classmethod
    def load(cls, run_dir: str | Path) -> Recommender:
        """Load a run directory written by ``graphrec train`` (weights with
        ``weights_only=True``). A ``path-gnn`` run gives a
        :class:`~graphrec.serving.path_recommender.PathRecommender`."""
        spec, config, tables, state = load_run_files(run_dir)
        data, index = build_graph(tables, TRAIN_SPLITS, spec.get("graph_scenarios"),
                                  spec.get("co_interactions", 0), spec.get("co_support", 1),
                                  spec.get("co_weighted", False))
        target = config.get("target") if isinstance(config.get("target"), str) else None
        if spec["name"] == PATH_MODEL:
            from graphrec.serving.path_recommender import PathRecommender

            model, graph = PathRecommender.build(data, spec, state, Path(run_dir), tables, index)
            return PathRecommender(model, graph, index, tables, spec.get("blend"), target,
                                   run_dir, data)
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
        return cls(model, graph, index, tables, spec.get("blend"), target, run_dir)

    @property
    def scenarios(self) -> list[str]:
        return list(self.index.ids[schema.PYG_SCENARIO])

    @property
    def scorer(self) -> Scorer:
        """What this run serves, as a scorer for :func:`graphrec.evaluation.evaluate`: the
        model's dot products, or their blend with a baseline (``hybrid``)."""
        return self._scorer

    def evaluate(self, scenario: str | None = None, split: str = "test",
                 ks: Sequence[int] = (10, 20), subsets: Sequence[str] = DEFAULT_SUBSETS,
                 protocol: Protocol | None = None, bootstrap: int = 1000) -> dict[str, dict]:
        """Metrics of this model on the held-out ``split`` of ``scenario`` (default the run's
        target; see :func:`graphrec.evaluation.evaluate`; 95% bootstrap intervals over test
        users). An unknown scenario raises :class:`DataError` listing the scenarios."""
        return evaluate(self.scorer, self.index, self.tables, self._scenario(scenario), split,
                        tuple(ks), tuple(subsets), protocol, TRAIN_SPLITS, bootstrap)

    def compare(self, baseline: str = "item-knn", scenario: str | None = None,
                split: str = "test", ks: Sequence[int] = (10, 20),
                subsets: Sequence[str] = DEFAULT_SUBSETS, protocol: Protocol | None = None,
                bootstrap: int = 1000) -> dict:
        """This run against a training-free ``baseline`` (one of
        :data:`~graphrec.evaluation.baselines.BASELINES`, or ``"strongest"``: on each subset
        the one of :data:`~graphrec.strategies.versus.STRONGEST_OF` that validates best there)
        fitted on the same training interactions and scored on the same held-out users under
        the same ``protocol``, with a paired bootstrap over those users: whether the model
        beats the baseline, not only where each one's interval lies
        (:func:`~graphrec.strategies.versus.against_baseline`, which says what it returns).

        The baseline's own setting, where it has one (attribute-kNN's weighting, EASE's and
        content-popularity's ridge weights), is chosen on the scenario's ``valid`` split
        under ``protocol`` (NDCG at the largest of ``ks``), as its strategy chooses it.
        ``bootstrap``: the resamples of every interval (0: the metrics get none, and the
        comparison still takes 1,000).
        """
        return against_baseline(self.scorer, self.index, self.tables, self._scenario(scenario),
                                baseline, split, ks, subsets, protocol, bootstrap)

    # -- ids and candidates --------------------------------------------------------------------

    def _scenario(self, scenario: str | None) -> str:
        if scenario is None:
            if self.target is None:
                raise ConfigError("this run names no target scenario; pass scenario=")
            return self.target
        if scenario not in self.index.lookup(schema.PYG_SCENARIO):
            raise DataError(f"unknown scenario {scenario!r}; scenarios are {self.scenarios}")
        return scenario

    def _item_rows(self, item_ids: Sequence[str]) -> Tensor:
        """Rows of :attr:`_items` (graph items, then added ones) for ``item_ids``."""
        out = []
        for v in item_ids:
            row = self._item_row.get(v)
            if row is None:
                sample = self.index.ids["item"][:5]
                raise DataError(f"unknown item id {v!r}; known ids include {sample} "
                                f"({len(self._item_row)} in all)")
            out.append(row)
        return torch.as_tensor(out, dtype=torch.long)

    def _candidates(self, scenario: str) -> Tensor:
        """Rows of every item of ``scenario`` (cached; added items included)."""
        if scenario not in self._scenario_rows:
            rows = list(self.index.scenario_items(scenario))
            rows += [self._item_row[i] for i, sc in self._added_scenario.items() if sc == scenario]
            self._scenario_rows[scenario] = torch.as_tensor(rows, dtype=torch.long)
        return self._scenario_rows[scenario]

    def _known(self, users: list[str], fallback: str | None) -> Tensor:
        """``[n]`` bool: graph users and users added by :meth:`fold_in_users`; any other user
        raises unless ``fallback`` (:meth:`recommend` ranks them by popularity)."""
        lookup = self.index.lookup(schema.PYG_USER)
        known = torch.ones(len(users), dtype=torch.bool)
        for pos, u in enumerate(users):
            if u in lookup or u in self._added_users:
                continue
            if fallback != "popularity":
                sample = self.index.ids["user"][:5]
                raise DataError(f"unknown user id {u!r}; known ids include {sample} "
                                f"({len(lookup)} in all). Fold new users in with "
                                "fold_in_users(), or pass fallback='popularity'")
            known[pos] = False
        return known

    def _user_vectors(self, users: list[str]) -> Tensor:
        """``[n, dim]`` vectors of graph and folded-in users (0 for any other user)."""
        lookup = self.index.lookup(schema.PYG_USER)
        emb = self._emb["user"]
        vectors = torch.zeros(len(users), emb.shape[1])
        graph_pos, graph_rows = [], []
        for pos, u in enumerate(users):
            row = lookup.get(u)
            if row is not None:
                graph_pos.append(pos)
                graph_rows.append(row)
            elif u in self._added_users:
                vectors[pos] = self._added_users[u]
        if graph_pos:  # one gather for every graph user
            vectors[torch.as_tensor(graph_pos)] = emb[torch.as_tensor(graph_rows)]
        return vectors

    def _matrix(self, scenario: str) -> tuple[Tensor, Tensor]:
        """``(candidate rows, their embeddings transposed [dim, n])`` of ``scenario``, cached
        (gathering 10^5 rows on every call would cost more than the scoring)."""
        rows = self._candidates(scenario)
        if scenario not in self._scenario_matrix:  # add_items() drops its scenario's entry
            self._scenario_matrix[scenario] = self._items[rows].T.contiguous()
        return rows, self._scenario_matrix[scenario]

    def _model_scores(self, users: list[str], rows: Tensor, matrix: Tensor | None = None
                      ) -> Tensor:
        """``[len(users), len(rows)]`` scores of the model alone: here dot products (0 for
        unknown users). ``matrix``: the rows' embeddings transposed, when cached."""
        return self._user_vectors(users) @ (self._items[rows].T if matrix is None else matrix)

    def _scores(self, users: list[str], rows: Tensor, matrix: Tensor | None = None) -> Tensor:
        """``[len(users), len(rows)]`` served scores: the model's (:meth:`_model_scores`),
        blended with the baseline (item-kNN, EASE or attribute-kNN) for ``hybrid`` runs. The
        baseline scores graph items only: items added after training have no evidence in it, so
        their baseline part is 0. Users folded in after training get theirs from the items
        they were folded in with, as a graph user gets it from its training items."""
        scores = self._model_scores(users, rows, matrix)
        if self.blend is None:
            return scores
        b = self._scorer
        scores = (1.0 - b.weight) * scores / b.model_scale
        graph_items = torch.nonzero(rows < self._n_graph_items).squeeze(1)
        if not len(graph_items):
            return scores
        lookup = self.index.lookup(schema.PYG_USER)
        graph_users = [p for p, u in enumerate(users) if u in lookup]
        if graph_users:
            user_idx = torch.as_tensor([lookup[users[p]] for p in graph_users])
            self._add_baseline(scores, graph_users, graph_items,
                               b.knn.score(user_idx, rows[graph_items]))
        folded = [p for p, u in enumerate(users) if u not in lookup and u in self._added_users]
        if folded:
            self._add_baseline(scores, folded, graph_items, b.knn.score_histories(
                self._fold_in_histories([users[p] for p in folded]), rows[graph_items]))
        return scores

    def _add_baseline(self, scores: Tensor, user_pos: list[int], item_pos: Tensor,
                      baseline: Tensor) -> None:
        """Add the blend's baseline part ``[len(user_pos), len(item_pos)]`` to ``scores``."""
        b = self._scorer
        part = scores[user_pos][:, item_pos] + b.weight * baseline.float() / b.knn_scale
        scores[torch.as_tensor(user_pos).unsqueeze(1), item_pos.unsqueeze(0)] = part

    def _fold_in_histories(self, users: list[str], width: int | None = None) -> sp.csr_matrix:
        """Binary ``[len(users), width]`` matrix of the graph items folded-in users were added
        with (:meth:`fold_in_users`); ``width`` defaults to the graph items the run was trained
        with (a graph that has since grown by added items is wider)."""
        rows, cols = [], []
        for row, user in enumerate(users):
            items = {self._item_row[i] for i in self._seen.get(user, [])}
            items = sorted(i for i in items if i < self._n_graph_items)
            rows += [row] * len(items)
            cols += items
        return sp.csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, cols)),
                             shape=(len(users), width or self._n_graph_items))

    def _seen_rows(self, user: str) -> Tensor:
        """Rows of the items ``user`` interacted with in training (cached per user)."""
        rows = self._seen_cache.get(user)
        if rows is None:
            items = self._seen.get(user, [])
            rows = torch.as_tensor([self._item_row[i] for i in items if i in self._item_row],
                                   dtype=torch.long)
            self._seen_cache[user] = rows
        return rows

    def _popularity(self) -> Tensor:
        """Training interactions per item row (the fallback for unknown users)."""
        if self._popular is None:
            inter = self.tables.interactions
            counts = inter[inter["split"].isin(TRAIN_SPLITS)]["item_id"].value_counts()
            pop = torch.zeros(len(self._item_ids))
            lookup = self.index.lookup(schema.PYG_ITEM)
            for item, n in counts.items():
                if item in lookup:
                    pop[lookup[item]] = float(n)
            self._popular = pop
        return self._popular

    # -- serving -------------------------------------------------------------------------------

    def recommend(self, users: str | Sequence[str], scenario: str | None = None, k: int = 10,
                  exclude_seen: bool = True, items: Sequence[str] | None = None,
                  fallback: str | None = None, approximate: bool = False,
                  probes: int | None = None) -> pd.DataFrame:
        """Top-``k`` items for each user.

        Args:
            users: one id or many (graph users, or users added with :meth:`fold_in_users`).
            scenario: the scenario to recommend from (default the run's target).
            k: items per user.
            exclude_seen: leave out the items each user interacted with in training.
            items: restrict the candidates to these ids (of ``scenario``).
            fallback: ``"popularity"`` ranks by training popularity for unknown users (their
                ``score`` is the item's interaction count); None raises for them.
            approximate: search an inverted-file index of the scenario's items
                (:class:`graphrec.serving.ivf.ClusterIndex`, built on first use and cached)
                instead of scoring every item: several times the batch throughput at 10^5
                items, at a recall against exact search that ``benchmarks.system`` reports.
                Not for ``hybrid`` runs (their baseline part is not in the index) or with
                ``items``.
            probes: cells searched per user with ``approximate`` (default
                :data:`graphrec.serving.ivf.DEFAULT_PROBES`; more is slower and closer to
                exact).

        Returns:
            DataFrame ``user_id, rank, item_id, score`` (``k`` rows per user, or fewer when the
            scenario has fewer unseen items).
        """
        if fallback not in (None, "popularity"):
            raise ConfigError(f"fallback must be None or 'popularity', not {fallback!r}")
        users = [users] if isinstance(users, str) else list(users)
        scenario = self._scenario(scenario)
        candidates = self._candidates(scenario)
        if items is not None:
            wanted = self._item_rows(list(items))
            inside = set(candidates.tolist())
            outside = [i for i, r in zip(items, wanted.tolist(), strict=True) if r not in inside]
            if outside:
                raise DataError(f"items {outside[:5]} are not in scenario {scenario!r}")
            candidates = wanted
        if approximate and self.blend is not None:
            baseline = self.blend.get("baseline", "item-knn")
            raise ConfigError("approximate search ranks the model's scores only; this hybrid "
                              f"run blends {baseline} in, so serve it exactly")
        if approximate and items is not None:
            raise ConfigError("approximate search covers a whole scenario; drop items= or "
                              "approximate")
        if probes is not None and probes < 1:
            raise ConfigError(f"probes must be >= 1, not {probes}")
        known = self._known(users, fallback)
        matrix = self._matrix(scenario)[1] if items is None and not approximate else None
        position = None if not exclude_seen else (
            self._positions(scenario) if items is None else self._position_of(candidates))
        k = min(k, len(candidates))
        chunk = APPROXIMATE_CHUNK if approximate else SCORE_CHUNK  # bounded memory
        values, columns = [], []
        for start in range(0, len(users), chunk):
            part = users[start:start + chunk]
            unknown = ~known[start:start + chunk]
            seen = self._seen_pairs(part, position) if exclude_seen else None
            if approximate:
                top_values, top_columns = self.item_index(scenario).search(
                    self._user_vectors(part), k, probes or DEFAULT_PROBES, seen)
                if bool(unknown.any()):  # unknown users have seen nothing: popularity order
                    pop_values, pop_columns = top_k(self._popularity()[candidates][None], k)
                    top_values[unknown], top_columns[unknown] = pop_values, pop_columns
                values.append(top_values)
                columns.append(top_columns.clamp(min=0))  # -1 rows have -inf values
                continue
            scores = self._scores(part, candidates, matrix)
            if bool(unknown.any()):
                scores[unknown] = self._popularity()[candidates]
            if seen is not None:
                scores[seen] = -torch.inf
            top_values, top_columns = top_k(scores, k)  # ties as the approximate search has them
            values.append(top_values)
            columns.append(top_columns)
        if not users:
            return pd.DataFrame(columns=["user_id", "rank", "item_id", "score"])
        values_np = torch.cat(values).numpy().ravel()
        item_rows = candidates[torch.cat(columns)].numpy().ravel()
        keep = np.isfinite(values_np)
        frame = pd.DataFrame({"user_id": np.repeat(np.asarray(users, dtype=object), k),
                              "rank": np.tile(np.arange(1, k + 1), len(users)),
                              "item_id": self._item_id_array()[item_rows],
                              "score": values_np.astype(float)})
        return frame[keep].reset_index(drop=True)

    def _position_of(self, candidates: Tensor) -> Tensor:
        """Item row -> position in ``candidates`` (-1 for rows that are not candidates), over
        every item row (add_items() drops the cached maps, which it makes too short)."""
        position = torch.full((len(self._item_ids),), -1, dtype=torch.long)
        position[candidates] = torch.arange(len(candidates))
        return position

    def _positions(self, scenario: str) -> Tensor:
        """:meth:`_position_of` the scenario's candidates (cached; add_items() drops it)."""
        if scenario not in self._scenario_position:
            self._scenario_position[scenario] = self._position_of(self._candidates(scenario))
        return self._scenario_position[scenario]

    def _seen_pairs(self, users: list[str], position: Tensor) -> tuple[Tensor, Tensor] | None:
        """``(user positions, candidate positions)`` of the training items of ``users`` that
        are candidates (``position``: item row -> candidate position or -1); None if none."""
        seen = [self._seen_rows(u) for u in users]
        lengths = torch.as_tensor([len(r) for r in seen], dtype=torch.long)
        if not int(lengths.sum()):
            return None
        cols = position[torch.cat(seen)]
        owner = torch.repeat_interleave(torch.arange(len(users)), lengths)
        inside = cols >= 0
        return owner[inside], cols[inside]

    def item_index(self, scenario: str | None = None) -> ClusterIndex:
        """The inverted-file index that ``recommend(..., approximate=True)`` searches for
        ``scenario`` (default the run's target): built on first use and cached; add_items()
        drops it. Its ``clusters`` is the number of cells, the most ``probes`` can use."""
        scenario = self._scenario(scenario)
        if scenario not in self._scenario_ivf:
            self._scenario_ivf[scenario] = ClusterIndex(self._items[self._candidates(scenario)])
        return self._scenario_ivf[scenario]

    def _item_id_array(self) -> np.ndarray:
        """Item ids as a numpy object array (cached; add_items() drops it)."""
        if self._id_array is None:
            self._id_array = np.asarray(self._item_ids, dtype=object)
        return self._id_array


    def predict(self, users: Sequence[str], items: Sequence[str]) -> pd.DataFrame:
        """Scores of (user, item) pairs, as :meth:`recommend` ranks them.

        Returns:
            DataFrame ``user_id, item_id, score`` in the order given.
        """
        users, items = list(users), list(items)
        if len(users) != len(items):
            raise ConfigError(f"predict needs pairs: {len(users)} users but {len(items)} items")
        rows = self._item_rows(items)
        self._known(users, None)
        scores = self._pair_scores(users, rows) if users else torch.zeros(0)
        return pd.DataFrame({"user_id": users, "item_id": items, "score": scores.tolist()})

    def _pair_scores(self, users: list[str], rows: Tensor) -> Tensor:
        """``[len(users)]`` served scores of the pairs ``(users[p], rows[p])``."""
        if self.blend is None:
            return (self._user_vectors(users) * self._items[rows]).sum(1)
        # one pair at a time through the blend (kNN evidence is per pair)
        return torch.stack([self._scores([u], rows[p:p + 1])[0, 0]
                            for p, u in enumerate(users)])

    def similar_items(self, items: str | Sequence[str], scenario: str | None = None,
                      k: int = 10) -> pd.DataFrame:
        """For each item (any scenario, added items included), the ``k`` most similar items
        of ``scenario`` (default the run's target) by cosine similarity of embeddings, the
        item itself excluded.

        Returns:
            DataFrame ``item_id, rank, similar_item_id, score``; ``score`` is the cosine, in
            [-1, 1] (the ``similar_items`` cookbook query reports the same scale).
        """
        items = [items] if isinstance(items, str) else list(items)
        item_rows = self._item_rows(items)
        candidates = self._candidates(self._scenario(scenario))
        query = torch.nn.functional.normalize(self._items[item_rows], dim=1)
        cand = torch.nn.functional.normalize(self._items[candidates], dim=1)
        return self._most_similar(items, item_rows, candidates, query @ cand.T, k)

    def _most_similar(self, items: list[str], item_rows: Tensor, candidates: Tensor,
                      scores: Tensor, k: int) -> pd.DataFrame:
        """:meth:`similar_items`'s frame from ``scores`` ``[len(items), len(candidates)]``:
        each item's ``k`` best candidates, the item itself excluded."""
        position = {int(c): p for p, c in enumerate(candidates)}
        for row, item_row in enumerate(item_rows.tolist()):
            if item_row in position:
                scores[row, position[item_row]] = -torch.inf
        top = torch.topk(scores, min(k, max(len(candidates) - 1, 1)), dim=1)
        rows = [(item, rank + 1, self._item_ids[int(candidates[col])], float(value))
                for row, item in enumerate(items)
                for rank, (value, col) in enumerate(zip(top.values[row], top.indices[row],
                                                        strict=True)) if torch.isfinite(value)]
        return pd.DataFrame(rows, columns=["item_id", "rank", "similar_item_id", "score"])

    # -- embeddings: always (ids, tensor) ------------------------------------------------------

    def item_embeddings(self, items: Sequence[str] | None = None, scenario: str | None = None
                        ) -> tuple[list[str], Tensor]:
        """``(ids, [n, dim])`` of the given items, or of every item of ``scenario``, or of
        every item (added items included)."""
        if items is not None:
            items = list(items)
            return items, self._items[self._item_rows(items)]
        if scenario is not None:
            rows = self._candidates(self._scenario(scenario))
            return [self._item_ids[int(r)] for r in rows], self._items[rows]
        return list(self._item_ids), self._items

    def user_embeddings(self, users: Sequence[str] | None = None) -> tuple[list[str], Tensor]:
        """``(ids, [n, dim])`` user embeddings (every graph user when ``users`` is None). A
        user is one node across scenarios, so a cold-start user of a target scenario is served
        from what they did elsewhere; users added by :meth:`fold_in_users` are included."""
        if users is None:
            return list(self.index.ids["user"]), self._emb["user"]
        users = list(users)
        self._known(users, None)
        return users, self._user_vectors(users)

    def embed_new_items(self, attributes: Sequence[Mapping[str, Sequence[str]]],
                        scenario: str | None = None, ids: Sequence[str] | None = None
                        ) -> tuple[list[str], Tensor]:
        """Embeddings of brand-new items from their attributes alone, without retraining.

        Args:
            attributes: per item, kind -> values, e.g. ``{"brand": ["acme"]}``. Unknown kinds
                raise; unknown values of a known kind have no node yet and are left out, with
                one :class:`UnknownAttributeWarning` saying how many.
            scenario: the scenario the new items belong to (adds the scenario node's message).
            ids: their ids (default ``new:0``, ``new:1``, ...).

        Returns:
            ``(ids, [len(attributes), dim])``, comparable with :meth:`item_embeddings`. Use
            :meth:`add_items` to serve them.
        """
        ids, neighbours = self._new_item_neighbours(attributes, scenario, ids)
        return ids, self.model.embed_new_items(self.graph, neighbours)

    def _new_item_neighbours(self, attributes: Sequence[Mapping[str, Sequence[str]]],
                             scenario: str | None, ids: Sequence[str] | None
                             ) -> tuple[list[str], list[dict[str, list[int]]]]:
        """``(ids, neighbours)`` of new items (:meth:`embed_new_items`' arguments): per item,
        node type -> the graph nodes it links to (its known attribute values, its scenario);
        unknown values are left out with one :class:`UnknownAttributeWarning`."""
        ids = [f"new:{p}" for p in range(len(attributes))] if ids is None else list(ids)
        if len(ids) != len(attributes):
            raise ConfigError(f"{len(ids)} ids for {len(attributes)} items")
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
                        dropped[f"{kind}={v}"] = dropped.get(f"{kind}={v}", 0) + 1
            if scenario is not None:
                entry[schema.PYG_SCENARIO] = [int(self.index.index(
                    "scenario", [self._scenario(scenario)])[0])]
            neighbours.append(entry)
        if dropped:
            shown = ", ".join(sorted(dropped)[:5]) + (" ..." if len(dropped) > 5 else "")
            warnings.warn(f"{sum(dropped.values())} attribute value(s) of the new items are not "
                          f"in the graph and were left out ({len(dropped)} distinct: {shown}); "
                          "items with no known value are embedded from their scenario alone",
                          UnknownAttributeWarning, stacklevel=3)
        return ids, neighbours

    def add_items(self, ids: Sequence[str], attributes: Sequence[Mapping[str, Sequence[str]]],
                  scenario: str) -> None:
        """Embed new items (:meth:`embed_new_items`) and serve them from now on:
        :meth:`recommend`, :meth:`predict` and :meth:`similar_items` rank them with the rest
        of ``scenario``, without retraining (in memory; the run directory is unchanged).

        Raises:
            DataError: an id exists already.
        """
        scenario = self._check_new_items(ids, scenario)
        ids, emb = self.embed_new_items(attributes, scenario, ids)
        self._register_items(ids, scenario)
        self._items = torch.cat([self._items, emb])

    def _check_new_items(self, ids: Sequence[str], scenario: str) -> str:
        """``scenario`` checked; raises :class:`DataError` if one of ``ids`` exists."""
        scenario = self._scenario(scenario)
        taken = [i for i in ids if i in self._item_row]
        if taken:
            raise DataError(f"item ids {taken[:5]} exist already")
        return scenario

    def _register_items(self, ids: list[str], scenario: str) -> None:
        """Serve ``ids`` (rows after every current one) as items of ``scenario`` from now on:
        their rows, and every cache that holds one entry per item row, renewed."""
        for pos, item in enumerate(ids):
            self._item_row[item] = len(self._item_ids) + pos
            self._added_scenario[item] = scenario
        self._item_ids = self._item_ids + ids
        self._scenario_rows.pop(scenario, None)
        self._scenario_matrix.pop(scenario, None)
        self._scenario_ivf.pop(scenario, None)
        self._scenario_position.clear()  # every map is one entry per item row
        self._id_array = None
        if self._popular is not None:
            self._popular = torch.cat([self._popular, torch.zeros(len(ids))])

    def fold_in_users(self, interactions: Mapping[str, Sequence[str]]
                      ) -> tuple[list[str], Tensor]:
        """Add users the graph has never seen from the items they interacted with, without
        retraining: each is joined to its items and propagated as a cold-start user is, and
        served by :meth:`recommend` (its items excluded) from now on (in memory).

        Args:
            interactions: new user id -> ids of the graph items it interacted with.

        Returns:
            ``(ids, [n, dim])`` of the new users.

        Raises:
            DataError: a user id exists already, or an item id is unknown.
        """
        users = list(interactions)
        lookup = self.index.lookup(schema.PYG_USER)
        taken = [u for u in users if u in lookup or u in self._added_users]
        if taken:
            raise DataError(f"user ids {taken[:5]} exist already")
        items = [self.index.index(schema.PYG_ITEM, list(interactions[u])).tolist()
                 for u in users]
        emb = self._fold_in_vectors(items)
        for pos, u in enumerate(users):
            self._added_users[u] = emb[pos]
            self._seen[u] = list(interactions[u])
            self._seen_cache.pop(u, None)
        return users, emb

    def _fold_in_vectors(self, items: list[list[int]]) -> Tensor:
        """``[n, dim]`` vectors of new users from their graph items (one list per user)."""
        return self.model.embed_new_users(self.graph, items)

    def __repr__(self) -> str:
        what = (f"hybrid blend {self.blend['weight']:g} with "
                f"{self.blend.get('baseline', 'item-knn')}" if self.blend else "model")
        source = f"{self.run_dir}" if self.run_dir else "in memory"
        return (f"Recommender({self.model.__class__.__name__} {what}, target "
                f"{self.target!r}, {len(self.index.ids['user']):,} users, "
                f"{len(self._item_ids):,} items in {len(self.scenarios)} scenarios, {source})")
