"""What every graph model shares: id embeddings, cold-node masking, new-node inference.

Models receive their graph as an argument, as PyG modules do: :meth:`GraphModel.prepare_graph`
turns a ``HeteroData`` into a :class:`ModelGraph` (the model-specific precomputation, such as
normalised adjacency matrices, plus the mask of nodes that have an id embedding), and every
call takes it: ``model(graph)``, ``model.embed_new_items(graph, ...)``. Training, evaluation and
serving hold the same kind of object, so a model never carries hidden graph state and one model
can serve several graphs (the joint graph in training, a target-only graph after adaptation).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from graphrec.data.graph import item_neighbour_edge, item_scenario_ids, with_new_nodes
from graphrec.errors import ConfigError, DataError
from graphrec.pyg import HeteroData
from kg import schema


@dataclass(frozen=True)
class ModelGraph:
    """A graph prepared for one model (built by :meth:`GraphModel.prepare_graph`).

    Attributes:
        data: the message-passing graph.
        cache: what the model's :meth:`~GraphModel.propagate` needs, precomputed once.
        mask: node type -> ``[num_nodes, 1]`` float, 1 for nodes whose id embedding is used.
        item_scenario: ``[num_items]`` scenario index of every item (None without scenarios).
    """

    data: HeteroData
    cache: object
    mask: dict[str, Tensor]
    item_scenario: Tensor | None


class GraphModel(nn.Module):
    """Base class: one id embedding table per node type; subclasses define :meth:`propagate`.

    Users and items without any interaction edge in the graph (cold-start nodes) get no id
    embedding: their input is zero and their representation comes only from their neighbours
    (attributes, links, other scenarios), exactly as for a node added after training. Nor do
    attribute values (and other non-user, non-item nodes) linked only to such nodes, which
    training never reaches (:meth:`_reachable_mask`). That is what makes the models
    inductive: :meth:`embed_new_items` adds new item nodes with their attribute edges to the
    graph and propagates, without retraining.

    Args:
        num_nodes: node type -> number of nodes.
        dim: embedding size.
        num_layers: message-passing layers.
        user_head: add a linear head on user embeddings (feature extraction).
        scenario_norm: scenario-specific normalisation of item embeddings (AdaBN).
        id_dropout: in training, the share of users and items whose id embedding is dropped
            at each step (DropoutNet, Volkovs et al., NeurIPS 2017), so the model learns to
            score nodes from their neighbours alone, as it must for cold-start nodes.
        normalize: L2-normalise the output embeddings, so dot products are cosines (models
            trained with the softmax loss, which scores cosines).
        normalize_items: with ``normalize``, normalise item embeddings too (False: only
            users are normalised, and an item's norm can carry how likely it is overall).
        item_bias: append a bias channel: item vectors get ``w . e_i + c`` (a linear function
            of the item's propagated embedding, so cold-start items get one from their
            attributes) and user vectors a constant 1, so every dot product adds the item's
            bias to the user-item score. Outputs then have ``dim + 1`` columns.
    """

    #: whether outputs depend on neighbours (attributes, other scenarios); False for MF
    uses_neighbours = True

    def __init__(self, num_nodes: dict[str, int], dim: int = 64, num_layers: int = 2,
                 user_head: bool = False, scenario_norm: bool = False, id_dropout: float = 0.0,
                 normalize: bool = False, normalize_items: bool = True,
                 item_bias: bool = False):
        super().__init__()
        self.normalize, self.normalize_items = normalize, normalize_items
        if not 0.0 <= id_dropout < 1.0:
            raise ConfigError(f"id_dropout must be in [0, 1), not {id_dropout}")
        self.id_dropout = id_dropout
        self.num_nodes = dict(num_nodes)
        self.dim = dim
        self.num_layers = num_layers
        self.embedding = nn.ModuleDict({t: nn.Embedding(n, dim) for t, n in num_nodes.items()})
        for emb in self.embedding.values():
            nn.init.normal_(emb.weight, std=0.1)
        # feature extraction: a light linear head on user embeddings (identity at start)
        self.user_head = nn.Linear(dim, dim, bias=False) if user_head else None
        if self.user_head is not None:
            nn.init.eye_(self.user_head.weight)
        # AdaBN-style scenario-specific normalisation statistics of item embeddings
        self.scenario_norm = scenario_norm
        if scenario_norm:
            n_scen = num_nodes[schema.PYG_SCENARIO]
            self.register_buffer("norm_mean", torch.zeros(n_scen, dim))
            self.register_buffer("norm_std", torch.ones(n_scen, dim))
        # the item bias channel (zero at start: scores begin as plain cosines / dot products)
        self.bias_head = nn.Linear(dim, 1) if item_bias else None
        if self.bias_head is not None:
            nn.init.zeros_(self.bias_head.weight)
            nn.init.zeros_(self.bias_head.bias)

    def init_kwargs(self) -> dict:
        """Constructor arguments (besides ``num_nodes``) that rebuild this model; JSON-ready."""
        return {"dim": self.dim, "num_layers": self.num_layers,
                "user_head": self.user_head is not None, "scenario_norm": self.scenario_norm,
                "id_dropout": self.id_dropout, "normalize": self.normalize,
                "normalize_items": self.normalize_items,
                "item_bias": self.bias_head is not None}

    # subclasses ---------------------------------------------------------------------------------

    def prepare(self, data: HeteroData) -> object:
        """Precompute what :meth:`propagate` needs for ``data`` (e.g. normalised adjacency)."""
        return data

    def propagate(self, x: dict[str, Tensor], cache: object) -> dict[str, Tensor]:
        """Input features -> output embeddings, node type -> ``[num_nodes, dim]``."""
        raise NotImplementedError

    # shared -------------------------------------------------------------------------------------

    def _device(self) -> torch.device:
        return next(self.parameters()).device

    def prepare_graph(self, data: HeteroData, known: dict[str, Tensor] | None = None
                      ) -> ModelGraph:
        """Prepare ``data`` (node counts must match the embedding tables) for this model.

        Args:
            data: the message-passing graph.
            known: node type -> ``[num_nodes]`` bool, nodes whose id embedding is used although
                they have no interaction edge in ``data`` (learned on another graph, e.g. the
                sources of a source-free adaptation).

        Raises:
            DataError: the graph's node counts differ from the model's.
        """
        for t, n in self.num_nodes.items():
            if data[t].num_nodes != n:
                raise DataError(f"graph has {data[t].num_nodes} {t} nodes, the model {n}; "
                                "build the model for this graph")
        mask = self._interaction_mask(data)
        for t, extra in (known or {}).items():
            mask[t] = torch.maximum(mask[t], extra.float().unsqueeze(1).to(mask[t].device))
        mask.update(self._reachable_mask(data, mask))
        return ModelGraph(data, self.prepare(data), mask, self._scenario_of_items(data))

    def _scenario_of_items(self, data: HeteroData) -> Tensor | None:
        scenarios = item_scenario_ids(data)
        return None if scenarios is None else scenarios.to(self._device())

    def encode(self, graph: ModelGraph) -> dict[str, Tensor]:
        """Propagated embeddings before any head or normalisation (the "encoder")."""
        return self.propagate(self._inputs(graph.data, graph.mask), graph.cache)

    def _finish(self, out: dict[str, Tensor], item_scenario: Tensor | None) -> dict[str, Tensor]:
        if self.user_head is not None:
            out = {**out, schema.PYG_USER: self.user_head(out[schema.PYG_USER])}
        if self.scenario_norm and item_scenario is not None:
            items = out[schema.PYG_ITEM]
            if self.training:  # batch statistics per scenario, as BatchNorm in train mode
                mean, std = _group_stats(items, item_scenario, self.norm_mean.shape[0])
                with torch.no_grad():
                    self.norm_mean.copy_(mean)
                    self.norm_std.copy_(std)
            else:
                mean, std = self.norm_mean, self.norm_std
            out = {**out, schema.PYG_ITEM: (items - mean[item_scenario]) / std[item_scenario]}
        raw_items = out[schema.PYG_ITEM]
        if self.normalize:
            kinds = (schema.PYG_USER, schema.PYG_ITEM) if self.normalize_items else (
                schema.PYG_USER,)
            out = {t: nn.functional.normalize(v, dim=-1) if t in kinds else v
                   for t, v in out.items()}
        if self.bias_head is not None:
            users = out[schema.PYG_USER]
            out = {**out, schema.PYG_USER: torch.cat([users, users.new_ones(len(users), 1)], 1),
                   schema.PYG_ITEM: torch.cat([out[schema.PYG_ITEM],
                                               self.bias_head(raw_items)], 1)}
        return out

    @torch.no_grad()
    def fit_scenario_norm(self, graph: ModelGraph) -> None:
        """Set each scenario's normalisation statistics from its items' current embeddings
        in ``graph`` (AdaBN, Li et al. 2016: statistics of the domain itself, no labels, no
        gradient).

        Raises:
            ConfigError: the model was built without ``scenario_norm``, or the graph has no
                scenario nodes.
        """
        if not self.scenario_norm or graph.item_scenario is None:
            raise ConfigError("fit_scenario_norm needs a model built with scenario_norm=True "
                              "and a graph with item-scenario edges")
        mean, std = _group_stats(self.encode(graph)[schema.PYG_ITEM], graph.item_scenario,
                                 self.norm_mean.shape[0])
        self.norm_mean.copy_(mean)
        self.norm_std.copy_(std)

    def _interaction_mask(self, data: HeteroData) -> dict[str, Tensor]:
        mask = {}
        if schema.USER_ITEM in data.edge_types:
            edge_index = data[schema.USER_ITEM].edge_index
            for pos, t in ((0, schema.PYG_USER), (1, schema.PYG_ITEM)):
                seen = torch.zeros(data[t].num_nodes, device=self._device())
                seen[edge_index[pos].to(self._device())] = 1.0
                mask[t] = seen.unsqueeze(1)
        return mask

    def _reachable_mask(self, data: HeteroData, mask: dict[str, Tensor]) -> dict[str, Tensor]:
        """Masks of the other node types (attribute values, scenarios): a node keeps its id
        embedding only if it is linked to a user or an item whose own embedding is used.

        Training reaches an attribute node only through the warm users and items it is
        linked to; one linked to cold-start items alone (a director or a release year that
        only new movies have) keeps its random initial embedding, which would otherwise be
        propagated into those items as noise. Such a node counts as unknown, as a node added
        after training does: zero input, its representation comes from its neighbours only.
        """
        if not mask:
            return {}
        reached: dict[str, Tensor] = {}
        for et in data.edge_types:
            # (end of the edge to mark, the end that must be used): either direction
            for pos, other_pos in ((1, 0), (0, 1)):
                node_type, other = et[2 * pos], et[2 * other_pos]
                if node_type in mask or other not in mask:
                    continue
                edge_index = data[et].edge_index.to(self._device())
                if node_type not in reached:
                    reached[node_type] = torch.zeros(data[node_type].num_nodes, 1,
                                                     device=self._device())
                used = mask[other][edge_index[other_pos], 0] > 0
                reached[node_type][edge_index[pos][used]] = 1.0
        return reached

    def _inputs(self, data: HeteroData, mask: dict[str, Tensor]) -> dict[str, Tensor]:
        """Id embeddings, zero for cold nodes and for nodes beyond the tables (new nodes)."""
        x = {}
        for t, emb in self.embedding.items():
            weight = emb.weight
            extra = data[t].num_nodes - weight.shape[0]
            if extra > 0:
                weight = torch.cat([weight, weight.new_zeros(extra, self.dim)])
            if t in mask:
                keep = mask[t]
                if self.training and self.id_dropout > 0:
                    keep = keep * (torch.rand_like(keep) >= self.id_dropout)
                weight = weight * keep
            x[t] = weight
        return x

    def forward(self, graph: ModelGraph) -> dict[str, Tensor]:
        """Embeddings of every node of ``graph``, node type -> ``[num_nodes, dim]``, after the
        user head and the scenario normalisation when the model has them."""
        return self._finish(self.encode(graph), graph.item_scenario)

    @torch.no_grad()
    def embed_new_items(self, graph: ModelGraph, neighbours: list[dict[str, list[int]]]
                        ) -> Tensor:
        """Embeddings of items that are not in ``graph``, from their neighbours only.

        Args:
            graph: the graph the model serves (the new items are added to a copy of it).
            neighbours: per new item, node type -> indices of its neighbours of that type
                (an attribute kind such as ``brand``, or ``scenario``).

        Returns:
            ``[len(neighbours), dim]``.
        """
        return self._embed_new(graph, schema.PYG_ITEM, neighbours, item_neighbour_edge)

    @torch.no_grad()
    def embed_new_users(self, graph: ModelGraph, items: list[list[int]]) -> Tensor:
        """Embeddings of users that are not in ``graph`` (fold-in), from the items they
        interacted with: each new user node is joined to its items and propagated like any
        user, with no id embedding of its own (as a cold-start user), so no retraining.

        Args:
            graph: the graph the model serves (the new users are added to a copy of it).
            items: per new user, the indices of its items.

        Returns:
            ``[len(items), dim]``, comparable with the served user embeddings.
        """
        return self._embed_new(graph, schema.PYG_USER, [{schema.PYG_ITEM: i} for i in items],
                               lambda _: schema.USER_ITEM)

    def _embed_new(self, graph: ModelGraph, new_type: str,
                   neighbours: list[dict[str, list[int]]],
                   edge_type: Callable[[str], tuple[str, str, str]]) -> Tensor:
        """Add ``len(neighbours)`` nodes of ``new_type`` to a copy of ``graph``, joined by
        ``edge_type(neighbour type)`` edges (new node as source) and their reverses, propagate,
        and return the new nodes' embeddings ``[len(neighbours), dim]``."""
        n_old = int(graph.data[new_type].num_nodes)
        data = with_new_nodes(graph.data, new_type, neighbours, edge_type)
        mask = {t: torch.cat([m, m.new_zeros(data[t].num_nodes - m.shape[0], 1)])
                for t, m in graph.mask.items()}
        out = self.propagate(self._inputs(data, mask), self.prepare(data))
        out = self._finish(out, self._scenario_of_items(data))
        return out[new_type][n_old:]


def _group_stats(x: Tensor, group: Tensor, n_groups: int) -> tuple[Tensor, Tensor]:
    """Per-group mean and standard deviation of the rows of ``x``: two ``[n_groups, dim]``."""
    counts = torch.zeros(n_groups, device=x.device).index_add_(
        0, group, torch.ones(len(group), device=x.device)).clamp(min=1).unsqueeze(1)
    mean = torch.zeros(n_groups, x.shape[1], device=x.device).index_add_(0, group, x) / counts
    var = torch.zeros(n_groups, x.shape[1], device=x.device).index_add_(
        0, group, (x - mean[group]) ** 2) / counts
    return mean, (var + 1e-6).sqrt()
