"""Serving a ``path-gnn`` run (a PathRecommender) trained by the CLI on a small synthetic graph."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.errors import ConfigError, DataError, RunError
from graphrec.serving import Recommender
from graphrec.serving.path_recommender import PathRecommender
from tests.helpers import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return str(train_run(tmp_path_factory.mktemp("path_serving"),
                         '[data]\nloader = "synthetic"\noptions = { n_users = 150 }\n'
                         '[train]\ntarget = "cosmetics"\nstrategy = "path-gnn"\nepochs = 3\n'
                         'seed = 0\n[strategy.path-gnn]\ndim = 8\nmax_queries = 64\n'
                         'attribute_embeddings = true\n'))


@pytest.fixture(scope="module")
def rec(run_dir):
    return Recommender.load(run_dir)


def test_a_path_run_loads_as_a_path_recommender_and_serves_what_was_measured(run_dir, rec):
    import json

    assert isinstance(rec, PathRecommender)
    assert json.loads((Path(run_dir) / "model.json").read_text())["name"] == "path-gnn"
    measured = json.loads((Path(run_dir) / "metrics.json").read_text())["test"]
    again = rec.evaluate("cosmetics", "test", (20,), ("all",), bootstrap=0)
    assert again["all"]["ndcg@20"] == pytest.approx(measured["all"]["ndcg@20"], abs=1e-6)


def test_recommend_excludes_seen_items_and_predict_gives_its_scores(rec):
    inter = rec.tables.interactions
    warm = inter[(inter["scenario"] == "cosmetics") & (inter["split"] == "train")]
    user = warm["user_id"].iloc[0]
    seen = set(warm.loc[warm["user_id"] == user, "item_id"])
    out = rec.recommend([user, "u2"], "cosmetics", k=5)
    assert list(out.groupby("user_id", sort=False).size()) == [5, 5]
    assert not set(out.loc[out.user_id == user, "item_id"]) & seen
    assert out.groupby("user_id")["score"].apply(lambda s: s.is_monotonic_decreasing).all()
    pairs = rec.predict(list(out["user_id"]), list(out["item_id"]))
    assert pairs["score"].tolist() == pytest.approx(out["score"].tolist(), abs=1e-5)
    every = len(rec.index.scenario_items("cosmetics"))
    with_seen = rec.recommend(user, "cosmetics", k=every, exclude_seen=False)
    assert seen <= set(with_seen["item_id"]) and len(with_seen) == every


def test_users_are_queries_from_their_items_graph_users_with_their_node_cut(rec):
    items = list(rec.tables.interactions.query("user_id == 'u3' and split == 'train'")[
        "item_id"])
    ids, vectors = rec.fold_in_users({"visitor": items})
    assert ids == ["visitor"] and vectors.shape == (1, 0)
    candidates = torch.as_tensor(rec.index.scenario_items("cosmetics"))
    history = rec.graph.history[[rec.index.lookup("user")["u3"]]]
    assert set(history.indices) == set(rec._item_rows(items).tolist())
    with torch.no_grad():
        cut = rec.model(rec.graph, history, candidates, [rec.index.lookup("user")["u3"]])[0]
        uncut = rec.model(rec.graph, history, candidates)[0]
    for user, expected in (("u3", cut), ("visitor", uncut)):  # u3's node stays in the graph
        served = rec.recommend(user, "cosmetics", k=8, exclude_seen=False)
        top = torch.topk(expected, 8)
        assert [rec._item_ids[int(candidates[c])] for c in top.indices] == list(
            served["item_id"])
        assert served["score"].tolist() == pytest.approx(top.values.tolist(), abs=1e-5)
    assert not torch.allclose(cut, uncut)  # the cut removes the paths through u3's node
    with pytest.raises(DataError, match="exist already"):
        rec.fold_in_users({"visitor": items})
    with pytest.raises(DataError, match="unknown item id 'nope'"):
        rec.fold_in_users({"other": ["nope"]})


def test_similar_items_are_a_query_from_one_item(rec):
    out = rec.similar_items(["clothing:i3", "cosmetics:i5"], "cosmetics", k=4)
    assert len(out) == 8 and "cosmetics:i5" not in set(
        out.loc[out.item_id == "cosmetics:i5", "similar_item_id"])
    assert all(i.startswith("cosmetics:") for i in out["similar_item_id"])
    first = out[out.item_id == "clothing:i3"]
    alone = rec.similar_items("clothing:i3", k=4)  # the run's target by default
    assert list(alone["similar_item_id"]) == list(first["similar_item_id"])
    assert first["score"].is_monotonic_decreasing


def test_what_needs_vectors_says_why_it_is_refused(rec, run_dir, tmp_path, monkeypatch):
    for call in (lambda: rec.item_embeddings(), lambda: rec.user_embeddings(["u1"]),
                 lambda: rec.embed_new_items([{}], "cosmetics"),
                 lambda: rec.recommend("u1", approximate=True)):
        with pytest.raises(ConfigError, match="path-gnn run has none"):
            call()
    with pytest.raises(DataError, match="unknown user id"):
        rec.recommend("stranger")
    fallback = rec.recommend("stranger", k=3, fallback="popularity")
    assert len(fallback) == 3 and torch.isfinite(torch.tensor(fallback["score"])).all()
    runner = CliRunner()
    served = runner.invoke(app, ["recommend", run_dir, "-u", "u0", "-k", "3", "--format",
                                 "json"])
    assert served.exit_code == 0, served.output
    new_items = tmp_path / "new.csv"
    new_items.write_text("item_id,brand\ncosmetics:new,brand1\n")
    embed = runner.invoke(app, ["embed", run_dir, "--items", str(new_items), "-s", "cosmetics",
                                "--out", str(tmp_path / "e.parquet")])
    assert embed.exit_code == 2 and "path-gnn run has none" in " ".join(embed.output.split())
    assert not (tmp_path / "e.parquet").exists()
    # refused before any database is reached (this address has no server)
    monkeypatch.setenv("NEO4J_URI", "bolt://127.0.0.1:1")
    export = runner.invoke(app, ["export", run_dir, "--quiet"])
    assert export.exit_code == 2 and "path-gnn run has none" in " ".join(export.output.split())


def test_new_items_join_the_graph_through_their_attributes_as_cold_items_do(run_dir):
    """cosmetics:i0 has no training interaction (brand18, cat9): a new item with the same
    attributes has the same neighbours, so every user scores the two alike; an item of
    another brand scores differently."""
    import warnings

    from graphrec.serving import UnknownAttributeWarning

    rec = Recommender.load(run_dir)
    assert "cosmetics:i0" not in set(rec.tables.interactions.query("split == 'train'")[
        "item_id"])
    items_before, content_before = rec.graph.num_nodes["item"], rec.graph.content_types
    assert content_before == ("brand", "category")
    with pytest.warns(UnknownAttributeWarning, match="brand=brand-new"):
        rec.add_items(["cosmetics:twin", "cosmetics:other", "cosmetics:unknown"],
                      [{"brand": ["brand18"], "category": ["cat9"]},
                       {"brand": ["brand9"], "category": ["cat9"]},
                       {"brand": ["brand-new"], "category": "cat9"}], "cosmetics")
    assert rec.graph.num_nodes["item"] == items_before + 3
    assert rec.graph.content_types == content_before
    assert rec.model.content.shape[0] == rec.graph.num_attribute_values
    assert rec.model.item_emb.shape[0] == items_before + 3
    assert not rec.graph.trained_items[items_before:].any()
    users = ["u0", "u3", "u7"]
    scores = rec.predict(users * 3, ["cosmetics:i0"] * 3 + ["cosmetics:twin"] * 3
                         + ["cosmetics:other"] * 3)["score"].to_numpy()
    assert scores[3:6] == pytest.approx(scores[:3], abs=1e-5)
    assert not scores[6:] == pytest.approx(scores[:3], abs=1e-5)
    every = rec.recommend("u0", "cosmetics", k=10_000, exclude_seen=False)
    assert {"cosmetics:twin", "cosmetics:other", "cosmetics:unknown"} <= set(every["item_id"])
    twin = every.set_index("item_id").loc[["cosmetics:i0", "cosmetics:twin"], "score"]
    assert twin.iloc[1] == pytest.approx(twin.iloc[0], abs=1e-5)
    similar = rec.similar_items("cosmetics:twin", "cosmetics", k=3)
    assert len(similar) == 3 and "cosmetics:twin" not in set(similar["similar_item_id"])
    items = list(rec.tables.interactions.query("user_id == 'u3' and split == 'train'")[
        "item_id"])
    rec.fold_in_users({"visitor-after-new-items": items})
    assert len(rec.recommend("visitor-after-new-items", "cosmetics", k=5)) == 5
    with pytest.raises(DataError, match="exist already"):
        rec.add_items(["cosmetics:twin"], [{"brand": ["brand18"]}], "cosmetics")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(DataError, match="unknown attribute kind 'colour'"):
            rec.add_items(["cosmetics:x"], [{"colour": ["red"]}], "cosmetics")


def test_a_hybrid_on_path_gnn_blends_it_and_is_served_blended(tmp_path):
    import json

    from graphrec.strategies import run_strategy
    from graphrec.training import TrainConfig
    from loaders import SyntheticConfig, generate_synthetic

    run_dir = train_run(tmp_path, '[data]\nloader = "synthetic"\noptions = { n_users = 150 }\n'
                        '[train]\ntarget = "cosmetics"\nstrategy = "hybrid"\nepochs = 3\n'
                        'seed = 0\n[strategy.hybrid]\nmodel = "path-gnn"\n'
                        'baseline = "item-knn"\n[strategy.path-gnn]\ndim = 8\nmax_queries = 64\n')
    decision = json.loads((run_dir / "decision.json").read_text())
    assert decision["model"] == "path-gnn" and decision["baseline"] == "item-knn"
    # weight 0 is the path-gnn alone, trained with [strategy.path-gnn] and the same seed
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    alone = run_strategy("path-gnn", tables, "cosmetics", TrainConfig(epochs=3, seed=0),
                         progress=False, options={"path-gnn": {"dim": 8, "max_queries": 64}})
    assert decision["valid_ndcg_by_weight"]["0.0"] == pytest.approx(alone.valid_score)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["valid_ndcg"] == max(decision["valid_ndcg_by_weight"].values())
    rec = Recommender.load(run_dir)
    assert isinstance(rec, PathRecommender) and rec.blend["weight"] == decision["blend_weight"]
    again = rec.evaluate("cosmetics", "test", (20,), ("all",), bootstrap=0)
    assert again["all"]["ndcg@20"] == pytest.approx(metrics["test"]["all"]["ndcg@20"], abs=1e-6)
    with pytest.raises(ConfigError, match="model must be one of"):
        run_strategy("hybrid", tables, "cosmetics", TrainConfig(epochs=1, seed=0),
                     progress=False, options={"hybrid": {"model": "lightgcn"}})


def test_recommend_keeps_freed_memory_unless_told_not_to_with_the_same_rows(run_dir, tmp_path,
                                                                           monkeypatch):
    """The CLI's process ends after its rows, so by default it keeps freed memory for reuse
    (faster batches, docs/benchmarks.md); ``--no-keep-memory`` leaves malloc alone."""
    calls: list[bool] = []
    monkeypatch.setattr("graphrec.training.memory.keep_freed_memory",
                        lambda: calls.append(True) or True)
    runner = CliRunner()
    rows = {}
    for flag in ("--keep-memory", "--no-keep-memory"):
        out = tmp_path / f"{flag}.csv"
        result = runner.invoke(app, ["recommend", run_dir, "--all-users", "-k", "3", "--out",
                                     str(out), "--batch", "40", flag])
        assert result.exit_code == 0, result.output
        rows[flag] = out.read_text()
        assert len(calls) == 1  # called for the first only
    assert rows["--keep-memory"] == rows["--no-keep-memory"]


def test_a_comparison_trains_path_gnn_once_for_its_hybrid_which_has_no_vectors():
    from graphrec.cli.train_cmd import _embedding_run
    from graphrec.strategies import best_with_embeddings, compare, run_strategy
    from graphrec.training import TrainConfig
    from loaders import SyntheticConfig, generate_synthetic

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=8, seed=0)
    options = {"hybrid": {"model": "path-gnn", "baseline": "item-knn"},
               "path-gnn": {"dim": 8, "max_queries": 64}}
    results = {r.name: r for r in compare(tables, "cosmetics", ("path-gnn", "joint", "hybrid"),
                                          config, progress=False, options=options)}
    path, joint, hybrid = results["path-gnn"], results["joint"], results["hybrid"]
    # the hybrid blends the model the path-gnn run trained, and says so
    assert hybrid.model is path.model and hybrid.history == path.history
    assert hybrid.decision["model_trained_by"] == "path-gnn"
    assert "model_trained_by" not in path.decision
    assert hybrid.decision["valid_ndcg_by_weight"]["0.0"] == pytest.approx(path.valid_score)
    # neither scores with vectors, so the vectors kept beside either served one are joint's
    assert not path.has_embeddings and not hybrid.has_embeddings and joint.has_embeddings
    assert best_with_embeddings(list(results.values())) is joint
    assert _embedding_run(list(results.values()), hybrid) is joint
    assert _embedding_run(list(results.values()), joint) is None
    # calls that share nothing train their own model, the same one from the same seed
    alone = run_strategy("hybrid", tables, "cosmetics", config, progress=False, options=options)
    assert alone.model is not path.model and "model_trained_by" not in alone.decision
    assert alone.valid_score == pytest.approx(hybrid.valid_score)


def test_rating_starts_are_learned_per_rating_and_served_as_trained(tmp_path):
    """On rated data, the starts rated at each value but the most common get a query offset
    of their own: the graph marks exactly those, the model learns the offsets, and a saved
    run marks its graph alike when it loads. Unrated data, and the setting off, start alike."""
    import dataclasses

    import numpy as np

    from graphrec.models.path_gnn import RATED, rated_levels, training_ratings
    from graphrec.serving.run_dir import write_run
    from graphrec.strategies import run_strategy
    from graphrec.training import TrainConfig
    from loaders import SyntheticConfig, generate_synthetic

    tables = generate_synthetic(SyntheticConfig(n_users=80)).tables
    unrated = tables.interactions.copy()
    rng = np.random.default_rng(0)
    tables.interactions["weight"] = rng.choice([1.0, 2.0, 3.0, 4.0, 5.0], len(unrated),
                                               p=[0.1, 0.1, 0.2, 0.2, 0.4])
    config = TrainConfig(epochs=1, seed=0)
    options = {"path-gnn": {"dim": 4, "max_queries": 32}}
    result = run_strategy("path-gnn", tables, "cosmetics", config, progress=False,
                          options=options)
    model, graph = result.model, result.scorer.graph
    assert model.init_kwargs()["rated_levels"] == [1.0, 2.0, 3.0, 4.0]  # 5 is the most common
    assert model.rating_query.shape == (4, 4)
    assert bool((model.rating_query.abs().sum(1) > 0).all())  # every level trained
    users, items, weights = training_ratings(tables, result.index)
    expected = np.ones(graph.history.shape, dtype=np.float32) * (graph.history.toarray() != 0)
    for level, value in enumerate(rated_levels(weights)):
        at = weights == value
        expected[users[at], items[at]] = RATED + level
    assert 0 < (expected > 1).sum() < graph.history.nnz
    np.testing.assert_array_equal(graph.history.toarray(), expected)
    # the saved run marks its graph as training did and scores the same
    run_dir = write_run(tmp_path, result, tables, {"train": dataclasses.asdict(config)},
                        "lightgcn", 0)
    served = Recommender.load(run_dir)
    assert isinstance(served, PathRecommender)
    np.testing.assert_array_equal(served.graph.history.toarray(), expected)
    some = torch.arange(10)
    rows = torch.as_tensor(result.index.scenario_items("cosmetics"))
    assert torch.allclose(served._model_scorer().score(some, rows),
                          result.scorer.score(some, rows), atol=1e-6)
    # a run saved with the one low-rated offset that rating starts replaced is refused
    spec = json.loads((run_dir / "model.json").read_text())
    spec["kwargs"]["low_rated_below"] = 4.0
    with pytest.raises(RunError, match="low_rated_below.*train the run again"):
        PathRecommender.build(None, spec, {}, run_dir, tables, result.index)
    # on unrated data, and off by setting: every start alike
    off = {"path-gnn": {**options["path-gnn"], "rating_starts": False}}
    for tables_, options_ in ((dataclasses.replace(tables, interactions=unrated), options),
                              (tables, off)):
        plain = run_strategy("path-gnn", tables_, "cosmetics", config, progress=False,
                             options=options_)
        assert plain.model.rating_query is None
        assert plain.model.init_kwargs()["rated_levels"] == []
        assert set(plain.scorer.graph.history.data) == {1.0}


def test_compare_pairs_the_run_with_a_baseline_on_the_same_users(run_dir, rec):
    from graphrec.evaluation import evaluate
    from graphrec.evaluation.baselines import build_baseline

    out = rec.compare("item-knn", subsets=("all",), bootstrap=200)
    part = out["subsets"]["all"]
    knn = evaluate(build_baseline("item-knn", rec.tables, rec.index), rec.index, rec.tables,
                   "cosmetics", "test", (10, 20), ("all",), bootstrap=200)["all"]
    assert part["baseline"]["ndcg@20"] == pytest.approx(knn["ndcg@20"])
    assert part["model"] == rec.evaluate("cosmetics", "test", (10, 20), ("all",),
                                         bootstrap=200)["all"]
    paired = part["paired"]["ndcg@20"]
    assert paired["ratio"] == pytest.approx(part["model"]["ndcg@20"] / knn["ndcg@20"])
    assert paired["difference"] == pytest.approx(part["model"]["ndcg@20"] - knn["ndcg@20"])
    lo, hi = paired["ratio_ci95"]
    assert lo <= paired["ratio"] <= hi and 0 <= paired["share_better"] <= 1
    json.dumps(out)  # JSON-ready
    # a setting chosen on the valid split, as the strategy chooses it
    chosen = rec.compare("attribute-knn", subsets=("all",), bootstrap=0)["settings"]
    assert chosen["weighting"] in ("binary", "idf")
    with pytest.raises(ConfigError, match="unknown baseline 'knn'"):
        rec.compare("knn")


def test_compare_with_the_strongest_baseline_takes_the_best_on_validation(rec):
    from graphrec.evaluation import evaluate
    from graphrec.strategies.baselines import fit_baseline, valid_ndcg
    from graphrec.strategies.versus import STRONGEST_OF

    subsets = ("all", "cold_users")
    out = rec.compare("strongest", subsets=subsets, bootstrap=0)
    tried = out["chosen_from"]
    assert out["baseline"] == "strongest" and list(tried) == list(STRONGEST_OF)
    for name, scores in tried.items():  # each as it scores fitted alone, per subset
        alone, _, _ = fit_baseline(name, rec.tables, rec.index, lambda s: valid_ndcg(
            s, rec.index, rec.tables, "cosmetics", 20))
        valid = evaluate(alone, rec.index, rec.tables, "cosmetics", "valid", (20,), subsets)
        assert scores == pytest.approx({s: m["ndcg@20"] for s, m in valid.items()})
    for subset in subsets:
        part = out["subsets"][subset]
        best = max(tried, key=lambda n: tried[n][subset])  # the first of equals
        assert part["baseline_name"] == best
        named = rec.compare(best, subsets=(subset,), bootstrap=0)
        assert named["settings"] == part["settings"] and "chosen_from" not in named
        assert named["subsets"][subset] == part
    json.dumps(out)
    with pytest.raises(ConfigError, match="unknown baseline 'best'.*'strongest'"):
        rec.compare("best")


def test_train_compares_with_a_baseline_only_when_asked(run_dir, tmp_path):
    decision = Path(run_dir) / "decision.json"  # the fixture's run: no --baseline
    assert not decision.exists() or "versus" not in json.loads(decision.read_text())
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 100 }\n[train]\n'
                      'target = "cosmetics"\nepochs = 2\nseed = 0\ndim = 8\n')
    result = CliRunner().invoke(app, ["train", "-c", str(config), "--runs", str(tmp_path),
                                      "--quiet", "--baseline", "item-knn"],
                                terminal_width=200)
    assert result.exit_code == 0, result.output
    made = Path(result.output.strip().splitlines()[-1])
    versus = json.loads((made / "decision.json").read_text())["versus"]
    measured = json.loads((made / "metrics.json").read_text())["test"]
    assert versus["baseline"] == "item-knn" and set(versus["subsets"]) == set(measured)
    for subset, part in versus["subsets"].items():
        assert part["baseline_name"] == "item-knn"
        assert part["model"]["ndcg@20"] == pytest.approx(measured[subset]["ndcg@20"])
    assert "against item-knn" in result.output
    bad = CliRunner().invoke(app, ["train", "-c", str(config), "--runs", str(tmp_path / "no"),
                                   "--baseline", "knn"])
    assert bad.exit_code == 2 and "unknown baseline 'knn'" in bad.output
    assert not (tmp_path / "no").exists() or not any((tmp_path / "no").iterdir())


def test_the_strongest_baseline_of_a_subset_without_valid_users_is_the_best_overall():
    from graphrec.strategies.versus import strongest_by_subset

    valid = {"popularity": {"all": 0.2, "cold_items": 0.1},
             "item-knn": {"all": 0.3, "cold_items": 0.1},
             "attribute-knn": {"all": 0.1}}
    assert strongest_by_subset(valid, ("all", "cold_items", "cold_users")) == {
        "all": "item-knn", "cold_items": "popularity", "cold_users": "item-knn"}
    assert strongest_by_subset({"a": {}, "b": {}}, ("all",)) == {"all": "a"}


def test_evaluate_cli_compares_with_a_baseline(run_dir):
    result = CliRunner().invoke(app, ["evaluate", run_dir, "--baseline", "item-knn",
                                      "--subset", "all", "--bootstrap", "200", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    paired = out["versus"]["subsets"]["all"]["paired"]["ndcg@20"]
    assert out["versus"]["baseline"] == "item-knn"
    assert out["results"]["all"]["ndcg@20"] == out["versus"]["subsets"]["all"]["model"][
        "ndcg@20"]
    assert paired["ratio"] > 0
    table = CliRunner().invoke(app, ["evaluate", run_dir, "--baseline", "item-knn",
                                     "--subset", "all", "--bootstrap", "200"],
                               terminal_width=200)
    assert table.exit_code == 0, table.output
    assert "against item-knn" in table.output and f"{paired['ratio']:.2f}x" in table.output
    bad = CliRunner().invoke(app, ["evaluate", run_dir, "--baseline", "knn"])
    assert bad.exit_code == 2 and "unknown baseline 'knn'" in bad.output
    strongest = CliRunner().invoke(app, ["evaluate", run_dir, "--baseline", "strongest",
                                         "--subset", "all", "--bootstrap", "0", "--json"])
    assert strongest.exit_code == 0, strongest.output
    versus = json.loads(strongest.output)["versus"]
    tried = versus["chosen_from"]
    assert versus["subsets"]["all"]["baseline_name"] == max(tried, key=lambda n: tried[n]["all"])
