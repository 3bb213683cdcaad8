"""Training levers of the one trainer: sampled negatives, the softmax loss, bridge-user
simulation, and the ``[train]`` checks that guard them."""

import copy
import dataclasses
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from graphrec.data.co_interactions import CO_EDGES, co_interaction_edges, co_interaction_graph
from graphrec.data.graph import build_graph, edge_weight, set_edges
from graphrec.data.pairs import training_pairs
from graphrec.errors import ConfigError
from graphrec.models import build_model
from graphrec.models.hetero_lightgcn import normalized_adjacency
from graphrec.serving import Recommender
from graphrec.serving.run_dir import write_run
from graphrec.strategies import run_strategy
from graphrec.training import (
    BPRLoss,
    BridgeSimulation,
    ColdItemSimulation,
    PairObjective,
    SoftmaxLoss,
    TrainConfig,
)
from graphrec.training.device import to_device
from graphrec.training.negatives import SharedNegatives, UniformNegatives
from kg import schema
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables


def test_softmax_loss_matches_its_definition_and_needs_no_penalty():
    gen = torch.Generator().manual_seed(0)
    emb = {"user": torch.randn(3, 4, generator=gen), "item": torch.randn(6, 4, generator=gen)}
    users, pos = torch.tensor([0, 2]), torch.tensor([1, 5])
    neg = torch.tensor([[0, 3, 4], [2, 2, 1]])
    loss, penalty = SoftmaxLoss(0.5)(emb, users, pos, neg, denominator=4)
    cos = torch.nn.functional.cosine_similarity
    expected = 0.0
    for r in range(2):
        u = emb["user"][users[r]]
        logits = [cos(u, emb["item"][pos[r]], dim=0) / 0.5]
        logits += [cos(u, emb["item"][j], dim=0) / 0.5 for j in neg[r]]
        expected += -(logits[0] - torch.logsumexp(torch.stack(logits), 0))
    assert loss.item() == pytest.approx(expected.item() / 4, rel=1e-5)
    assert penalty.item() == 0.0


def test_shared_softmax_leaves_out_what_is_not_allowed_and_matches_the_per_pair_loss():
    gen = torch.Generator().manual_seed(2)
    emb = {"user": torch.randn(3, 4, generator=gen), "item": torch.randn(7, 4, generator=gen)}
    users, pos = torch.tensor([0, 1, 2]), torch.tensor([1, 5, 2])
    cand = torch.tensor([0, 3, 4, 5, 6, 2])
    allowed = torch.tensor([[1, 1, 1, 0, 0, 0], [0, 0, 0, 0, 1, 1], [1, 0, 1, 1, 0, 0]],
                           dtype=torch.bool)
    loss, penalty = SoftmaxLoss(0.2).shared(emb, users, pos, cand, allowed, denominator=5)
    # the same pairs with exactly their allowed negatives, through the per-pair loss
    expected = sum(SoftmaxLoss(0.2)(emb, users[r:r + 1], pos[r:r + 1],
                                    cand[allowed[r]].unsqueeze(0), denominator=5)[0].item()
                   for r in range(3))
    assert loss.item() == pytest.approx(expected, rel=1e-5)
    assert penalty.item() == 0.0


def test_softmax_without_item_normalisation_scores_unit_users_against_raw_items():
    gen = torch.Generator().manual_seed(3)
    emb = {"user": torch.randn(2, 4, generator=gen), "item": 3 * torch.randn(5, 4, generator=gen)}
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([1, 4]), torch.tensor([[0, 2], [3, 0]])
    loss, _ = SoftmaxLoss(0.5, normalize_items=False)(emb, users, pos, neg, denominator=2)
    u = torch.nn.functional.normalize(emb["user"], dim=-1)
    logits = torch.stack([torch.stack([u[b] @ emb["item"][pos[b]],
                                       *(u[b] @ emb["item"][j] for j in neg[b])])
                          for b in range(2)]) / 0.5
    expected = -torch.log_softmax(logits, 1)[:, 0].sum() / 2
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5)
    # the model serves the same scale: unit users, items as they are
    tables = tiny_tables()
    data, _ = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0, normalize=True, normalize_items=False)
    out = model(model.prepare_graph(data))
    norms = out["user"].norm(dim=-1)
    norms = norms[norms > 0]  # a user without edges or id embedding stays at 0
    assert len(norms) > 0 and torch.allclose(norms, torch.ones_like(norms))
    assert not torch.allclose(out["item"].norm(dim=-1), torch.ones(len(out["item"])))
    assert model.init_kwargs()["normalize_items"] is False
    assert TrainConfig().normalize_items is True


def test_item_bias_adds_a_learned_bias_channel_that_cold_items_get_too():
    tables = tiny_tables()
    data, _ = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0, normalize=True, item_bias=True)
    with torch.no_grad():
        model.bias_head.weight.fill_(0.5)
    graph = model.prepare_graph(data)
    out = model(graph)
    assert out["user"].shape[1] == out["item"].shape[1] == 5
    assert torch.equal(out["user"][:, -1], torch.ones(len(out["user"])))
    raw = model.encode(graph)["item"]
    assert torch.allclose(out["item"][:, -1], model.bias_head(raw).squeeze(1))
    assert model.init_kwargs()["item_bias"] is True
    # the loss scores cos(u, i) + b_i: the bias channel is left out of the normalisation
    user = out["user"].detach()
    emb = {"user": torch.cat([3 * user[:, :-1], user[:, -1:]], 1), "item": out["item"].detach()}
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([1, 2]), torch.tensor([[0], [0]])
    loss, _ = SoftmaxLoss(0.5, item_bias=True)(emb, users, pos, neg, denominator=2)
    cos = torch.nn.functional.cosine_similarity

    def score(u, i):
        return cos(emb["user"][u, :-1], emb["item"][i, :-1], dim=0) + emb["item"][i, -1]
    logits = torch.stack([torch.stack([score(u, p), score(u, n[0])])
                          for u, p, n in zip(users, pos, neg, strict=True)]) / 0.5
    assert loss.item() == pytest.approx((-torch.log_softmax(logits, 1)[:, 0].sum() / 2).item(),
                                        rel=1e-5)
    # a new item from its attributes gets a bias from its own embedding
    new = model.embed_new_items(graph, [{"scenario": [0]}])
    assert new.shape == (1, 5) and bool(torch.isfinite(new).all())
    with pytest.raises(ConfigError, match='item_bias needs loss = "softmax"'):
        TrainConfig(loss="bpr", item_bias=True)


def test_pairwise_weight_adds_the_mean_bpr_term_over_a_pairs_own_negatives():
    gen = torch.Generator().manual_seed(4)
    emb = {"user": torch.randn(2, 4, generator=gen), "item": torch.randn(6, 4, generator=gen)}
    users, pos = torch.tensor([0, 1]), torch.tensor([1, 5])
    cand = torch.tensor([0, 2, 3, 4])
    allowed = torch.tensor([[1, 1, 0, 1], [0, 1, 1, 0]], dtype=torch.bool)
    plain, _ = SoftmaxLoss(0.2).shared(emb, users, pos, cand, allowed, 2)
    mixed, _ = SoftmaxLoss(0.2, pairwise_weight=0.5).shared(emb, users, pos, cand, allowed, 2)
    cos = torch.nn.functional.cosine_similarity
    extra = 0.0
    for b in range(2):
        u, p = emb["user"][users[b]], emb["item"][pos[b]]
        terms = [torch.nn.functional.softplus(-(cos(u, p, dim=0) - cos(u, emb["item"][j], dim=0))
                                              / 0.2) for j in cand[allowed[b]]]
        extra += 0.5 * torch.stack(terms).mean().item()
    assert mixed.item() - plain.item() == pytest.approx(extra / 2, rel=1e-5)
    # the per-pair form agrees with the shared form on the same negatives
    per_pair, _ = SoftmaxLoss(0.2, pairwise_weight=0.5)(
        emb, users[:1], pos[:1], cand[allowed[0]].unsqueeze(0), 1)
    alone, _ = SoftmaxLoss(0.2, pairwise_weight=0.5).shared(
        emb, users[:1], pos[:1], cand, allowed[:1], 1)
    assert per_pair.item() == pytest.approx(alone.item(), rel=1e-5)
    with pytest.raises(ConfigError, match='pairwise_weight needs loss = "softmax"'):
        TrainConfig(loss="bpr", pairwise_weight=1.0)


def test_pairwise_weight_follows_the_loss_when_left_out():
    assert TrainConfig().pairwise_weight == 1.0  # the softmax default
    assert TrainConfig(loss="bpr").pairwise_weight == 0.0
    assert TrainConfig(pairwise_weight=0.25).with_loss("bpr").pairwise_weight == 0.0
    assert TrainConfig(loss="bpr").with_loss("softmax").pairwise_weight == 1.0
    assert TrainConfig(pairwise_weight=0.0).pairwise_weight == 0.0  # an explicit 0 stays


def test_shared_negatives_come_from_every_scenario_in_equal_numbers():
    pools = [np.arange(100), np.arange(200, 260)]
    items, pool = SharedNegatives(40).draw(pools, np.random.default_rng(0))
    assert items.shape == pool.shape == (80,)
    assert set(items[pool == 0]) <= set(range(100)) and set(items[pool == 1]) <= set(
        range(200, 260))
    # a scenario with no more items than negatives gives each item once: the full softmax
    small = [np.array([0, 1, 2]), np.arange(200, 260)]
    items, pool = SharedNegatives(40).draw(small, np.random.default_rng(0))
    assert list(items[pool == 0]) == [0, 1, 2] and (pool == 1).sum() == 40
    with pytest.raises(ConfigError, match="negatives must be >= 1"):
        SharedNegatives(0)


def test_training_with_shared_negatives_learns_and_repeats_under_its_seed():
    tables = generate_synthetic(SyntheticConfig(n_users=120, seed=4)).tables
    config = TrainConfig(dim=8, epochs=3, patience=None, seed=5, loss="softmax",
                         negative_sampling="shared", negatives=32, co_interactions=0)
    first = run_strategy("joint", tables, "cosmetics", config, progress=False)
    again = run_strategy("joint", tables, "cosmetics", config, progress=False)
    losses = [row["loss"] for row in first.history]
    assert losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)
    assert losses == [row["loss"] for row in again.history]
    # the model scores cosines, as the loss does
    assert torch.allclose(first.embeddings["item"].norm(dim=1), torch.ones(1), atol=1e-5)


def test_to_device_moves_every_tensor_of_a_prepared_graph_and_nothing_else():
    tables = tiny_tables()
    data, _ = build_graph(tables)
    graph = build_model("sage", data, 4, 1, seed=0).prepare_graph(data)
    moved = to_device(graph, "meta")
    assert moved.data is graph.data and set(moved.cache) == set(graph.cache)
    assert all(v.is_meta for v in [*moved.cache.values(), *moved.mask.values()])
    assert moved.item_scenario.is_meta and not graph.item_scenario.is_meta
    assert to_device({"a": [torch.ones(2), "label"]}, "meta")["a"][1] == "label"


def test_bpr_with_several_negatives_is_the_mean_of_one_negative_losses():
    gen = torch.Generator().manual_seed(1)
    emb = {"user": torch.randn(2, 3, generator=gen), "item": torch.randn(5, 3, generator=gen)}
    users, pos, neg = torch.tensor([0, 1]), torch.tensor([0, 4]), torch.tensor([[1, 2], [3, 3]])
    many, _ = BPRLoss(0.0)(emb, users, pos, neg, 2)
    one = [BPRLoss(0.0)(emb, users, pos, neg[:, j], 2)[0] for j in range(2)]
    assert many.item() == pytest.approx(sum(x.item() for x in one) / 2, rel=1e-6)


def test_negatives_come_from_the_pairs_own_scenario_and_one_negative_keeps_its_draws():
    pools = [np.array([0, 1, 2]), np.array([10, 11])]
    of_pair = np.array([0, 1, 1, 0, 1])
    many = UniformNegatives(50).draw(pools, of_pair, np.random.default_rng(3))
    assert many.shape == (5, 50)
    assert set(many[of_pair == 0].ravel()) == {0, 1, 2}
    assert set(many[of_pair == 1].ravel()) == {10, 11}
    one = UniformNegatives().draw(pools, of_pair, np.random.default_rng(3))
    gen = np.random.default_rng(3)
    first = pools[0][gen.integers(3, size=2)]
    second = pools[1][gen.integers(2, size=3)]
    assert one.shape == (5,)
    assert list(one[of_pair == 0]) == list(first) and list(one[of_pair == 1]) == list(second)
    with pytest.raises(ConfigError, match="negatives must be >= 1"):
        UniformNegatives(0)


def test_negative_pools_hold_each_scenarios_items_with_training_interactions_by_default():
    """a:3 (valid only) and b:2 (test only) have no training interaction: never negatives,
    unless ``negative_pool = "all"``; at least half of every scenario's items have training
    interactions, so ``auto`` (the default) keeps the interacted pools."""
    tables = tiny_tables()
    data, index = build_graph(tables)

    def pools(**kw):
        pairs = training_pairs(tables, index, ["a", "b", "c"], **kw)
        return [sorted(index.ids["item"][i] for i in pool) for pool in pairs.pools]

    assert pools() == pools(negative_pool="interacted") == [["a:1", "a:2"], ["b:1"], ["c:1"]]
    assert pools(negative_pool="all") == [["a:1", "a:2", "a:3"], ["b:1", "b:2"], ["c:1"]]
    assert TrainConfig().negative_pool == "auto"


def test_auto_pool_draws_from_every_item_where_most_have_no_training_interaction():
    from graphrec.data.pairs import AUTO_POOL_MIN_SHARE
    from graphrec.data.splits import subsample_training

    full = generate_synthetic(SyntheticConfig(n_users=120, seed=1)).tables
    sparse = subsample_training(full, "cosmetics", 0.1, seed=0)
    data, index = build_graph(sparse)
    scenarios = ["clothing", "cosmetics", "shoes"]
    auto = training_pairs(sparse, index, scenarios)
    interacted = training_pairs(sparse, index, scenarios, negative_pool="interacted")
    shares = {s: len(interacted.pools[p]) / len(index.scenario_items(s))
              for p, s in enumerate(scenarios)}
    for p, scenario in enumerate(scenarios):
        expected = (interacted.pools[p] if shares[scenario] >= AUTO_POOL_MIN_SHARE
                    else index.scenario_items(scenario))
        assert list(auto.pools[p]) == list(expected), scenario
    assert shares["cosmetics"] < AUTO_POOL_MIN_SHARE <= shares["clothing"]  # both cases met


@pytest.mark.parametrize("loss", [SoftmaxLoss(0.2), BPRLoss(1e-4)], ids=["softmax", "bpr"])
def test_loss_gradients_repeat_exactly_with_repeated_rows(loss):
    # the backward of table[index] adds repeated rows with CPU atomics (order varies)
    def grads():
        gen = torch.Generator().manual_seed(0)
        emb = {"user": torch.randn(50, 16, generator=gen).requires_grad_(),
               "item": torch.randn(30, 16, generator=gen).requires_grad_()}
        users, pos = torch.randint(50, (4096,), generator=gen), torch.randint(30, (4096,),
                                                                               generator=gen)
        if isinstance(loss, SoftmaxLoss):
            cand = torch.randint(30, (1024,), generator=gen)
            value, _ = loss.shared(emb, users, pos, cand, cand[None] != pos[:, None], 4096)
        else:
            value, _ = loss(emb, users, pos, torch.randint(30, (4096, 4), generator=gen), 4096)
        value.backward()
        return emb["user"].grad, emb["item"].grad
    first = grads()
    for _ in range(3):
        assert all(torch.equal(a, b) for a, b in zip(first, grads(), strict=True))


def test_negatives_left_out_follow_the_loss():
    default = TrainConfig()
    assert (default.loss, default.negatives, default.negative_sampling) == (
        "softmax", 1024, "shared")
    bpr = TrainConfig.from_dict({"loss": "bpr"})
    assert (bpr.negatives, bpr.negative_sampling) == (1, "per_pair")
    chosen = TrainConfig.from_dict({"negatives": 64, "negative_sampling": "per_pair"})
    assert (chosen.loss, chosen.negatives, chosen.negative_sampling) == (
        "softmax", 64, "per_pair")


@pytest.mark.parametrize("bad, match", [
    ({"loss": "hinge"}, "unknown loss 'hinge'; losses are"),
    ({"bridge": 1.5}, r"bridge must be in \[0, 1\]"),
    ({"negatives": 0}, "negatives must be >= 1"),
    ({"negative_pool": "warm"},
     r"negative_pool must be one of \['auto', 'interacted', 'all'\]"),
    ({"temperature": 0.0}, "temperature must be > 0"),
    ({"co_support": 0}, "co_support must be >= 1"),
    ({"id_dropout": 1.0}, r"id_dropout must be in \[0, 1\)"),
    ({"negative": 4}, r"unknown training option\(s\) \['negative'\]"),
    ({"negative_sampling": "batch"}, "unknown negative_sampling 'batch'; choices are"),
    ({"loss": "bpr", "negative_sampling": "shared"},
     'negative_sampling = "shared" needs loss = "softmax"'),
    ({"device": "gpu"}, "unknown device 'gpu'"),
    ({"co_positive_weight": -1.0}, "co_positive_weight must be >= 0"),
    ({"co_positive_weight": 1.0, "co_interactions": 0}, "needs co_interactions > 0"),
])
def test_train_section_refuses_what_it_does_not_know(bad, match):
    with pytest.raises(ConfigError, match=match):
        TrainConfig.from_dict(bad)


def test_bridge_simulation_hides_only_target_edges_of_bridge_users():
    tables = tiny_tables()
    data, index = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0)
    graph = model.prepare_graph(data)
    target = index.ids["scenario"].index("b")
    sim = BridgeSimulation(graph, target, 1.0)
    # u1 is the one user with training edges in b and in another scenario (u2's b row is test)
    assert [index.ids["user"][u] for u in sim.bridges] == ["u1"]
    epoch = sim.epoch_graph(model, graph, np.random.default_rng(0))
    before = graph.data[schema.USER_ITEM].edge_index
    after = epoch.data[schema.USER_ITEM].edge_index
    pairs = {(index.ids["user"][u], index.ids["item"][i]) for u, i in after.T.tolist()}
    assert ("u1", "b:1") not in pairs and ("u1", "a:1") in pairs
    assert after.shape[1] == before.shape[1] - 1
    assert torch.equal(epoch.data[schema.reverse_edge(schema.USER_ITEM)].edge_index,
                       after.flip(0))
    # the serving graph is untouched and every node keeps its id embedding
    assert graph.data[schema.USER_ITEM].edge_index.shape == before.shape
    assert epoch.mask is graph.mask
    with pytest.raises(ConfigError, match=r"bridge share must be in \(0, 1\]"):
        BridgeSimulation(graph, target, 0.0)


def test_bridge_simulation_draws_its_share_each_epoch():
    tables = generate_synthetic(SyntheticConfig(n_users=120)).tables
    data, index = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0)
    graph = model.prepare_graph(data)
    sim = BridgeSimulation(graph, index.ids["scenario"].index("cosmetics"), 0.5)
    assert len(sim) > 10
    gen = np.random.default_rng(0)
    full = graph.data[schema.USER_ITEM].edge_index.shape[1]
    hidden_users = []
    for _ in range(2):
        edges = sim.epoch_graph(model, graph, gen).data[schema.USER_ITEM].edge_index
        kept = {tuple(e) for e in edges.T.tolist()}
        gone = [tuple(e) for e in graph.data[schema.USER_ITEM].edge_index.T.tolist()
                if tuple(e) not in kept]
        users = {u for u, _ in gone}
        assert len(users) == round(0.5 * len(sim)) and users <= set(sim.bridges.tolist())
        assert all(index.item_scenario[i] == "cosmetics" for _, i in gone)
        assert edges.shape[1] == full - len(gone)
        hidden_users.append(users)
    assert hidden_users[0] != hidden_users[1]


def test_softmax_training_serves_the_cosines_it_was_trained_on(tmp_path):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=3, dim=16, seed=0, loss="softmax", negatives=8, bridge=0.5)
    result = run_strategy("joint", tables, "cosmetics", config, progress=False)
    norms = result.embeddings["item"].norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=1e-5)
    assert 0.0 < result.test["all"]["ndcg@20"] <= 1.0
    assert math.isfinite(result.valid_score)
    run_dir = write_run(tmp_path / "runs", result, tables, {"train": dataclasses.asdict(config)},
                        "lightgcn", 0)
    served = Recommender.load(run_dir)
    assert served.model.normalize is True
    again = served.model(served.graph)["item"]
    assert torch.allclose(again, result.embeddings["item"], atol=1e-6)
    # without hidden bridge users the model differs: the option is live
    other = run_strategy("joint", tables, "cosmetics",
                         TrainConfig(epochs=3, dim=16, seed=0, loss="softmax", negatives=8,
                                     bridge=0.0), progress=False)
    assert not torch.allclose(other.embeddings["item"], result.embeddings["item"])


def test_co_interaction_edges_link_each_item_to_its_most_similar_items_per_scenario():
    # users 0-2 took item 0 (scenario 0); items 1 and 2 (scenario 1) share 2 and 1 of them;
    # item 3 (scenario 1) shares none
    user_item = torch.tensor([[0, 1, 2, 0, 1, 2, 3], [0, 0, 0, 1, 1, 2, 3]])
    edges = co_interaction_edges(user_item, 4, np.array([0, 1, 1, 1]), k=1)
    pairs = set(map(tuple, edges.T.tolist()))
    # item 0's nearest in scenario 1 is item 1 (cos 2/sqrt(6) > 1/sqrt(3)); nothing in its own
    # scenario (it is alone there, no self-loop); item 3 is similar to nothing
    assert (0, 1) in pairs and (0, 2) not in pairs and not any(3 in p for p in pairs)
    assert all(a != b for a, b in pairs)
    assert (1, 0) in pairs and (2, 0) in pairs  # scenario 0's nearest of items 1 and 2
    assert (1, 2) not in pairs  # items 1 and 2 share no user
    assert len(pairs) == 3
    wide = co_interaction_edges(user_item, 4, np.array([0, 1, 1, 1]), k=5)
    assert set(map(tuple, wide.T.tolist())) == pairs | {(0, 2)}
    # items 0 and 2 share one user only: with min_users=2 they are not linked
    supported = co_interaction_edges(user_item, 4, np.array([0, 1, 1, 1]), k=5, min_users=2)
    assert set(map(tuple, supported.T.tolist())) == {(0, 1), (1, 0)}


def test_co_interaction_edges_come_from_training_splits_and_are_served_alike(tmp_path):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    data, index = build_graph(tables, co_interactions=3)
    edge = ("item", "cooccurs", "item")
    assert edge in data.edge_types and ("item", "rev_cooccurs", "item") in data.edge_types
    src, dst = data[edge].edge_index
    # at most 3 per item and scenario
    per = {}
    for a, b in zip(src.tolist(), dst.tolist(), strict=True):
        key = (a, index.item_scenario[b])
        per[key] = per.get(key, 0) + 1
    assert max(per.values()) <= 3
    # held-out rows never shape the edges: changing them changes nothing
    inter = tables.interactions
    held = inter["split"].isin(["valid", "test"])
    shuffled = inter.copy()
    shuffled.loc[held, "item_id"] = inter.loc[held, "item_id"].iloc[::-1].to_numpy()
    again, _ = build_graph(dataclasses.replace(tables, interactions=shuffled), co_interactions=3)
    assert torch.equal(again[edge].edge_index, data[edge].edge_index)
    config = TrainConfig(epochs=2, dim=16, seed=0, co_interactions=3, co_support=2)
    result = run_strategy("joint", tables, "cosmetics", config, progress=False)
    assert edge in result.graph.data.edge_types
    supported, _ = build_graph(tables, co_interactions=3, co_support=2)
    assert 0 < supported[edge].edge_index.shape[1] < data[edge].edge_index.shape[1]
    run_dir = write_run(tmp_path / "runs", result, tables, {"train": dataclasses.asdict(config)},
                        "lightgcn", 0)
    served = Recommender.load(run_dir)
    assert torch.equal(served.graph.data[edge].edge_index, supported[edge].edge_index)
    assert torch.allclose(served.model(served.graph)["item"], result.embeddings["item"],
                          atol=1e-6)


def test_co_interaction_weights_are_the_cosines_of_the_linked_items_user_sets():
    user_item = torch.tensor([[0, 1, 2, 0, 1, 2, 3, 0], [0, 0, 0, 1, 1, 2, 3, 1]])
    scenario = np.array([0, 1, 1, 1])
    edges, weights = co_interaction_graph(user_item, 4, scenario, k=5)
    assert torch.equal(edges, co_interaction_edges(user_item, 4, scenario, k=5))
    users = {i: set(user_item[0][user_item[1] == i].tolist()) for i in range(4)}
    for (a, b), w in zip(edges.T.tolist(), weights.tolist(), strict=True):
        expected = len(users[a] & users[b]) / math.sqrt(len(users[a]) * len(users[b]))
        assert w == pytest.approx(expected, rel=1e-6)
    assert len(weights) == edges.shape[1] == 4  # (0, 1), (1, 0), (0, 2), (2, 0)


def test_weighted_normalisation_divides_by_summed_weights():
    edges, weight = torch.tensor([[0, 0, 1], [1, 2, 2]]), torch.tensor([0.5, 1.0, 2.0])
    dense = normalized_adjacency(edges, 3, 3, weight).to_dense()
    w_src, w_dst = [1.5, 2.0, 0.0], [0.0, 0.5, 3.0]
    for (s, d), w in zip(edges.T.tolist(), weight.tolist(), strict=True):
        assert dense[d, s].item() == pytest.approx(w / math.sqrt(w_src[s] * w_dst[d]))
    assert torch.count_nonzero(dense) == 3
    # weights of 1 are the plain normalisation
    assert torch.allclose(normalized_adjacency(edges, 3, 3, torch.ones(3)).to_dense(),
                          normalized_adjacency(edges, 3, 3).to_dense())


def test_co_weighted_graphs_train_simulate_and_serve_with_their_weights(tmp_path):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    edge, reverse = CO_EDGES, schema.reverse_edge(CO_EDGES)
    plain, _ = build_graph(tables, co_interactions=3)
    data, _ = build_graph(tables, co_interactions=3, co_weighted=True)
    assert edge_weight(plain, edge) is None
    weights = edge_weight(data, edge)
    assert torch.equal(data[edge].edge_index, plain[edge].edge_index)
    assert torch.equal(edge_weight(data, reverse), weights)
    assert len(weights) == data[edge].edge_index.shape[1] and bool((weights > 0).all())
    assert bool((weights <= 1 + 1e-6).all())
    # the cold-item simulation drops the weights of the edges it hides, and only those
    model = build_model("lightgcn", data, 8, 2, seed=0)
    graph = model.prepare_graph(data)
    target = graph.data[schema.PYG_SCENARIO].num_nodes - 1
    hidden, _ = ColdItemSimulation(graph, target, 0.5).hide(data, graph.mask,
                                                            np.random.default_rng(0))
    kept = hidden[edge].edge_index
    assert 0 < kept.shape[1] < data[edge].edge_index.shape[1]
    lookup = dict(zip(map(tuple, data[edge].edge_index.T.tolist()), weights.tolist(),
                      strict=True))
    assert edge_weight(hidden, edge).tolist() == [lookup[p] for p in map(tuple, kept.T.tolist())]
    assert torch.equal(edge_weight(hidden, reverse), edge_weight(hidden, edge))
    assert torch.equal(edge_weight(data, edge), weights)  # the input graph is untouched
    with pytest.raises(ValueError, match="weights must be given"):
        set_edges(copy.copy(data), edge, kept)
    # the option trains a different model and serving rebuilds the weighted graph
    config = TrainConfig(epochs=2, dim=16, seed=0, co_interactions=3, co_weighted=True)
    result = run_strategy("joint", tables, "cosmetics", config, progress=False)
    unweighted = run_strategy("joint", tables, "cosmetics",
                              dataclasses.replace(config, co_weighted=False), progress=False)
    assert not torch.allclose(result.embeddings["item"], unweighted.embeddings["item"])
    run_dir = write_run(tmp_path / "runs", result, tables, {"train": dataclasses.asdict(config)},
                        "lightgcn", 0)
    served = Recommender.load(run_dir)
    assert torch.equal(edge_weight(served.graph.data, edge), edge_weight(result.graph.data, edge))
    assert torch.allclose(served.model(served.graph)["item"], result.embeddings["item"],
                          atol=1e-6)
    with pytest.raises(ConfigError, match="co_weighted needs"):
        TrainConfig(co_interactions=0, co_weighted=True)


def _fit_on_tiny(**overrides):
    from graphrec.strategies.base import StrategyRun

    tables = generate_synthetic(SyntheticConfig(n_users=120)).tables
    config = TrainConfig(**{"epochs": 4, "dim": 8, "seed": 0, **overrides})
    run = StrategyRun(tables, "cosmetics", config, progress=False)
    return run.train(None, run.scenarios).fit


def test_training_says_why_it_stopped():
    from graphrec.training.trainer import CONVERGED, EPOCH_CAP_RISING, TIME_BUDGET

    capped = _fit_on_tiny(patience=None, lr=0.01)
    # never stopping early, the cap ends training; rising iff the best is the last evaluation
    assert capped.stopped.startswith("epoch cap")
    assert (capped.stopped == EPOCH_CAP_RISING) == (capped.best_epoch == 4)
    stalled = _fit_on_tiny(patience=1, epochs=50, lr=0.05)
    assert stalled.stopped == CONVERGED and len(stalled.history) < 50
    assert stalled.history[-1]["valid"] <= stalled.best_score
    budget = _fit_on_tiny(patience=None, epochs=50, time_budget=1e-9)
    assert budget.stopped == TIME_BUDGET and len(budget.history) == 1
    with pytest.raises(ConfigError, match="time_budget must be > 0"):
        TrainConfig(time_budget=0)


def test_the_default_bridge_share_is_the_cold_share_of_the_targets_validation_users():
    from graphrec.strategies.base import StrategyRun

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    inter = tables.interactions
    mine = inter[inter["scenario"] == "cosmetics"]
    valid = set(mine.loc[mine["split"] == "valid", "user_id"])
    warm = set(mine.loc[mine["split"] == "train", "user_id"])
    run = StrategyRun(tables, "cosmetics", TrainConfig(seed=0), progress=False)
    assert run.cold_share() == pytest.approx(len(valid - warm) / len(valid))
    assert 0 < run.cold_share() < 1
    data, index = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0)
    graph = model.prepare_graph(data)
    bridges = [s for s in run.simulations(graph, index) if isinstance(s, BridgeSimulation)]
    assert len(bridges) == 1 and bridges[0].share == pytest.approx(run.cold_share())
    off = StrategyRun(tables, "cosmetics", TrainConfig(seed=0, bridge=0.0), progress=False)
    assert not any(isinstance(s, BridgeSimulation) for s in off.simulations(graph, index))


def test_cold_item_simulation_is_off_by_default_and_applies_after_bridge_users():
    from graphrec.strategies.base import StrategyRun

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    data, index = build_graph(tables)
    model = build_model("lightgcn", data, 4, 1, seed=0)
    graph = model.prepare_graph(data)
    run = StrategyRun(tables, "cosmetics", TrainConfig(seed=0), progress=False)
    assert [type(s) for s in run.simulations(graph, index)] == [BridgeSimulation]
    both = StrategyRun(tables, "cosmetics", TrainConfig(seed=0, cold_items=0.3),
                       progress=False)
    sims = both.simulations(graph, index)
    # bridge users first: they read the graph's full interaction edges
    assert [type(s) for s in sims] == [BridgeSimulation, ColdItemSimulation]
    assert sims[1].share == 0.3
    off = StrategyRun(tables, "cosmetics", TrainConfig(seed=0, bridge=0.0), progress=False)
    assert off.simulations(graph, index) == []


def test_cold_item_simulation_makes_a_share_of_the_targets_trained_items_cold():
    tables = generate_synthetic(SyntheticConfig(n_users=120)).tables
    data, index = build_graph(tables, co_interactions=5)
    model = build_model("lightgcn", data, 4, 1, seed=0)
    graph = model.prepare_graph(data)
    target = index.ids["scenario"].index("cosmetics")
    sim = ColdItemSimulation(graph, target, 0.5)
    trained = graph.mask[schema.PYG_ITEM][:, 0] > 0
    in_target = graph.item_scenario == target
    assert set(sim.items.tolist()) == set(torch.nonzero(trained & in_target).flatten().tolist())
    co_key = (schema.PYG_ITEM, "cooccurs", schema.PYG_ITEM)
    assert graph.data[co_key].edge_index.shape[1] > 0
    gen = np.random.default_rng(0)
    before = {t: graph.data[t].edge_index.clone() for t in graph.data.edge_types}
    drawn = []
    for _ in range(2):
        epoch = sim.epoch_graph(model, graph, gen)
        cold = torch.nonzero((epoch.mask[schema.PYG_ITEM][:, 0] == 0) & trained).flatten()
        assert len(cold) == round(0.5 * len(sim)) and bool(in_target[cold].all())
        drawn.append(set(cold.tolist()))
        hidden = torch.zeros(len(trained), dtype=torch.bool)
        hidden[cold] = True
        ui = epoch.data[schema.USER_ITEM].edge_index
        full = graph.data[schema.USER_ITEM].edge_index
        # exactly the hidden items' interaction edges are gone, in both directions
        assert not hidden[ui[1]].any()
        assert ui.shape[1] == int((~hidden[full[1]]).sum())
        assert torch.equal(epoch.data[schema.reverse_edge(schema.USER_ITEM)].edge_index,
                           ui.flip(0))
        for key in (co_key, schema.reverse_edge(co_key)):
            co = epoch.data[key].edge_index
            assert not (hidden[co[0]] | hidden[co[1]]).any()
            assert co.shape[1] == int((~(hidden[before[key][0]]
                                        | hidden[before[key][1]])).sum())
        # attribute edges, the other items and users keep theirs
        for key in epoch.data.edge_types:
            if "cooccurs" not in key[1] and schema.PYG_USER not in (key[0], key[2]):
                assert torch.equal(epoch.data[key].edge_index, before[key])
        assert torch.equal(epoch.mask[schema.PYG_USER], graph.mask[schema.PYG_USER])
    assert drawn[0] != drawn[1]
    # the serving graph is untouched
    for key, edges in before.items():
        assert torch.equal(graph.data[key].edge_index, edges)
    assert int((graph.mask[schema.PYG_ITEM] > 0).sum()) == int(trained.sum())
    with pytest.raises(ConfigError, match=r"cold-item share must be in \(0, 1\]"):
        ColdItemSimulation(graph, target, 1.5)
    with pytest.raises(ConfigError, match=r"cold_items must be in \[0, 1\]"):
        TrainConfig(cold_items=-0.1)


def test_cold_item_simulation_trains_cold_items_from_their_attributes():
    tables = generate_synthetic(SyntheticConfig(n_users=120)).tables
    config = TrainConfig(seed=0, epochs=2, patience=None, cold_items=0.5, dim=8)
    result = run_strategy("joint", tables, "cosmetics", config, progress=False)
    plain = run_strategy("joint", tables, "cosmetics",
                         dataclasses.replace(config, cold_items=0.0), progress=False)
    # the simulation changes what training sees, so the two runs end apart
    assert not torch.allclose(result.embeddings["item"], plain.embeddings["item"])
    assert all(np.isfinite(row["loss"]) for row in result.history)


def test_the_default_batch_gives_about_a_hundred_steps_per_epoch():
    config = TrainConfig()
    assert config.batch_for(1_000) == 4096  # small data: the smallest batch
    assert config.batch_for(1_000_000) == 10_000
    assert config.batch_for(1_000_001) == 10_001
    assert TrainConfig(batch_size=512).batch_for(1_000_000) == 512
    with pytest.raises(ConfigError, match="batch_size must be >= 1"):
        TrainConfig(batch_size=0)


def co_positive_objective(weight: float, sampler) -> tuple[PairObjective, object, set]:
    """An objective over clothing and cosmetics of a small synthetic graph (shoes not
    trained), the graph's co-interaction edges, and those edges as a set of pairs."""
    tables = generate_synthetic(SyntheticConfig(n_users=120, seed=4)).tables
    data, index = build_graph(tables, co_interactions=5, co_support=1)
    pairs = training_pairs(tables, index, ["clothing", "cosmetics"])
    objective = PairObjective(pairs, 256, SoftmaxLoss(0.2, pairwise_weight=1.0)
                              if isinstance(sampler, SharedNegatives) else BPRLoss(0.0),
                              sampler, co_positive_weight=weight)
    graph = SimpleNamespace(data=data)
    objective._build_co_neighbours(graph)
    edges = data[(schema.PYG_ITEM, "cooccurs", schema.PYG_ITEM)].edge_index
    return objective, index, set(map(tuple, edges.T.tolist()))


def test_co_positives_are_co_interaction_neighbours_of_the_pairs_items_in_trained_scenarios():
    objective, index, edges = co_positive_objective(1.0, SharedNegatives(16))
    objective.co_gen = np.random.default_rng(0)
    part = torch.arange(400)
    kept, items, pools = objective._co_positives(part)
    own = objective.items[part][kept]
    assert len(items) > 100
    assert all((a, b) in edges for a, b in zip(own.tolist(), items.tolist(), strict=True))
    trained = {"clothing": 0, "cosmetics": 1}  # the pairs' pools, scenarios sorted
    assert [trained[index.item_scenario[i]] for i in items.tolist()] == pools.tolist()
    # pairs left without one: their item has no neighbour, or the drawn one is in shoes
    indptr, neighbours = objective.co_neighbours
    for position in torch.nonzero(~kept).flatten().tolist():
        item = int(objective.items[position])
        drawn = neighbours[indptr[item]:indptr[item + 1]].tolist()
        assert not drawn or any(index.item_scenario[j] == "shoes" for j in drawn)
    # the draw covers more than the first neighbour
    firsts = {int(neighbours[indptr[i]]) for i in own.tolist()}
    assert set(items.tolist()) - firsts


@pytest.mark.parametrize("sampler", [SharedNegatives(16), UniformNegatives(1)],
                         ids=["shared-softmax", "bpr"])
def test_the_co_positive_term_is_linear_in_its_weight_and_off_at_zero(sampler):
    losses = {}
    for weight in (0.0, 0.5, 1.0):  # the same embeddings and draws for every weight
        objective, index, _ = co_positive_objective(weight, sampler)
        torch.manual_seed(1)
        emb = {"user": torch.randn(len(index.ids["user"]), 8),
               "item": torch.randn(len(index.ids["item"]), 8)}
        objective.batch_gen = np.random.default_rng(7)
        objective.co_gen = np.random.default_rng(8)
        if isinstance(sampler, UniformNegatives):
            objective.neg = torch.as_tensor(sampler.draw(
                objective.pairs.pools, objective.pairs.pool_of_pair, np.random.default_rng(3)))
        part = torch.arange(300)
        losses[weight] = objective.batch_loss(emb, part, part)[0].item()
    plain, half, full = losses[0.0], losses[0.5], losses[1.0]  # negatives drawn alike
    assert full > half > plain
    assert full - plain == pytest.approx(2 * (half - plain), rel=1e-4)


def test_training_with_co_positives_learns_and_repeats_under_its_seed():
    tables = generate_synthetic(SyntheticConfig(n_users=120, seed=4)).tables
    config = TrainConfig(dim=8, epochs=3, patience=None, seed=5, negatives=32,
                         co_interactions=5, co_support=1, co_positive_weight=0.5)
    first = run_strategy("joint", tables, "cosmetics", config, progress=False)
    again = run_strategy("joint", tables, "cosmetics", config, progress=False)
    plain = run_strategy("joint", tables, "cosmetics",
                         dataclasses.replace(config, co_positive_weight=0.0), progress=False)
    losses = [row["loss"] for row in first.history]
    assert losses[-1] < losses[0] and all(math.isfinite(x) for x in losses)
    assert losses == [row["loss"] for row in again.history]
    assert losses[0] > plain.history[0]["loss"]  # the added term counts in the loss


def test_the_negative_pool_setting_reaches_training():
    """With a tenth of the target kept, most target items have no training interaction: the
    two pools train different models from the same seed."""
    from graphrec.data.splits import subsample_training

    tables = subsample_training(generate_synthetic(SyntheticConfig(n_users=120, seed=1)).tables,
                                "cosmetics", 0.1, seed=0)
    losses = {}
    for pool in ("interacted", "all", "auto"):
        config = TrainConfig(epochs=2, patience=None, seed=0, dim=16, negative_pool=pool)
        result = run_strategy("target-only", tables, "cosmetics", config, progress=False)
        losses[pool] = [row["loss"] for row in result.history]
    assert losses["interacted"] != losses["all"]
    assert losses["auto"] == losses["all"]  # a sparse target: auto draws from every item
