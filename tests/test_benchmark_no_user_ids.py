"""The users-without-ids experiment (benchmarks/no_user_ids.py) zeroes user inputs inside its
``with`` only, so user vectors come from their items alone."""

import pytest
import torch

from benchmarks.no_user_ids import patched
from graphrec.data.graph import build_graph
from graphrec.models import build_model
from graphrec.models.base import GraphModel
from kg import schema
from loaders.synthetic import SyntheticConfig, generate_synthetic


def test_user_inputs_are_zero_inside_the_patch_only():
    tables = generate_synthetic(SyntheticConfig(n_users=60)).tables
    data, _ = build_graph(tables)
    model = build_model("lightgcn", data, 8, 2, seed=0)
    graph = model.prepare_graph(data)
    plain = model._inputs(graph.data, graph.mask)
    method = GraphModel._inputs
    with patched():
        inside = model._inputs(graph.data, graph.mask)
        users = model(graph)[schema.PYG_USER]
    with pytest.raises(RuntimeError), patched():
        raise RuntimeError("a failing run")
    assert GraphModel._inputs is method
    assert plain[schema.PYG_USER].abs().sum() > 0
    assert torch.count_nonzero(inside[schema.PYG_USER]) == 0
    assert torch.equal(inside[schema.PYG_ITEM], plain[schema.PYG_ITEM])
    # a user with interactions still gets a vector, propagated from its items
    assert users.norm(dim=1).max() > 0
