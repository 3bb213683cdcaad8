"""The conditional GNN (``path-gnn``): its graph, its cut, its queries and its strategy."""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from graphrec.data.graph import build_graph
from graphrec.errors import ConfigError
from graphrec.evaluation.harness import evaluate
from graphrec.models.hetero_lightgcn import normalized_adjacency
from graphrec.models.path_gnn import (
    RATED,
    PathGNN,
    attribute_types,
    content_types,
    csr_rows,
    is_identifier_type,
    mark_ratings,
    prepare_path_graph,
    queries_per_pass,
    rated_levels,
    sparse_mm,
    training_ratings,
)
from graphrec.strategies import run_strategy
from graphrec.strategies.path_gnn import PathGNNConfig, PathScorer
from graphrec.training import TrainConfig
from graphrec.training.cold_items import without_item_interactions
from graphrec.training.queries import QueryObjective, queries_in_memory
from kg import schema
from kg.tables import make_tables
from tests.helpers import tiny_tables


def two_scenarios(extra: list[tuple] = ()):
    """Scenario ``s`` (items s:1-s:3) and ``t`` (t:1-t:3); u1 is the only user of t:1, t:3
    has no user at all."""
    inter = [("u1", "s:1", "s", "train"), ("u1", "t:1", "t", "train"),
             ("u2", "s:1", "s", "train"), ("u2", "s:2", "s", "train"),
             ("u2", "t:2", "t", "train"), ("u3", "s:2", "s", "train"),
             ("u3", "t:2", "t", "valid"), ("u3", "t:1", "t", "test"),
             ("u4", "s:3", "s", "train"),
             ("u4", "t:2", "t", "train"), ("u4", "s:1", "s", "train"), *extra]
    frame = pd.DataFrame(inter, columns=["user_id", "item_id", "scenario", "split"])
    frame["weight"], frame["ts"] = 1.0, None
    users = sorted(set(frame["user_id"]))
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["s", "t"]}),
        users=pd.DataFrame({"user_id": users}),
        items=pd.DataFrame([(f"{s}:{n}", s) for s in "st" for n in (1, 2, 3)],
                           columns=["item_id", "scenario"]),
        interactions=frame[["user_id", "item_id", "scenario", "weight", "ts", "split"]],
    ).validate()


def test_the_prepared_graph_holds_every_edge_type_and_the_training_history():
    data, index = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    assert set(graph.edge_types) == {et for et in data.edge_types
                                     if data[et].edge_index.shape[1]}
    et = schema.USER_ITEM
    expected = normalized_adjacency(data[et].edge_index, graph.num_nodes["user"],
                                    graph.num_nodes["item"]).to_dense()
    assert torch.allclose(graph.adjacency[et].to_dense(), expected)
    users, items = data[et].edge_index
    dense = np.zeros(graph.history.shape, dtype=np.float32)
    dense[users.numpy(), items.numpy()] = 1.0
    np.testing.assert_array_equal(graph.history.toarray(), dense)
    assert graph.trained_items.tolist() == (dense.sum(0) > 0).tolist()


def test_paths_through_the_query_user_are_cut():
    """t:1's only user is u1: with u1 cut, u1's query reaches t:1 exactly as it reaches t:3,
    which no one took; without the cut, t:1 gets u1's message."""
    data, index = build_graph(two_scenarios())
    graph = prepare_path_graph(data)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4,
                        item_embeddings=False)
    u1 = index.index("user", ["u1"])
    t1, t3 = index.index("item", ["t:1", "t:3"])
    history = graph.history[u1].multiply(
        np.asarray([s == "s" for s in index.item_scenario])[None, :]).tocsr()
    with torch.no_grad():
        cut = model.item_states(graph, history, u1)
        open_ = model.item_states(graph, history, None)
    assert torch.allclose(cut[t1], cut[t3])
    assert not torch.allclose(open_[t1], open_[t3])


def reference_item_states(model: PathGNN, graph, histories, users) -> torch.Tensor:
    """The model's layer as its docstring writes it, with dense matrices and no
    factorisation: ``h_t = relu(LN(W_t sum_r A_r (h_src * w_r) + b_t))``, the boundary added
    on items (the query vector where a query starts, plus its rated level's offset where the
    start is rated at one), the query user's state zeroed; features of every item after every
    layer."""
    b = histories.shape[0]
    dense = torch.as_tensor(histories.toarray().T, dtype=torch.float32)[..., None]
    boundary = (dense != 0).float() * model.query
    for level, offset in enumerate([] if model.rating_query is None else model.rating_query):
        boundary = boundary + (dense == RATED + level).float() * offset
    states = {t: None for t in model.node_types}
    states["item"] = boundary
    outputs = []
    for layer in range(model.num_layers):
        new = {}
        for n, node_type in enumerate(model.node_types):
            incoming = None
            for k, et in enumerate(model.edge_types):
                if et[2] != node_type or states[et[0]] is None:
                    continue
                dense = graph.adjacency[et].to_dense()
                message = torch.einsum("ij,jbd->ibd", dense,
                                       states[et[0]] * model.relation[layer, k])
                incoming = message if incoming is None else incoming + message
            if incoming is None:
                new[node_type] = boundary if node_type == "item" else None
                continue
            linear, norm = model.update[layer][n], model.norm[layer][n]
            h = torch.relu(norm(incoming @ linear.weight.T + linear.bias))
            if node_type == "item":
                h = h + boundary
            if node_type == "user" and users is not None:
                keep = torch.ones(h.shape[0], b, 1)
                keep[torch.as_tensor(users), torch.arange(b)] = 0.0
                h = h * keep
            new[node_type] = h
        states = new
        outputs.append(states["item"])
    return torch.cat(outputs, dim=-1)


@pytest.mark.parametrize("make,rated", [(tiny_tables, False), (two_scenarios, False),
                                        (tiny_tables, True), (two_scenarios, True)])
def test_the_factorised_layers_equal_the_plain_formula_in_values_and_gradients(make, rated):
    """``item_states`` folds the relation weights into the update, starts the first layer
    from the histories and multiplies by stored CSR transposes; none of that may change a
    value or a gradient (graphs with item-item, attribute and user-attribute edges; with
    ``rated``, each user's first item rated 1 and second rated 2, two levels of offsets)."""
    data, index = build_graph(make())
    graph = prepare_path_graph(data)
    levels = []
    if rated:
        users = np.flatnonzero(np.diff(graph.history.indptr) > 0)
        first = graph.history.indices[graph.history.indptr[users]]
        more = users[np.diff(graph.history.indptr)[users] > 1]
        second = graph.history.indices[graph.history.indptr[more] + 1]
        levels = [1.0, 2.0]
        graph = mark_ratings(graph, np.concatenate([users, more]),
                             np.concatenate([first, second]),
                             np.repeat(levels, [len(users), len(more)]), levels)
        assert (graph.history.data == RATED).sum() == len(first)
        assert (graph.history.data == RATED + 1).sum() == len(second) > 0
    with torch.random.fork_rng():
        torch.manual_seed(3)
        model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4,
                        rated_levels=levels)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.7)
    users = np.arange(min(3, graph.history.shape[0]))
    histories = graph.history[users]
    items = torch.tensor([0, 2, graph.num_nodes["item"] - 1])
    for cut in (users, None):
        weights = torch.linspace(-1.0, 1.0, model.dim * model.num_layers)
        results = []
        for fast in (True, False):
            model.zero_grad()
            out = (model.item_states(graph, histories, cut, items) if fast
                   else reference_item_states(model, graph, histories, cut)[items])
            (out * weights).sum().backward()
            grads = {name: torch.zeros_like(p) if p.grad is None else p.grad.clone()
                     for name, p in model.named_parameters()}
            results.append((out.detach(), grads))
        (fast, fast_grads), (plain, plain_grads) = results
        assert fast.abs().sum() > 0
        torch.testing.assert_close(fast, plain, rtol=1e-5, atol=1e-5)
        for name, grad in plain_grads.items():
            torch.testing.assert_close(fast_grads[name], grad, rtol=1e-4, atol=1e-5,
                                       msg=lambda m, name=name: f"{name}: {m}")


def test_csr_rows_picks_rows_in_the_order_asked():
    gen = np.random.default_rng(0)
    dense = torch.as_tensor(gen.random((7, 5)) * (gen.random((7, 5)) < 0.4), dtype=torch.float32)
    matrix = dense.to_sparse_csr()
    for rows in ([3, 0, 6], [2, 2], [], list(range(7))):
        picked = csr_rows(matrix, torch.as_tensor(rows, dtype=torch.long))
        assert picked.layout == torch.sparse_csr
        assert torch.equal(picked.to_dense(), dense[rows])


@pytest.mark.parametrize("make,restricted", [(two_scenarios, [False, False, True, True]),
                                             (tiny_tables, [False, False, False, True])])
def test_scoring_computes_the_items_asked_for_with_every_items_values_to_the_bit(
        make, restricted):
    """Scoring computes the item states that feed no later layer only for the items asked
    for: on a graph without item-item edges the last two layers' (their items send only to
    users), with them the last layer's; the values are those of the whole computation, bit
    for bit, and those rows alone cannot be trained."""
    data, _ = build_graph(make())
    graph = prepare_path_graph(data)
    with torch.random.fork_rng():
        torch.manual_seed(5)
        model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4)
        with torch.no_grad():
            for parameter in model.parameters():
                parameter.normal_(0.0, 0.7)
    assert [schema.PYG_ITEM not in s for s in model.sources] == restricted
    users = np.arange(min(3, graph.history.shape[0]))
    items = torch.tensor([graph.num_nodes["item"] - 1, 0, 2])
    with torch.no_grad():
        some = model.item_states(graph, graph.history[users], users, items)
        every = model.item_states(graph, graph.history[users], users)[items]
    trained = model.item_states(graph, graph.history[users], users, items)
    assert some.abs().sum() > 0
    assert torch.equal(some, every)
    torch.testing.assert_close(trained.detach(), some)
    adjacency = graph.adjacency[graph.edge_types[0]]
    x = torch.ones(adjacency.shape[1], 2, requires_grad=True)
    with pytest.raises(ValueError, match="without gradients"):
        sparse_mm(adjacency, graph.transposed[graph.edge_types[0]], x,
                  rows=torch.tensor([0]))


def test_queries_per_pass_follow_the_memory_left():
    # 16 bytes per query, node, channel and layer in training, half the memory: 1,000 nodes
    # of 4 channels and 2 layers take 128,000 bytes per query
    assert queries_per_pass(1000, 4, 2, 10 * 128_000, training=True) == 5
    assert queries_per_pass(1000, 4, 2, 10 * 48_000, training=False) == 5
    assert queries_per_pass(1000, 4, 2, 1000, training=True) == 1  # never fewer than one
    assert queries_per_pass(1000, 4, 2, None, training=True) is None
    # this machine's memory holds far more than a scored batch of a tiny graph
    data, _ = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4)
    assert queries_in_memory(model, graph, training=False) > queries_in_memory(
        model, graph, training=True) > 64
    assert PathScorer(model, graph).batch == 64 and PathScorer(model, graph, batch=3).batch == 3


def test_a_scorer_sizes_its_passes_again_for_a_larger_graph(monkeypatch):
    # a served graph grows when items are added (PathRecommender.add_items): the users scored
    # per pass follow the new node count, unless a batch was given
    data, _ = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4)
    per_query = 6 * graph.total_nodes * 4 * 4  # scoring bytes per query: 4 channels, 4 layers
    monkeypatch.setattr("graphrec.training.queries.available_bytes",
                        lambda device: 2 * 10 * per_query)
    auto, fixed = PathScorer(model, graph), PathScorer(model, graph, batch=7)
    assert (auto.batch, fixed.batch) == (10, 7)
    larger = replace(graph, num_nodes={**graph.num_nodes,
                                       "item": graph.num_nodes["item"] + 4 * graph.total_nodes})
    auto.use_graph(larger)
    fixed.use_graph(larger)
    assert (auto.batch, fixed.batch) == (2, 7) and auto.graph is larger is fixed.graph


def warm_user_graph():
    """``(graph, index, target)``: :func:`two_scenarios` with a user ``u5`` who took all three
    target items, its prepared graph, index and target items."""
    tables = two_scenarios([("u5", "t:1", "t", "train"), ("u5", "t:2", "t", "train"),
                            ("u5", "t:3", "t", "train")])
    data, index = build_graph(tables)
    return prepare_path_graph(data), index, index.scenario_items("t")


def test_a_batch_in_passes_of_fewer_queries_gets_the_gradient_of_one_pass():
    graph, index, target = warm_user_graph()
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4)
    with torch.no_grad():
        model.item_emb.normal_(0.0, 1.0)
    gradients, losses = [], []
    for per_pass in (None, 1):
        objective = QueryObjective(graph, target, cold_share=0.5, batch_size=8,
                                   per_pass=per_pass)
        gen = np.random.default_rng(0)
        batch = objective.batch(*objective.draw(gen), gen)
        assert len(batch) >= 3
        model.zero_grad()
        loss, count = objective.backward(model, graph, batch)
        assert count == len(batch)
        # from the memory left: the whole batch in one pass on this tiny graph
        assert objective.per_pass >= len(batch) if per_pass is None else objective.per_pass == 1
        losses.append(loss)
        gradients.append({n: p.grad.clone() for n, p in model.named_parameters()
                          if p.grad is not None})
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)
    assert gradients[0].keys() == gradients[1].keys()
    for name, grad in gradients[0].items():
        torch.testing.assert_close(gradients[1][name], grad, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="per_pass"):
        QueryObjective(graph, target, cold_share=0.5, batch_size=8, per_pass=0)


def test_cold_queries_hide_every_target_item_and_warm_ones_hide_part():
    graph, index, target = warm_user_graph()
    objective = QueryObjective(graph, target, cold_share=1.0, batch_size=8)
    names = index.ids["user"]
    assert sorted(names[u] for u in objective.bridge) == ["u1", "u2", "u4"]
    assert sorted(names[u] for u in objective.warm) == ["u5"]
    gen = np.random.default_rng(0)
    users, cold = objective.draw(gen)
    assert sorted(names[u] for u in users) == ["u1", "u2", "u4"] and cold.all()
    batch = objective.batch(users, cold, gen)
    for r, user in enumerate(users):
        row = graph.history[user].toarray().ravel()
        visible = batch.histories[r].toarray().ravel()
        hidden = target[batch.hidden[r].indices]
        assert set(hidden) == set(np.flatnonzero(row)) & set(target)
        assert set(np.flatnonzero(visible)) == set(np.flatnonzero(row)) - set(target)

    warm_only = QueryObjective(graph, target, cold_share=0.0, batch_size=8)
    users, cold = warm_only.draw(gen)
    assert [names[u] for u in users] == ["u5"] and not cold.any()
    batch = warm_only.batch(users, cold, gen)
    hidden = set(target[batch.hidden[0].indices])
    visible = set(np.flatnonzero(batch.histories[0].toarray()))
    assert 1 <= len(hidden) <= 2 and hidden.isdisjoint(visible)
    assert hidden | visible == set(np.flatnonzero(graph.history[users[0]].toarray()))


def test_the_strategy_trains_selects_on_validation_and_scores_cold_users():
    tables = two_scenarios()
    config = TrainConfig(epochs=3, seed=0, co_interactions=0)
    result = run_strategy("path-gnn", tables, "t", config, progress=False,
                          options={"path-gnn": {"dim": 4, "batch_size": 2}})
    assert result.name == "path-gnn" and isinstance(result.model, PathGNN)
    assert result.embeddings == {} and result.model_name == "path-gnn"
    assert 1 <= result.best_epoch <= 3 and len(result.history) == 3
    assert result.valid_score == max(row["valid"] for row in result.history)
    scores = result.scorer.score(torch.arange(len(result.index.ids["user"])),
                                 torch.as_tensor(result.index.scenario_items("t")))
    assert torch.isfinite(scores).all()
    again = evaluate(result.scorer, result.index, tables, "t", "valid", (20,), ("all",))
    assert again["all"]["ndcg@20"] == pytest.approx(result.valid_score)
    repeated = run_strategy("path-gnn", tables, "t", config, progress=False,
                            options={"path-gnn": {"dim": 4, "batch_size": 2}})
    assert [row["loss"] for row in repeated.history] == [row["loss"] for row in result.history]


def test_a_train_learning_rate_is_reported_unread(caplog):
    tables = two_scenarios()
    options = {"path-gnn": {"dim": 4, "batch_size": 2, "lr": 0.02}}
    with caplog.at_level(logging.WARNING, logger="graphrec.strategies.path_gnn"):
        run_strategy("path-gnn", tables, "t", TrainConfig(epochs=1, seed=0, co_interactions=0),
                     progress=False, options=options)
        assert "not read" not in caplog.text  # [train] lr left at its default
        run_strategy("path-gnn", tables, "t",
                     TrainConfig(epochs=1, seed=0, co_interactions=0, lr=0.5),
                     progress=False, options=options)
    assert "[train] lr = 0.5 is not read; [strategy.path-gnn] lr = 0.02 is" in caplog.text


def test_the_scorer_matches_the_model_and_its_pairs_match_its_block():
    data, index = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    model = PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dim=4)
    scorer = PathScorer(model, graph, batch=2)
    users, items = torch.arange(5), torch.arange(6)
    block = scorer.score(users, items)
    with torch.no_grad():
        direct = model(graph, graph.history[users.numpy()], items, users.numpy())
    assert torch.allclose(block, direct, atol=1e-6)
    pair_items = torch.tensor([[0, 5], [3, 1]])
    pairs = scorer.score_pairs(torch.tensor([4, 1]), pair_items)
    assert torch.allclose(pairs, block[torch.tensor([[4], [1]]), pair_items], atol=1e-6)


@pytest.mark.parametrize("bad", [{"dim": 0}, {"num_layers": True}, {"lr": -1.0},
                                 {"batch_size": 2.5}, {"item_embeddings": "yes"},
                                 {"layers": 2}, {"cold_item_queries": 1.5},
                                 {"cold_item_queries": True}, {"cold_item_pool": 0},
                                 {"cold_item_pool": 1.0}, {"rating_starts": 1},
                                 {"dropout": 1.0}, {"dropout": -0.1}, {"dropout": True}])
def test_bad_settings_are_refused(bad):
    with pytest.raises(ConfigError, match="path-gnn"):
        PathGNNConfig.from_dict(bad)


def twin_models(**options):
    """``(graph, plain, model)``: the tiny graph, a 2-layer ``PathGNN`` of 4 channels, and one
    with the same initial weights and ``options`` (the graph's attribute values with
    ``attribute_embeddings``)."""
    data, _ = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    kwargs = dict(node_types=graph.node_types, edge_types=graph.edge_types,
                  num_items=graph.num_nodes["item"], dim=4, num_layers=2)
    if options.get("attribute_embeddings"):
        options = {**options, "num_attribute_values": graph.num_attribute_values}
    with torch.random.fork_rng():
        torch.manual_seed(5)
        plain = PathGNN(**kwargs)
        torch.manual_seed(5)
        model = PathGNN(**kwargs, **options)
    return graph, plain, model


def test_dropout_acts_in_training_only_and_zeroes_feature_channels():
    """Scoring (eval mode) gives the scores of the same weights without dropout; training
    zeroes channels of the item features and scales the rest by 1 / (1 - p)."""
    graph, plain, model = twin_models(dropout=0.5)
    assert model.init_kwargs()["dropout"] == 0.5 and plain.init_kwargs()["dropout"] == 0.0
    users = np.arange(3)
    histories, items = graph.history[users], torch.arange(graph.num_nodes["item"])
    with torch.no_grad():
        model.item_emb.normal_(0.0, 1.0)
        plain.item_emb.copy_(model.item_emb)
        model.eval()
        assert torch.equal(model(graph, histories, items, users),
                           plain(graph, histories, items, users))
        model.train()
        features = model.item_states(graph, histories, users, items)
        with torch.random.fork_rng():
            torch.manual_seed(9)
            trained = model(graph, histories, items, users)
            torch.manual_seed(9)
            kept = torch.nn.functional.dropout(torch.ones_like(features), 0.5)
    assert set(kept.unique().tolist()) == {0.0, 2.0}
    dropped = features * kept
    own = (model.item_emb * graph.trained_items.unsqueeze(1))[:, None]
    expected = model.head(dropped).squeeze(-1) + (dropped * own).sum(-1)
    assert torch.allclose(trained, expected.T, atol=1e-5)
    assert not torch.allclose(trained, plain(graph, histories, items, users))
    with pytest.raises(ValueError, match="dropout"):
        PathGNN(graph.node_types, graph.edge_types, graph.num_nodes["item"], dropout=1.0)


def genre_tables(cold: bool = True):
    """One scenario ``m``: users u0-u11 take the movies of one genre each (``a`` for even
    users, ``b`` for odd ones), m:a1-m:a4 and m:b1-m:b4 in training; m:a5 and m:b5 only in
    ``valid`` and m:a6 and m:b6 only in ``test`` (cold-start movies with cold=True; with
    cold=False user w takes every movie in training)."""
    inter = []
    for u in range(12):
        genre = "ab"[u % 2]
        inter += [(f"u{u}", f"m:{genre}{n}", "train") for n in range(1, 5)]
        inter += [(f"u{u}", f"m:{genre}5", "valid"), (f"u{u}", f"m:{genre}6", "test")]
    movies = [f"m:{g}{n}" for g in "ab" for n in range(1, 7)]
    if not cold:
        inter += [("w", movie, "train") for movie in movies]
    frame = pd.DataFrame(inter, columns=["user_id", "item_id", "split"])
    frame["scenario"], frame["weight"], frame["ts"] = "m", 1.0, None
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["m"]}),
        users=pd.DataFrame({"user_id": sorted(set(frame["user_id"]))}),
        items=pd.DataFrame({"item_id": movies, "scenario": "m"}),
        interactions=frame[["user_id", "item_id", "scenario", "weight", "ts", "split"]],
        item_attributes=pd.DataFrame([(m, "genre", m[2]) for m in movies],
                                     columns=["item_id", "kind", "value"]),
    ).validate()


def cold_item_objective(tables, share: float, max_queries: int | None = None):
    data, index = build_graph(tables, co_interactions=0)
    graph = prepare_path_graph(data)
    hidden_graphs = []

    def hide(items):
        hidden_graphs.append(items.clone())
        return prepare_path_graph(without_item_interactions(data, items))

    objective = QueryObjective(graph, index.scenario_items("m"), cold_share=0.0, batch_size=4,
                               max_queries=max_queries, cold_item_share=share,
                               cold_item_pool=0.25, hide=hide)
    return objective, graph, index, hidden_graphs


def test_cold_item_queries_hide_items_from_the_graph_and_rank_them_among_themselves():
    objective, graph, index, hidden_graphs = cold_item_objective(genre_tables(), 1.0)
    assert len(objective.trained_items) == 8  # the four training movies of each genre
    batches = objective.epoch_batches(None, graph, np.random.default_rng(0))
    assert len(hidden_graphs) == 1 and batches
    cold = np.flatnonzero(hidden_graphs[0].numpy())
    assert len(cold) == 2 and set(cold) <= set(objective.trained_items)
    users = np.concatenate([b.users for b in batches])
    # every user who took a cold movie and something else, once
    takers = np.flatnonzero(graph.history[:, cold].getnnz(axis=1) > 0)
    assert sorted(users) == sorted(takers)
    for batch in batches:
        epoch = batch.graph
        assert epoch is not None and batch.candidates.tolist() == cold.tolist()
        # the cold movies lost their interaction edges, and with them their item vectors
        assert epoch.history[:, cold].nnz == 0
        assert not epoch.trained_items[cold].any()
        assert epoch.trained_items.sum() == graph.trained_items.sum() - 2
        for r, user in enumerate(batch.users):
            row = set(np.flatnonzero(graph.history[user].toarray()))
            positives = set(cold[batch.hidden[r].indices])
            assert positives == row & set(cold) and positives
            assert set(np.flatnonzero(batch.histories[r].toarray())) == row - set(cold)


def test_cold_item_queries_take_their_share_of_an_epoch_in_batches_of_their_own():
    objective, graph, index, _ = cold_item_objective(genre_tables(), 0.5, max_queries=8)
    batches = objective.epoch_batches(None, graph, np.random.default_rng(1))
    cold_item = [b for b in batches if b.graph is not None]
    others = [b for b in batches if b.graph is None]
    assert sum(len(b) for b in cold_item) == 4  # half of max_queries
    assert sum(len(b) for b in others) == 4 and all(b.candidates is None for b in others)
    none, _, _, hidden_graphs = cold_item_objective(genre_tables(), 0.0)
    assert all(b.graph is None for b in none.epoch_batches(None, graph,
                                                           np.random.default_rng(1)))
    assert hidden_graphs == []


def test_cold_item_queries_train_the_model_to_rank_cold_movies_by_their_attributes():
    """Validation and test hold only cold-start movies, so the strategy trains cold-item
    queries alone; it then ranks each user's cold test movie (of the user's genre) above
    the other genre's, reached only through the genre nodes."""
    tables = genre_tables()
    config = TrainConfig(epochs=8, seed=0, patience=None)
    result = run_strategy("path-gnn", tables, "m", config, progress=False,
                          options={"path-gnn": {"dim": 8, "batch_size": 4, "lr": 0.02}})
    assert result.decision["cold_item_share"] == 1.0
    assert result.decision["cold_share"] == 0.0
    users = torch.as_tensor(result.index.index("user", [f"u{u}" for u in range(12)]))
    items = torch.as_tensor(result.index.index("item", ["m:a6", "m:b6"]))
    scores = result.scorer.score(users, items)
    own_genre = torch.tensor([0, 1] * 6)
    assert (scores.argmax(1) == own_genre).all()
    assert result.test["all"]["ndcg@20"] == pytest.approx(1.0)


def test_the_cold_item_share_follows_the_validation_split():
    from graphrec.strategies.base import StrategyRun
    config = TrainConfig(epochs=1, seed=0)
    assert StrategyRun(genre_tables(), "m", config).cold_item_share() == 1.0
    assert StrategyRun(genre_tables(cold=False), "m", config).cold_item_share() == 0.0
    assert StrategyRun(two_scenarios(), "t", config).cold_item_share() == 0.0


def test_item_content_holds_the_mean_over_each_items_attribute_values():
    data, index = build_graph(tiny_tables())
    graph = prepare_path_graph(data)
    types = content_types(data)
    assert types and schema.PYG_USER not in types
    assert graph.content_types == tuple(types)
    expected = np.zeros((graph.num_nodes["item"], graph.num_attribute_values), np.float32)
    offset = 0
    for node_type in types:
        [et] = [et for et in data.edge_types if et[0] == "item" and et[2] == node_type]
        items, values = data[et].edge_index.numpy()
        expected[items, values + offset] = 1.0
        offset += graph.num_nodes[node_type]
    assert offset == graph.num_attribute_values
    counts = expected.sum(1, keepdims=True)
    expected = np.divide(expected, counts, out=np.zeros_like(expected), where=counts > 0)
    np.testing.assert_allclose(graph.item_content.to_dense().numpy(), expected)
    np.testing.assert_allclose(graph.item_content_t.to_dense().numpy(), expected.T)
    # no attributes: nothing to learn
    bare = prepare_path_graph(build_graph(two_scenarios())[0])
    assert bare.item_content is None and bare.num_attribute_values == 0
    assert PathGNN(bare.node_types, bare.edge_types, bare.num_nodes["item"], 4, 2,
                   num_attribute_values=0, attribute_embeddings=True).content is None


def test_attribute_types_that_only_identify_items_get_no_content_vector():
    """In the tiny graph every brand names one item per scenario (acme: a:1 and b:1, zeta:
    a:2 and c:1), as XMarket's ASINs do: an identifier, left out of the content; category
    shoes holds a:1 and a:2 of scenario a: content. A second acme item in scenario a makes
    brand content, unless the graph is prepared with the types a model was trained with."""
    from dataclasses import replace

    tables = tiny_tables()
    data, _ = build_graph(tables)
    assert attribute_types(data) == ["brand", "category"]
    assert is_identifier_type(data, "brand") and not is_identifier_type(data, "category")
    assert content_types(data) == ["category"]
    graph = prepare_path_graph(data)
    assert graph.content_types == ("category",)
    assert graph.num_attribute_values == data["category"].num_nodes
    extra = pd.DataFrame([("a:2", "brand", "acme")], columns=["item_id", "kind", "value"])
    shared = replace(tables, item_attributes=pd.concat([tables.item_attributes, extra],
                                                       ignore_index=True)).validate()
    shared_data, _ = build_graph(shared)
    assert not is_identifier_type(shared_data, "brand")
    assert prepare_path_graph(shared_data).content_types == ("brand", "category")
    assert prepare_path_graph(shared_data).num_attribute_values == (
        data["brand"].num_nodes + data["category"].num_nodes)
    frozen = prepare_path_graph(shared_data, graph.content_types)
    assert frozen.content_types == ("category",)
    assert torch.equal(frozen.item_content.to_dense(), graph.item_content.to_dense())
    # only identifiers: no content at all
    bare = prepare_path_graph(data, ())
    assert bare.item_content is None and bare.num_attribute_values == 0


def test_attribute_vectors_and_biases_add_to_the_score_as_documented():
    """score = head(features) + features . (own vector + content vector) + content bias, the
    content being the mean of the item's attribute values' learned rows; untrained (zero) rows
    leave every score as the model without them gives it."""
    graph, plain, model = twin_models(attribute_embeddings=True)
    users = np.arange(3)
    histories, items = graph.history[users], torch.arange(graph.num_nodes["item"])
    with torch.no_grad():
        assert torch.allclose(model(graph, histories, items, users),
                              plain(graph, histories, items, users))
        model.content.normal_(0.0, 1.0)
        model.item_emb.normal_(0.0, 1.0)
        features = model.item_states(graph, histories, users, items)
        content = graph.item_content.to_dense() @ model.content
        own = model.item_emb * graph.trained_items.unsqueeze(1) + content[:, :-1]
        expected = (model.head(features).squeeze(-1) + (features * own[:, None]).sum(-1)
                    + content[:, -1:])
        assert torch.allclose(model(graph, histories, items, users), expected.T, atol=1e-5)
    # every value row gets a gradient through the items that hold it
    model(graph, histories, items, users).sum().backward()
    linked = graph.item_content.to_dense().sum(0) > 0
    assert bool((model.content.grad.abs().sum(1) > 0)[linked].all())
    with pytest.raises(ConfigError, match="attribute_embeddings must be true or false"):
        PathGNNConfig(attribute_embeddings="yes")


def test_every_training_rating_but_the_most_common_starts_a_level_of_its_own():
    tables = two_scenarios([("u1", "s:2", "s", "train")])
    inter = tables.interactions
    inter["weight"] = 5.0  # the most common rating: starts as an unrated item does
    rows = {pair: n for n, pair in
            enumerate(zip(inter["user_id"], inter["item_id"], strict=True))}
    inter.loc[rows[("u2", "s:1")], "weight"] = 1.0
    inter.loc[rows[("u4", "t:2")], "weight"] = 3.0
    inter.loc[rows[("u1", "s:2")], "weight"] = 3.0
    inter.loc[rows[("u3", "t:2")], "weight"] = 2.0  # a validation rating: not a start
    data, index = build_graph(tables)
    users, items, weights = training_ratings(tables, index)
    assert len(users) == (inter["split"] == "train").sum()
    levels = rated_levels(weights)
    assert levels == [1.0, 3.0]
    graph = mark_ratings(prepare_path_graph(data), users, items, weights, levels)
    history = graph.history.toarray()
    at = {(index.ids["user"][u], index.ids["item"][i]): history[u, i]
          for u, i in zip(*np.nonzero(history), strict=True)}
    assert at[("u2", "s:1")] == RATED and at[("u4", "t:2")] == at[("u1", "s:2")] == RATED + 1
    assert {v for pair, v in at.items()
            if pair not in {("u2", "s:1"), ("u4", "t:2"), ("u1", "s:2")}} == {1.0}
    # a tie of the most common values keeps the largest as the base; one value or more than
    # MAX_RATING_LEVELS (counts, not ratings) give no levels
    assert rated_levels(np.array([1.0, 1.0, 4.0, 4.0, 2.0])) == [1.0, 2.0]
    assert rated_levels(np.ones(5)) == []
    assert rated_levels(np.arange(11.0)) == []
    # a pair the graph does not hold (a hidden item) is not marked
    hidden = torch.zeros(graph.num_nodes["item"], dtype=torch.bool)
    hidden[index.index("item", ["s:1"])] = True
    cold = mark_ratings(prepare_path_graph(without_item_interactions(data, hidden)), users,
                        items, weights, levels)
    assert RATED not in set(cold.history.data) and cold.history.nnz == graph.history.nnz - (
        graph.history[:, index.index("item", ["s:1"])[0]].nnz)
