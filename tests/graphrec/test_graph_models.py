"""Graph building, the model template test, training and transfer on synthetic data."""

import pytest
import torch

from graphrec.data.graph import build_graph
from graphrec.models import MODELS, build_model, get_model
from graphrec.strategies import compare
from graphrec.training import TrainConfig
from kg import schema
from kg.errors import ConfigError, DataError
from kg.store import LocalStore
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables


def test_graph_has_every_edge_type_with_its_reverse_and_no_held_out_edges():
    data, index = build_graph(tiny_tables())
    assert set(data.node_types) == {"user", "item", "scenario", "brand", "category", "gender"}
    for et in data.edge_types:
        assert schema.reverse_edge(et) in data.edge_types
    # u2-b:2 (test) and u3-a:3 (valid) stay out of the message-passing graph
    assert data[schema.USER_ITEM].edge_index.shape[1] == 5
    assert list(index.scenario_items("b")) == list(index.index("item", ["b:1", "b:2"]))
    with pytest.raises(DataError, match="unknown item id 'zz'"):
        index.index("item", ["zz"])


def test_same_graph_from_local_store_read(tmp_path):
    store = LocalStore(tmp_path)
    store.load(tiny_tables(), progress=False)
    a, _ = build_graph(tiny_tables())
    b, _ = build_graph(store.read())
    for et in a.edge_types:
        assert torch.equal(a[et].edge_index, b[et].edge_index)


@pytest.mark.neo4j
def test_same_graph_from_neo4j_and_local_store(neo4j_store, tmp_path):
    neo4j_store.load(tiny_tables(), progress=False)
    local = LocalStore(tmp_path)
    local.load(tiny_tables(), progress=False)
    a, ia = build_graph(neo4j_store.read())
    b, ib = build_graph(local.read())
    assert ia.to_dict() == ib.to_dict()
    assert a.edge_types == b.edge_types
    for et in a.edge_types:
        assert torch.equal(a[et].edge_index, b[et].edge_index)


@pytest.mark.parametrize("options", [{}, {"user_head": True}, {"scenario_norm": True},
                                     {"id_dropout": 0.5}],
                         ids=["plain", "user_head", "scenario_norm", "id_dropout"])
@pytest.mark.parametrize("name", sorted(MODELS))
def test_model_template(name, options, tmp_path):
    data, index = build_graph(tiny_tables())

    def make():
        m = build_model(name, data, dim=8, num_layers=2, seed=0, **options)
        m.eval()
        return m

    model = make()
    graph = model.prepare_graph(data)
    if options.get("scenario_norm"):
        model.fit_scenario_norm(graph)
    out = model(graph)
    assert out["item"].shape == (6, 8) and out["user"].shape == (5, 8)
    (out["user"] @ out["item"].T).sum().backward()
    # gradients reach the id embeddings (relation weights that only feed attribute outputs
    # in the last layer get none from a user-item score)
    for t in ("user", "item", "brand") if model.uses_neighbours else ("user", "item"):
        assert model.embedding[t].weight.grad.abs().sum() > 0
    torch.save(model.state_dict(), tmp_path / "w.pt")
    loaded = make()
    assert loaded.state_dict().keys() == model.state_dict().keys()
    with torch.no_grad():
        for p in loaded.parameters():
            p.add_(1.0)
    loaded.load_state_dict(torch.load(tmp_path / "w.pt", weights_only=True))
    assert torch.allclose(loaded(graph)["item"], model(graph)["item"])
    assert torch.equal(make()(graph)["item"], make()(graph)["item"])  # deterministic, seeded
    if options.get("id_dropout"):  # ids dropped at random in training only
        model.train()
        torch.manual_seed(0)
        draws = [model(graph)["user"] for _ in range(8)]
        assert not all(torch.equal(draws[0], d) for d in draws[1:])
        model.eval()
        assert torch.equal(model(graph)["user"], model(graph)["user"])
    if options.get("scenario_norm") or not model.uses_neighbours:
        return  # a new item shifts its scenario's statistics; covered for the plain models
    # b:2 has no training interaction: a new item with its neighbours gets (nearly) its vector
    b2 = int(index.index("item", ["b:2"])[0])
    new = model.embed_new_items(graph, [{"category": list(index.index("category", ["shoes"])),
                                         "scenario": list(index.index("scenario", ["b"]))}])
    assert torch.nn.functional.cosine_similarity(new, model(graph)["item"][b2:b2 + 1]).item() > 0.9


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="Could not resolve model 'lightgcm'"):
        get_model("lightgcm")


def test_training_is_deterministic_under_a_seed_and_moves_with_it():
    # quality bars (joint > target-only, ...) live in benchmarks/quality.py
    tables = generate_synthetic(SyntheticConfig(seed=0, n_users=150)).tables
    config = TrainConfig(epochs=3, dim=16, seed=0)
    first, again = (compare(tables, "cosmetics", ("joint",), config, progress=False)[0]
                    for _ in range(2))
    other = compare(tables, "cosmetics", ("joint",), TrainConfig(epochs=3, dim=16, seed=1),
                    progress=False)[0]
    assert again.test == first.test and again.history == first.history
    assert not torch.equal(other.embeddings["item"], first.embeddings["item"])


def test_relation_aware_model_trains_through_transfer():
    tables = generate_synthetic(SyntheticConfig(seed=0, n_users=300)).tables
    config = TrainConfig(model="sage", epochs=4, seed=0, dim=16)
    result = compare(tables, "cosmetics", ("joint",), config, progress=False)[0]
    assert result.model.__class__.__name__ == "HeteroSAGE"
    assert 0.0 < result.test["all"]["ndcg@20"] <= 1.0


def test_csr_and_coo_adjacencies_propagate_the_same(monkeypatch):
    """Large graphs store adjacencies as CSR (faster there): same propagation and gradients."""
    from graphrec.models import hetero_lightgcn
    from loaders import SyntheticConfig, generate_synthetic

    data, _ = build_graph(generate_synthetic(SyntheticConfig(n_users=120, seed=1)).tables,
                          ("train",))
    outputs = []
    for threshold in (10**12, 0):  # COO everywhere, then CSR everywhere
        monkeypatch.setattr(hetero_lightgcn, "CSR_MIN_EDGES", threshold)
        model = build_model("lightgcn", data, 16, 2, seed=0)
        graph = model.prepare_graph(data)
        layouts = {adj.layout for adj in graph.cache.values()}
        assert layouts == ({torch.sparse_coo} if threshold else {torch.sparse_csr})
        out = model(graph)
        (out["user"].square().sum() + out["item"].sum()).backward()
        outputs.append((out["user"].detach(), model.embedding["item"].weight.grad.clone()))
    assert torch.allclose(outputs[0][0], outputs[1][0], atol=1e-6)
    assert torch.allclose(outputs[0][1], outputs[1][1], atol=1e-5)


def test_learned_relation_weights_start_at_the_plain_mean_and_learn_a_share_per_edge_type():
    data, _ = build_graph(tiny_tables())
    plain = build_model("lightgcn", data, 8, 2, seed=0)
    weighted = build_model("lightgcn", data, 8, 2, seed=0, relation_weights=True)
    assert plain.init_kwargs()["relation_weights"] is None
    assert {tuple(et) for et in weighted.init_kwargs()["relation_weights"]} == {
        et for et in data.edge_types if data[et].edge_index.numel()}
    graph = weighted.prepare_graph(data)
    before = weighted(graph)
    for t, value in plain(plain.prepare_graph(data)).items():  # logits 0: the plain mean
        assert torch.allclose(value, before[t], atol=1e-6), t
    # a step moves the logits, and each destination's shares still sum to 1
    before["user"][0].sum().backward()
    assert weighted.relation_logits.grad.abs().sum() > 0
    with torch.no_grad():
        weighted.relation_logits.add_(torch.linspace(-1, 1, len(weighted.relation_types)))
        shares = weighted.relation_shares(graph.cache)
    for dst in {et[2] for et in graph.cache}:
        total = sum(float(v) for et, v in shares.items() if et[2] == dst)
        assert total == pytest.approx(1.0, abs=1e-6), dst
    after = weighted(graph)
    assert not torch.allclose(after["user"], before["user"].detach())
    # rebuilt from its saved arguments and weights, it propagates the same
    again = get_model("lightgcn")({t: data[t].num_nodes for t in data.node_types},
                                  **weighted.init_kwargs())
    again.load_state_dict(weighted.state_dict())
    assert torch.allclose(again(again.prepare_graph(data))["item"], after["item"])
    with pytest.raises(ConfigError, match='relation_weights needs model = "lightgcn"'):
        build_model("sage", data, 8, 2, relation_weights=True)


def test_attribute_values_of_cold_items_alone_get_no_id_embedding():
    """A brand only a cold-start item has is never trained: its random initial embedding
    must not reach any score, while a brand of warm items does; a node known from
    elsewhere makes its attributes count again."""
    import dataclasses

    import pandas as pd

    tables = tiny_tables()
    extra = pd.DataFrame([("a:3", "brand", "nova"), ("a:3", "category", "shoes")],
                         columns=["item_id", "kind", "value"])
    tables = dataclasses.replace(
        tables, item_attributes=pd.concat([tables.item_attributes, extra], ignore_index=True)
    ).validate()
    data, index = build_graph(tables)
    model = build_model("lightgcn", data, 8, 2, seed=0)
    model.eval()
    graph = model.prepare_graph(data)
    brands = index.lookup("brand")
    nova, acme = brands["nova"], brands["acme"]
    assert graph.mask["brand"][nova, 0] == 0 and graph.mask["brand"][acme, 0] == 1
    assert graph.mask["category"].min() == 1 and graph.mask["scenario"].min() == 1
    before = model(graph)

    def nudged(row: int) -> dict:
        with torch.no_grad():
            model.embedding["brand"].weight[row] += 1.0
        try:
            return model(graph)
        finally:
            with torch.no_grad():
                model.embedding["brand"].weight[row] -= 1.0

    cold = index.index("item", ["a:3"])[0]
    assert torch.allclose(nudged(nova)["item"], before["item"])
    assert not torch.allclose(nudged(acme)["item"], before["item"])
    assert before["item"][cold].abs().sum() > 0  # still built from its trained category
    known = torch.zeros(data["item"].num_nodes, dtype=torch.bool)
    known[cold] = True
    assert model.prepare_graph(data, {"item": known}).mask["brand"][nova, 0] == 1
