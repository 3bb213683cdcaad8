"""Models, registered by name so config and the CLI can say ``model = "lightgcn"``."""

from __future__ import annotations

import torch

from graphrec.errors import ConfigError
from graphrec.models.base import GraphModel, ModelGraph
from graphrec.models.hetero_lightgcn import HeteroLightGCN
from graphrec.models.hetero_sage import HeteroSAGE, graph_edge_types
from graphrec.models.mf import MatrixFactorization
from graphrec.pyg import HeteroData
from kg.registry import resolve

MODELS: dict[str, type[GraphModel]] = {"lightgcn": HeteroLightGCN, "sage": HeteroSAGE,
                                        "mf": MatrixFactorization}


def get_model(name: str) -> type[GraphModel]:
    """The model class registered as ``name``."""
    return resolve(name, MODELS, "model")


def model_kwargs(name: str, data: HeteroData, dim: int, num_layers: int,
                 **options: bool | float) -> dict:
    """Constructor arguments of model ``name`` for graph ``data`` (JSON-serialisable);
    ``options`` are :class:`GraphModel` switches (``user_head``, ``scenario_norm``,
    ``id_dropout``) and ``relation_weights`` (lightgcn: learn a weight per edge type of
    ``data``)."""
    relation_weights = bool(options.pop("relation_weights", False))
    kwargs: dict = {"dim": dim, "num_layers": num_layers, **options}
    if relation_weights:
        if get_model(name) is not HeteroLightGCN:
            raise ConfigError(f"relation_weights needs model = \"lightgcn\", not {name!r}")
        kwargs["relation_weights"] = [list(et) for et in graph_edge_types(data)]
    if get_model(name) is HeteroSAGE:
        kwargs["edge_types"] = [list(et) for et in graph_edge_types(data)]
    return kwargs


def build_model(name: str, data: HeteroData, dim: int, num_layers: int,
                seed: int | None = None, **options: bool | float) -> GraphModel:
    """Instantiate model ``name`` for the node counts and relations of ``data``.

    ``seed``: initialise the weights from this seed, on a forked generator (the global torch
    generator is left as it was); None uses the global generator.
    """
    cls = get_model(name)
    num_nodes = {t: data[t].num_nodes for t in data.node_types}
    kwargs = model_kwargs(name, data, dim, num_layers, **options)
    if seed is None:
        return cls(num_nodes, **kwargs)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return cls(num_nodes, **kwargs)


__all__ = ["MODELS", "GraphModel", "HeteroLightGCN", "HeteroSAGE", "MatrixFactorization",
           "ModelGraph", "build_model", "get_model", "model_kwargs"]
