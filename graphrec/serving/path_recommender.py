"""Serving a ``path-gnn`` run: scores by message passing from each user's items.

A :class:`~graphrec.models.path_gnn.PathGNN` has no user vectors: it scores a user's
candidates by running message passing from that user's items (the query). So a
:class:`PathRecommender` serves what :class:`~graphrec.serving.Recommender` serves through
scores — :meth:`recommend` (exact), :meth:`predict`, :meth:`evaluate`, :meth:`fold_in_users`
(a new user is a query from their items, exactly as a cold-start user is scored; it returns
``(ids, [n, 0])``, no vectors), :meth:`add_items` (new items join the graph through their
attribute and scenario nodes, as cold-start items are scored), the ``hybrid`` blend — and
:meth:`similar_items` by a query from one item. What needs vectors (``item_embeddings``,
``user_embeddings``, ``embed_new_items``, approximate search) raises a
:class:`~graphrec.errors.ConfigError` that says so.

>>> rec = Recommender.load(".graphrec/runs/path-gnn-20261203-120000")   # a PathRecommender
>>> rec.recommend("u12", k=10)
>>> rec.fold_in_users({"visitor1": ["clothing:i9"]}); rec.recommend("visitor1")
>>> rec.add_items(["clothing:new1"], [{"brand": ["acme"]}], "clothing")
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from torch import Tensor

from graphrec.data.graph import GraphIndex, item_neighbour_edge, with_new_nodes
from graphrec.errors import ConfigError, RunError
from graphrec.evaluation.harness import Scorer
from graphrec.models.path_gnn import (
    PathGNN,
    PathGraph,
    mark_ratings,
    prepare_path_graph,
    training_ratings,
)
from graphrec.pyg import HeteroData
from graphrec.serving.recommender import SCORE_CHUNK, Recommender
from graphrec.serving.run_dir import read_run_json
from graphrec.strategies.path_gnn import PathScorer
from kg import schema
from kg.tables import KGTables


class PathRecommender(Recommender):
    """A trained :class:`PathGNN` with its knowledge graph, ready to serve (see the module
    docstring). Built by :meth:`Recommender.load` for a ``path-gnn`` run directory.

    Args:
        model: a trained :class:`PathGNN`.
        graph: the graph it serves (:func:`prepare_path_graph`).
        index, tables, blend, target, run_dir: as :class:`Recommender`.
    """

    model: PathGNN
    graph: PathGraph

    def __init__(self, model: PathGNN, graph: PathGraph, index, tables, blend=None,
                 target: str | None = None, run_dir: str | Path | None = None,
                 data: HeteroData | None = None):
        super().__init__(model, graph, index, tables, blend, target, run_dir)
        #: the message-passing graph ``graph`` was prepared from (what :meth:`add_items`
        #: extends; None: new items cannot be added)
        self.data = data

    @staticmethod
    def build(data: HeteroData, spec: Mapping, state: Mapping[str, Tensor], run_dir: Path,
              tables: KGTables, index: GraphIndex) -> tuple[PathGNN, PathGraph]:
        """The model that ``model.json`` describes with ``weights.pt`` loaded, and the graph
        prepared for it from ``data`` (the interactions of ``tables``, whose nodes ``index``
        numbers, rated at the model's ``rated_levels`` marked as in training).

        Raises:
            RunError: the description does not build a model for this graph, or the weights
                do not fit it.
        """
        kwargs = dict(spec["kwargs"])
        if "low_rated_below" in kwargs:
            raise RunError(f"{run_dir / 'model.json'}: the model was saved with one offset "
                           "for low-rated starts (low_rated_below), which graphrec has "
                           "replaced by an offset per rating value (rating_starts); train "
                           "the run again")
        graph = prepare_path_graph(data)
        levels = kwargs.get("rated_levels")
        if levels:
            graph = mark_ratings(graph, *training_ratings(tables, index), levels)
        try:
            kwargs["edge_types"] = [tuple(et) for et in kwargs["edge_types"]]
            model = PathGNN(**kwargs)
            if (model.edge_types != graph.edge_types
                    or model.item_emb is not None
                    and model.item_emb.shape[0] != graph.num_nodes[schema.PYG_ITEM]
                    or model.content is not None
                    and model.content.shape[0] != graph.num_attribute_values):
                raise ValueError("its edge types, item count or attribute values differ "
                                 "from the run's graph")
            model.load_state_dict(state)
        except (TypeError, ValueError, KeyError, RuntimeError, ConfigError) as exc:
            raise RunError(f"{run_dir / 'model.json'}: the model it describes cannot be built "
                           f"with {run_dir / 'weights.pt'} ({exc})") from None
        return model.eval(), graph

    def _model_scorer(self) -> Scorer:
        self._path = PathScorer(self.model, self.graph)
        return self._path

    def _matrix(self, scenario: str) -> tuple[Tensor, None]:
        return self._candidates(scenario), None  # nothing to cache: scores are per query

    def _model_scores(self, users: list[str], rows: Tensor, matrix: None = None) -> Tensor:
        """Graph users start from their training items (their own node cut, as training
        cut it), folded-in users from the items they were added with; other users score 0."""
        lookup = self.index.lookup(schema.PYG_USER)
        scores = torch.zeros(len(users), len(rows))
        graph_pos = [p for p, u in enumerate(users) if u in lookup]
        if graph_pos:
            nodes = torch.as_tensor([lookup[users[p]] for p in graph_pos])
            scores[graph_pos] = self._path.score(nodes, rows)
        folded = [p for p, u in enumerate(users) if u not in lookup and u in self._added_users]
        if folded:
            histories = self._fold_in_histories([users[p] for p in folded],
                                                self.graph.num_nodes[schema.PYG_ITEM])
            scores[folded] = self._path.score_histories(histories, rows)
        return scores

    def _pair_scores(self, users: list[str], rows: Tensor) -> Tensor:
        """One query per distinct user, for all of its items at once."""
        unique_users = list(dict.fromkeys(users))
        unique_rows, columns = torch.unique(rows, return_inverse=True)
        position = {u: p for p, u in enumerate(unique_users)}
        block = torch.cat([self._scores(unique_users[s:s + SCORE_CHUNK], unique_rows)
                           for s in range(0, len(unique_users), SCORE_CHUNK)])
        return block[torch.as_tensor([position[u] for u in users]), columns]

    def similar_items(self, items: str | Sequence[str], scenario: str | None = None,
                      k: int = 10) -> pd.DataFrame:
        """For each item, the ``k`` items of ``scenario`` (default the run's target) that the
        model ranks first for a user who took only that item (a query from that one item),
        the item itself excluded.

        Returns:
            DataFrame ``item_id, rank, similar_item_id, score``; ``score`` is the model's
            score of that one-item user (not a cosine: the model has no item vectors).
        """
        items = [items] if isinstance(items, str) else list(items)
        item_rows = self._item_rows(items)
        candidates = self._candidates(self._scenario(scenario))
        histories = sp.csr_matrix(
            (np.ones(len(items), dtype=np.float32), (np.arange(len(items)), item_rows.numpy())),
            shape=(len(items), len(self._item_ids)))
        scores = self._path.score_histories(histories, candidates)
        return self._most_similar(items, item_rows, candidates, scores, k)

    def _fold_in_vectors(self, items: list[list[int]]) -> Tensor:
        """No vectors (``[n, 0]``): a folded-in user is served by a query from its items."""
        return torch.zeros(len(items), 0)

    def _no_vectors(self, what: str) -> ConfigError:
        elsewhere = self._embeddings_run()
        where = (f"; the comparison that chose it saved the embeddings of "
                 f"{elsewhere[0]} in {elsewhere[1]}" if elsewhere
                 else ", or serve a run of an embedding strategy (joint, hybrid, ...)")
        return ConfigError(f"{what} needs embeddings, and a path-gnn run has none: it scores "
                           "each user by message passing from their items. Use recommend(), "
                           f"predict(), similar_items() or fold_in_users(){where}")

    def _embeddings_run(self) -> tuple[str, str] | None:
        """``(strategy, run directory)`` of the embeddings ``graphrec transfer`` saved beside
        this run (its ``decision.json``), or None."""
        if self.run_dir is None or not (self.run_dir / "decision.json").is_file():
            return None
        decision = read_run_json(self.run_dir, "decision.json")  # an object: checked at load
        where = decision.get("embeddings_run")
        if not isinstance(where, str):
            return None
        return str(decision.get("embeddings_strategy", "another strategy")), where

    def item_embeddings(self, items=None, scenario=None):
        raise self._no_vectors("item_embeddings()")

    def user_embeddings(self, users=None):
        raise self._no_vectors("user_embeddings()")

    def embed_new_items(self, attributes, scenario=None, ids=None):
        raise self._no_vectors("embed_new_items()")

    def add_items(self, ids: Sequence[str], attributes: Sequence[Mapping[str, Sequence[str]]],
                  scenario: str) -> None:
        """Serve new items from now on (in memory; the run directory is unchanged): each joins
        the graph as an item node linked to its known attribute values and its scenario, with
        no interaction and no learned item vector, exactly as a cold-start item is scored (the
        cold-item queries of training, graphrec.training.queries). :meth:`recommend`,
        :meth:`predict` and :meth:`similar_items` rank them with the rest of ``scenario``.

        The attribute nodes they join now have more edges, so their messages to every item
        change a little, as in a graph rebuilt with the new items; no weight changes.

        Args:
            ids: the new items' ids.
            attributes: per item, kind -> values, e.g. ``{"brand": ["acme"]}``; unknown kinds
                raise, unknown values are left out with one
                :class:`~graphrec.serving.UnknownAttributeWarning`.
            scenario: the scenario they belong to.

        Raises:
            DataError: an id exists already, or an attribute kind is unknown.
        """
        if self.data is None:
            raise ConfigError("this PathRecommender was built without its graph data "
                              "(data=...), so it cannot add items; load it with "
                              "Recommender.load(run_dir)")
        scenario = self._check_new_items(ids, scenario)
        ids, neighbours = self._new_item_neighbours(attributes, scenario, ids)
        self.data = with_new_nodes(self.data, schema.PYG_ITEM, neighbours, item_neighbour_edge)
        # the new items have no interaction: the users' histories (and their marks) are as
        # they were, with a column more per item
        history = sp.hstack([self.graph.history,
                             sp.csr_matrix((self.graph.history.shape[0], len(ids)),
                                           dtype=np.float32)]).tocsr()
        self.graph = replace(prepare_path_graph(self.data, self.graph.content_types),
                             history=history)
        self.model.add_items(len(ids))
        self._path.use_graph(self.graph)
        self._register_items(ids, scenario)

    def item_index(self, scenario=None):
        raise self._no_vectors("approximate search (item_index())")

    def recommend(self, users, scenario=None, k=10, exclude_seen=True, items=None,
                  fallback=None, approximate=False, probes=None) -> pd.DataFrame:
        """As :meth:`Recommender.recommend`, exact only (``approximate`` searches vectors)."""
        if approximate:
            raise self._no_vectors("approximate search")
        return super().recommend(users, scenario, k, exclude_seen, items, fallback)
