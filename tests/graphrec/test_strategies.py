"""The strategy template test: every learned strategy trains, saves, reloads and reproduces."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.config import RunConfig
from graphrec.serving import Recommender
from graphrec.serving.run_dir import write_run
from graphrec.strategies import CONFIGURABLE, LEARNED, STRATEGIES, run_strategy
from graphrec.strategies.base import StrategyRun
from graphrec.strategies.baselines import fit_baseline, valid_ndcg
from graphrec.strategies.meta_learning import MetaConfig
from graphrec.training import TrainConfig
from kg.errors import ConfigError
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables

SMALL = 'options = { n_users = 150 }'
#: settings that keep the template test fast; the defaults are exercised by the benchmarks
FAST = {"reptile": {"iterations": 20}, "maml": {"iterations": 20}}


def _config(tmp_path: Path, strategy: str) -> Path:
    path = tmp_path / "c.toml"
    extra = ""
    if strategy in FAST:
        extra = f"[strategy.{strategy}]\n" + "".join(f"{k} = {v}\n"
                                                     for k, v in FAST[strategy].items())
    path.write_text(f'[data]\nloader = "synthetic"\n{SMALL}\n[train]\ntarget = "cosmetics"\n'
                    f'strategy = "{strategy}"\nepochs = 4\ndim = 16\nseed = 0\n{extra}')
    return path


@pytest.mark.parametrize("strategy", LEARNED)
def test_strategy_template(strategy, tmp_path):
    result = CliRunner().invoke(app, ["train", "-c", str(_config(tmp_path, strategy)),
                                      "--runs", str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["strategy"] == strategy
    test = metrics["test"]
    assert set(test) >= {"all", "cold_users", "cold_items"}
    assert 0.0 < test["all"]["ndcg@20"] <= 1.0 and 0.0 < metrics["valid_ndcg"] <= 1.0
    # the saved run serves exactly what was measured (weights_only load, same graph)
    reloaded = Recommender.load(run_dir).evaluate("cosmetics", "test", (20,), ("all",),
                                                  bootstrap=0)
    assert reloaded["all"]["ndcg@20"] == pytest.approx(test["all"]["ndcg@20"], abs=1e-6)
    # deterministic under its seed
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    seed = json.loads((run_dir / "meta.json").read_text())["seed"]
    again = run_strategy(strategy, tables, "cosmetics", TrainConfig(epochs=4, dim=16, seed=seed),
                         progress=False, options=FAST)
    assert again.test["all"]["ndcg@20"] == pytest.approx(test["all"]["ndcg@20"], abs=1e-9)
    if strategy in ("reptile", "maml", "shot"):
        assert 0 < again.adapt_seconds < again.seconds


def test_source_free_adaptation_keeps_the_source_hypothesis_frozen():
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    result = run_strategy("shot", tables, "cosmetics", TrainConfig(epochs=3, dim=16, seed=0),
                          progress=False)
    assert result.graph_scenarios == ["cosmetics"]  # no source edge in the adapted graph
    assert result.known_scenarios == ["clothing", "shoes"]
    run = StrategyRun(tables, "cosmetics", TrainConfig(epochs=3, dim=16, seed=0), progress=False)
    source = run.train(["clothing", "shoes"], ["clothing", "shoes"])
    state = result.model.state_dict()
    target_items = torch.as_tensor(result.index.scenario_items("cosmetics"))
    source_items = torch.as_tensor(result.index.scenario_items("clothing"))
    # (two runs of the same training agree to ~1e-7: sparse sums are not bit-reproducible;
    # one Adam step at lr 0.01 moves a weight by up to 0.01, so "adapted" is > 1e-3)
    for name, value in source.fit.state.items():
        if name.startswith("embedding.user"):
            assert (value - state[name]).abs().max() > 1e-3  # adapted
        elif name.startswith("embedding.item"):  # the target's own items adapt, no other
            assert (value[target_items] - state[name][target_items]).abs().max() > 1e-3
            assert torch.allclose(value[source_items], state[name][source_items], atol=1e-5)
        else:
            assert torch.allclose(value, state[name], atol=1e-5), name  # the frozen hypothesis


@pytest.mark.parametrize("strategy", ["reptile", "maml"])
def test_meta_learning_evaluates_on_schedule_and_keeps_the_best(strategy):
    # the few-shot quality bar (reptile > 1.5x target-only) is in benchmarks/quality.py
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    result = run_strategy(strategy, tables, "cosmetics", TrainConfig(epochs=4, dim=16, seed=0),
                          progress=False, options={strategy: {"iterations": 25,
                                                              "eval_every": 10}})
    history = result.decision["meta_history"]
    assert [row["iteration"] for row in history] == [10, 20, 25]
    assert result.decision["zero_shot_valid"] == max(row["valid"] for row in history)
    # the [train] epoch budget bounds meta-training too: 8 meta-iterations per epoch
    short = run_strategy(strategy, tables, "cosmetics", TrainConfig(epochs=2, dim=16, seed=0),
                         progress=False, options={strategy: {"iterations": 25,
                                                             "eval_every": 10}})
    assert [row["iteration"] for row in short.decision["meta_history"]] == [10, 16]


@pytest.mark.parametrize("strategy", ["reptile", "maml"])
def test_meta_training_left_uncapped_stops_when_validation_stops_improving(strategy):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    result = run_strategy(strategy, tables, "cosmetics",
                          TrainConfig(epochs=25, dim=16, seed=0, patience=1),
                          progress=False, options={strategy: {"eval_every": 5}})
    valid = [row["valid"] for row in result.decision["meta_history"]]
    if len(valid) < 8 * 25 // 5:  # stopped before the epoch budget: the last one was no gain
        assert len(valid) >= 2 and valid[-1] <= max(valid[:-1])
    else:  # ran the whole budget: every evaluation improved
        assert valid == sorted(set(valid))


@pytest.mark.parametrize("bad", [{"iterations": 0}, {"iterations": "many"},
                                 {"eval_every": 2.5}, {"meta_lr": 0}])
def test_meta_learning_settings_are_checked(bad):
    with pytest.raises(ConfigError, match="meta-learning setting"):
        MetaConfig.from_dict(bad)


def test_strategy_settings_are_checked():
    raw = {"data": {"loader": "synthetic"}, "train": {"target": "cosmetics"},
           "strategy": {"reptile": {"iterations": 5}}}
    assert RunConfig.from_dict(raw).options == {"reptile": MetaConfig(iterations=5)}
    with pytest.raises(ConfigError, match=r"strategy 'joint' takes no settings"):
        RunConfig.from_dict({**raw, "strategy": {"joint": {}}})
    tables = generate_synthetic(SyntheticConfig(n_users=60)).tables
    with pytest.raises(ConfigError, match=r"unknown meta-learning option\(s\) \['iters'\]"):
        run_strategy("reptile", tables, "cosmetics", TrainConfig(epochs=1, seed=0),
                     progress=False, options={"reptile": {"iters": 3}})
    assert set(CONFIGURABLE) == {"attribute-knn", "content-popularity", "ease", "guarded",
                                 "reptile", "maml", "shot", "hybrid", "path-gnn"}


def test_bad_strategy_settings_fail_before_any_data_is_read(tmp_path):
    missing = tmp_path / "no-such-data"
    raw = {"data": {"loader": "cdrib", "path": str(missing)},
           "train": {"target": "game", "strategy": "reptile"}}
    with pytest.raises(ConfigError, match=r"unknown meta-learning option\(s\) \['iters'\]"):
        RunConfig.from_dict({**raw, "strategy": {"reptile": {"iters": 3}}})
    with pytest.raises(ConfigError, match=r"Could not resolve transfer strategy 'jiont'"):
        RunConfig.from_dict({**raw, "train": {"target": "game", "strategy": "jiont"}})
    with pytest.raises(ConfigError, match=r"Could not resolve model 'lightgnc'"):
        RunConfig.from_dict({**raw, "train": {"target": "game", "model": "lightgnc"}})
    assert not missing.exists()


def test_a_missing_seed_is_drawn_and_saved(tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(f'[data]\nloader = "synthetic"\n{SMALL}\n[train]\ntarget = "cosmetics"\n'
                    'strategy = "joint"\nepochs = 1\ndim = 8\n')
    cfg = RunConfig.from_file(path)
    assert isinstance(cfg.train.seed, int)
    result = CliRunner().invoke(app, ["train", "-c", str(path), "--runs", str(tmp_path / "r"),
                                      "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    seed = json.loads((run_dir / "meta.json").read_text())["seed"]
    assert isinstance(seed, int)
    assert json.loads((run_dir / "config.json").read_text())["train"]["seed"] == seed


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_every_registered_strategy_runs_on_a_tiny_graph(strategy):
    tables = tiny_tables()
    result = run_strategy(strategy, tables, "a", TrainConfig(epochs=2, dim=4, seed=0),
                          progress=False, options={"reptile": {"iterations": 3},
                                                   "maml": {"iterations": 3}})
    assert result.name == strategy
    assert 0.0 <= result.valid_score <= 1.0
    assert (result.model is not None) == (strategy in LEARNED)
    assert result.scorer is not None
    assert result.has_embeddings == (strategy in LEARNED and strategy != "path-gnn")
    if result.has_embeddings:
        assert torch.isfinite(result.embeddings["item"]).all()
        assert result.embeddings["item"].shape == (len(result.index.ids["item"]), 4)


def test_progress_without_a_terminal_is_one_named_line_per_epoch(capsys):
    run_strategy("finetune", tiny_tables(), "a", TrainConfig(epochs=2, dim=4, seed=0))
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.strip().splitlines()
    assert lines[:2] == [line for line in lines if line.startswith("finetune (sources): epoch")]
    assert lines[0].startswith("finetune (sources): epoch 1/2 loss ")
    assert any(line.startswith("finetune (target): best epoch ") for line in lines)
    run_strategy("finetune", tiny_tables(), "a", TrainConfig(epochs=2, dim=4, seed=0),
                 progress=False)
    assert capsys.readouterr().err == ""


def test_hybrid_picks_its_blend_on_validation_and_spans_its_two_parts(tmp_path):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=3, dim=16, seed=0)
    joint = run_strategy("joint", tables, "cosmetics", config, progress=False)
    knn = run_strategy("item-knn", tables, "cosmetics", config, progress=False)
    only_model = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                              options={"hybrid": {"weights": [0.0]}})
    only_knn = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                            options={"hybrid": {"weights": [1.0], "baseline": "item-knn"}})
    assert only_model.test["all"]["ndcg@20"] == pytest.approx(joint.test["all"]["ndcg@20"])
    assert only_knn.test["all"]["ndcg@20"] == pytest.approx(knn.test["all"]["ndcg@20"])
    assert only_knn.blend["baseline"] == "item-knn" and only_knn.blend["baseline_settings"] == {}
    both = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                        options={"hybrid": {"baseline": "item-knn"}})
    tried = both.decision["valid_ndcg_by_weight"]
    assert len(tried) == 11 and both.valid_score == max(tried.values())
    assert tried[str(both.blend["weight"])] == both.valid_score
    assert both.valid_score >= max(joint.valid_score, knn.valid_score) - 1e-12
    # attribute-kNN alone at weight 1
    attr = run_strategy("attribute-knn", tables, "cosmetics", config, progress=False)
    only_attr = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                             options={"hybrid": {"weights": [1.0], "baseline": "attribute-knn"}})
    assert only_attr.test["all"]["ndcg@20"] == pytest.approx(attr.test["all"]["ndcg@20"])
    # the default tries item-kNN, EASE and attribute-kNN and keeps the blend that validates best
    auto = run_strategy("hybrid", tables, "cosmetics", config, progress=False)
    by_baseline = auto.decision["valid_ndcg_by_baseline"]
    assert set(by_baseline) == {"item-knn", "ease", "attribute-knn"}
    assert by_baseline["item-knn"] == both.valid_score
    assert auto.valid_score == max(by_baseline.values()) == by_baseline[auto.blend["baseline"]]
    with pytest.raises(ConfigError, match=r"blend weight must be in \[0, 1\]"):
        run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                     options={"hybrid": {"weights": [1.5]}})


def test_the_default_hybrid_leaves_ease_out_where_its_catalogue_is_over_the_limit():
    from graphrec.data.graph import build_graph
    from graphrec.evaluation.baselines import EASE

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=1, dim=8, seed=0)
    count = len(EASE(tables, build_graph(tables)[1]).active)  # the items EASE inverts over
    assert 0 < count < len(tables.items)  # some items have no training interaction

    def hybrid(max_items, **options):
        return run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                            options={"ease": {"max_items": max_items}, "hybrid": options})

    at_limit, over = hybrid(count), hybrid(count - 1)
    assert set(at_limit.decision["valid_ndcg_by_baseline"]) == {"item-knn", "ease",
                                                                "attribute-knn"}
    assert "not_tried" not in at_limit.decision
    # over it, the others' blends are the same and the decision says why EASE is missing
    tried = over.decision["valid_ndcg_by_baseline"]
    assert set(tried) == {"item-knn", "attribute-knn"}
    assert all(tried[b] == at_limit.decision["valid_ndcg_by_baseline"][b] for b in tried)
    assert over.decision["not_tried"] == {
        "ease": f"{count} items with interactions exceed [strategy.ease] "
                f"max_items = {count - 1}"}
    with pytest.raises(ConfigError, match=f"exceed max_items={count - 1}"):
        hybrid(count - 1, baseline="ease")  # named, it refuses as the ease strategy does


def test_attribute_knn_and_its_hybrid_choose_the_weighting_on_validation():
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=16, seed=0)
    attr = run_strategy("attribute-knn", tables, "cosmetics", config, progress=False)
    tried = attr.decision["valid_ndcg_by_weighting"]
    assert set(tried) == {"binary", "idf"} and attr.valid_score == max(tried.values())
    assert tried[attr.decision["weighting"]] == attr.valid_score
    idf = run_strategy("attribute-knn", tables, "cosmetics", config, progress=False,
                       options={"attribute-knn": {"weighting": ["idf"]}})
    assert idf.decision["weighting"] == "idf" and idf.valid_score == tried["idf"]
    only_attr = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                             options={"hybrid": {"weights": [1.0], "baseline": "attribute-knn"},
                                      "attribute-knn": {"weighting": ["idf"]}})
    assert only_attr.blend["baseline_settings"] == {"weighting": "idf"}
    assert only_attr.test["all"]["ndcg@20"] == pytest.approx(idf.test["all"]["ndcg@20"])
    for bad, message in (({"weighting": ["bm25"]}, "weighting must be among"),
                         ({"weighting": []}, "at least one")):
        with pytest.raises(ConfigError, match=message):
            run_strategy("attribute-knn", tables, "cosmetics", config, progress=False,
                         options={"attribute-knn": bad})


def test_content_popularity_chooses_its_ridge_weight_on_validation():
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=16, seed=0)
    chosen = run_strategy("content-popularity", tables, "cosmetics", config, progress=False,
                          options={"content-popularity": {"l2": [0.1, 100]}})
    tried = chosen.decision["valid_ndcg_by_l2"]
    assert {"0.1", "100.0"} <= set(tried) and chosen.valid_score == max(tried.values())
    assert set(tried) - {"0.1", "100.0"} <= {"0.03", "0.01", "300.0", "1000.0"}  # past it
    assert tried[str(chosen.decision["l2"])] == chosen.valid_score
    alone = run_strategy("content-popularity", tables, "cosmetics", config, progress=False,
                         options={"content-popularity": {"l2": [chosen.decision["l2"]]}})
    assert alone.decision["valid_ndcg_by_l2"][str(chosen.decision["l2"])] == pytest.approx(
        chosen.valid_score)  # the same weight validates alike alone (and the search goes on)
    # as its strategy chooses it, where a hybrid or Recommender.compare fits it
    default = run_strategy("content-popularity", tables, "cosmetics", config, progress=False)
    fitted, settings, _ = fit_baseline("content-popularity", tables, default.index, lambda s:
                                       valid_ndcg(s, default.index, tables, "cosmetics",
                                                  config.k))
    assert settings == {"l2": default.decision["l2"]} and fitted.l2 == settings["l2"]
    # named, the hybrid blends it (auto does not try it); at weight 1 it scores as it does
    blend = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                         options={"hybrid": {"baseline": "content-popularity", "weights": [1.0]},
                                  "content-popularity": {"l2": [chosen.decision["l2"]]}})
    assert blend.blend["baseline"] == "content-popularity"
    assert blend.blend["baseline_settings"] == {"l2": alone.decision["l2"]}
    assert blend.test["all"]["ndcg@20"] == pytest.approx(alone.test["all"]["ndcg@20"])
    for bad in ([], [0], [-1.0], [True]):
        with pytest.raises(ConfigError, match="content-popularity.*l2"):
            run_strategy("content-popularity", tables, "cosmetics", config, progress=False,
                         options={"content-popularity": {"l2": bad}})


def test_ease_and_the_ease_hybrid_choose_on_validation_and_serve_what_they_measured(
        tmp_path, capsys):
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=3, dim=16, seed=0)
    ease = run_strategy("ease", tables, "cosmetics", config, progress=False,
                        options={"ease": {"l2": [1, 10, 100]}})
    tried = ease.decision["valid_ndcg_by_l2"]
    assert {"1.0", "10.0", "100.0"} <= set(tried) and ease.valid_score == max(tried.values())
    assert tried[str(ease.decision["l2"])] == ease.valid_score
    only_ease = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                             options={"hybrid": {"baseline": "ease", "weights": [1.0],
                                                 "l2": [1, 10, 100]}})
    assert only_ease.decision["l2"] == ease.decision["l2"]
    assert only_ease.test["all"]["ndcg@20"] == pytest.approx(ease.test["all"]["ndcg@20"])
    both = run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                        options={"hybrid": {"baseline": "ease", "l2": [10]}})
    from_ten = run_strategy("ease", tables, "cosmetics", config, progress=False,
                            options={"ease": {"l2": [10]}}).decision["l2"]
    assert both.blend["baseline"] == "ease" and both.blend["baseline_settings"] == {
        "l2": from_ten}
    # a saved ease hybrid reloads with the same baseline and serves the measured numbers
    run_dir = write_run(tmp_path, both, tables, {"train": {"target": "cosmetics"}},
                        "lightgcn", seed=0)
    served = Recommender.load(run_dir)
    assert "with ease" in repr(served)
    again = served.evaluate("cosmetics", "test", (20,), ("all",), bootstrap=0)
    assert again["all"]["ndcg@20"] == pytest.approx(both.test["all"]["ndcg@20"], abs=1e-6)
    for bad, message in (({"baseline": "user-knn"}, "baseline must be one of"),
                         ({"l2": [0]}, "l2 values must be > 0"), ({"l2": []}, "at least one")):
        with pytest.raises(ConfigError, match=message):
            run_strategy("hybrid", tables, "cosmetics", config, progress=False,
                         options={"hybrid": bad})
    run_strategy("ease", tables, "cosmetics", config, options={"ease": {"l2": [10, 100]}})
    lines = capsys.readouterr().err.strip().splitlines()
    printed = [line.split(" valid")[0] for line in lines]
    assert printed[:2] == ["ease: l2 10", "ease: l2 100"]
    assert printed[2:] == [f"ease: l2 {w}" for w in (300, 1000, 3000, 10000)][:len(printed) - 2]
    with pytest.raises(ConfigError, match="exceed max_items=10"):
        run_strategy("ease", tables, "cosmetics", config, progress=False,
                     options={"ease": {"max_items": 10}})


def test_the_baselines_a_comparison_ran_are_compared_as_they_ran_not_fitted_again(monkeypatch):
    from graphrec.strategies import compare, versus
    from graphrec.strategies.versus import STRONGEST, against_baseline, ran_baselines

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=16, seed=0)
    results = compare(tables, "cosmetics", ("joint", "popularity", "item-knn", "attribute-knn",
                                            "content-popularity"), config, progress=False)
    model = results[0]
    ran = ran_baselines(results, model.index)
    assert set(ran) == {"popularity", "item-knn", "attribute-knn", "content-popularity"}
    assert ran["item-knn"] is results[2].scorer
    fresh = against_baseline(model.scorer, model.index, tables, "cosmetics", STRONGEST,
                             ks=(config.k,), bootstrap=0)
    fitted = []
    real_fit = versus.fit_baseline
    monkeypatch.setattr(versus, "fit_baseline",
                        lambda name, *a, **k: fitted.append(name) or real_fit(name, *a, **k))
    reused = against_baseline(model.scorer, model.index, tables, "cosmetics", STRONGEST,
                              ks=(config.k,), bootstrap=0, fitted=ran)
    assert fitted == ["attribute-popularity"]  # the one baseline the comparison did not run
    assert json.dumps(reused, sort_keys=True) == json.dumps(fresh, sort_keys=True)
    # a baseline given is the one compared: popularity passed off as item-kNN scores as it
    named = against_baseline(model.scorer, model.index, tables, "cosmetics", "item-knn",
                             ks=(config.k,), bootstrap=0, fitted={"item-knn": ran["popularity"]})
    alone = against_baseline(model.scorer, model.index, tables, "cosmetics", "popularity",
                             ks=(config.k,), bootstrap=0)
    assert named["subsets"]["all"]["baseline"] == alone["subsets"]["all"]["baseline"]
    # a baseline over another graph index is not one of the model's
    other = run_strategy("item-knn", tiny_tables(), "a", config, progress=False)
    assert ran_baselines([other], model.index) == {}


@pytest.mark.parametrize("peak,listed,chosen,extra", [
    (3000.0, (30, 100, 300, 1000), 3000.0, [3000.0, 10000.0]),   # past the top, then falls
    (10.0, (30, 100, 300, 1000), 10.0, [10.0, 3.0]),             # past the bottom
    (200.0, (30, 100, 300, 1000), 300.0, []),                    # inside: the list alone
    (1e9, (30, 100, 300, 1000), 1e5, [3000.0, 1e4, 3e4, 1e5]),   # at most MAX_BEYOND past it
    (0.5, (0.1, 1, 10, 100), 1.0, []),                           # inside again
])
def test_ridge_weights_are_searched_past_the_list_while_validation_rises(peak, listed, chosen,
                                                                          extra):
    from graphrec.strategies.baselines import MAX_BEYOND, search_weights

    order, kept = [], []

    def fit(weight):  # a single peak at `peak` on a log scale
        order.append(weight)
        return -abs(np.log10(weight) - np.log10(peak))

    best, tried = search_weights(listed, fit, kept.append)
    assert best == chosen and max(tried, key=tried.get) == chosen
    assert order == sorted(float(w) for w in listed) + extra
    assert len(extra) <= MAX_BEYOND and kept[-1] == chosen
    assert all(tried[a] < tried[b] for a, b in zip(kept, kept[1:], strict=False))


def test_ridge_weights_tie_to_the_larger_and_a_flat_search_stops_at_once():
    from graphrec.strategies.baselines import search_weights

    order = []
    best, tried = search_weights([100, 30], lambda w: order.append(w) or 0.5)
    assert best == 100.0 and order == [30.0, 100.0, 300.0]  # one step past, no rise: stop
    assert tried[300.0] == tried[100.0]  # a tie past the list does not move the choice
    best, tried = search_weights([1], lambda w: {0.1: 0.8, 0.3: 0.9, 1.0: 0.5, 3.0: 0.4}[w])
    assert best == 0.3 and set(tried) == {0.1, 0.3, 1.0, 3.0}


def test_a_comparison_fits_each_baseline_once_for_its_strategy_and_its_hybrid(monkeypatch):
    from graphrec.evaluation import baselines as scorers
    from graphrec.strategies import baselines as strategies
    from graphrec.strategies import compare

    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=16, seed=0)
    options = {"ease": {"l2": [10, 100]}, "hybrid": {"l2": [10, 100]}}
    built = []
    real_build = scorers.build_baseline
    monkeypatch.setattr(strategies, "build_baseline",
                        lambda name, *a, **k: built.append((name, k.get("l2"))) or real_build(
                            name, *a, **k))
    ease, item_knn, hybrid = compare(tables, "cosmetics", ("ease", "item-knn", "hybrid"), config,
                                     progress=False, options=options)
    fits = [b for b in built if b[0] == "ease"]
    assert len(fits) == len(set(fits)) == len(ease.decision["valid_ndcg_by_l2"])  # once each
    assert hybrid.decision["baselines_fitted_by"] == {"ease": "ease", "item-knn": "item-knn"}
    assert hybrid.decision["l2"] == ease.decision["l2"]
    assert hybrid.decision["valid_ndcg_by_l2"] == ease.decision["valid_ndcg_by_l2"]
    alone = run_strategy("hybrid", tables, "cosmetics", config, progress=False, options=options)
    assert "baselines_fitted_by" not in alone.decision
    assert alone.test == hybrid.test and alone.valid_score == hybrid.valid_score
