"""The weighted co-interaction experiment (benchmarks/weighted_co_edges.py): its cosines are
those of the items' user sets, its adjacency is the weighted symmetric normalisation, and the
patch changes the co-interaction edges only, inside its ``with`` only."""

import math

import pytest
import torch

from benchmarks.weighted_co_edges import edge_cosines, is_co_edge, patched, weighted_adjacency
from graphrec.data.graph import build_graph
from graphrec.models import build_model
from graphrec.models.hetero_lightgcn import HeteroLightGCN
from loaders.synthetic import SyntheticConfig, generate_synthetic


def test_edge_cosines_count_shared_users():
    # users 0-3; item 0: {0, 1, 2}, item 1: {1, 2}, item 2: {3}; (0, 1) listed twice once
    user_item = torch.tensor([[0, 1, 2, 1, 2, 3, 1], [0, 0, 0, 1, 1, 2, 1]])
    cos = edge_cosines(user_item, 4, 3, torch.tensor([[0, 1, 0], [1, 0, 2]]))
    assert cos.tolist() == pytest.approx([2 / math.sqrt(6), 2 / math.sqrt(6), 0.0])


def test_weighted_adjacency_divides_by_summed_weights():
    edges, weight = torch.tensor([[0, 0, 1], [1, 2, 2]]), torch.tensor([0.5, 1.0, 2.0])
    dense = weighted_adjacency(edges, weight, 3, 3).to_dense()
    w_src, w_dst = [1.5, 2.0, 0.0], [0.0, 0.5, 3.0]
    for (s, d), w in zip(edges.T.tolist(), weight.tolist(), strict=True):
        assert dense[d, s].item() == pytest.approx(w / math.sqrt(w_src[s] * w_dst[d]))
    assert torch.count_nonzero(dense) == 3


def test_the_patch_weighs_co_edges_only_and_is_local():
    tables = generate_synthetic(SyntheticConfig(n_users=80)).tables
    data, _ = build_graph(tables, co_interactions=5)
    model = build_model("lightgcn", data, 8, 2, seed=0)
    plain = model.prepare_graph(data).cache
    method = HeteroLightGCN.prepare
    with patched():
        weighted = model.prepare_graph(data).cache
    with pytest.raises(RuntimeError), patched():
        raise RuntimeError("a failing run")
    assert HeteroLightGCN.prepare is method
    co = [et for et in plain if is_co_edge(et)]
    assert len(co) == 2
    for et in plain:
        same = torch.equal(plain[et].to_dense(), weighted[et].to_dense())
        assert same != (et in co), et
