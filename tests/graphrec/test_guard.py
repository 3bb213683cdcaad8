"""Negative-transfer guard: the planted adversarial source is found and dropped."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.errors import ConfigError
from graphrec.serving import Recommender
from graphrec.strategies import run_strategy, strategy_decision
from graphrec.strategies.base import StrategyResult
from graphrec.strategies.guarded import source_verdict
from graphrec.training import TrainConfig
from loaders import SyntheticConfig, generate_synthetic


def test_guard_decides_from_its_own_evidence_and_serves_the_best_candidate():
    # the quality bar (the adversary is dropped, guarded beats joint) is in benchmarks/quality.py
    tables = generate_synthetic(SyntheticConfig(seed=0, n_users=150, adversarial=True)).tables
    config = TrainConfig(epochs=3, dim=16, seed=0)
    alone = run_strategy("target-only", tables, "cosmetics", config, progress=False)
    guarded = run_strategy("guarded", tables, "cosmetics", config, progress=False)
    decision = guarded.decision
    assert decision["baseline"] == alone.valid_score  # same seed, same target-only model
    assert set(decision["sources"]) == {"clothing", "outlet", "shoes"}
    for source, ev in decision["sources"].items():
        assert ev["contribution"] == pytest.approx(decision["all_sources"] - ev["valid_without"])
        assert ev["verdict"] == source_verdict(ev["contribution"], decision["tolerance"]), source
    assert decision["dropped"] == [s for s, ev in decision["sources"].items()
                                   if ev["verdict"] == "drop"]
    best = max(decision["candidates"], key=decision["candidates"].get)
    assert decision["chosen"] == best
    assert guarded.valid_score == decision["candidates"][best]
    served = {"target-only": ["cosmetics"], "all-sources": None,
              "guarded": sorted(["cosmetics", *decision["kept"]])}[best]
    assert guarded.graph_scenarios == served


def test_guard_keeps_every_helpful_source_without_an_adversary():
    tables = generate_synthetic(SyntheticConfig(seed=0, n_users=300)).tables
    result = run_strategy("guarded", tables, "cosmetics", TrainConfig(epochs=8, seed=0, dim=32),
                          progress=False)
    assert result.decision["dropped"] == []
    assert result.decision["chosen"] != "target-only"


def test_verdicts_and_strategy_decision_follow_the_tolerance():
    assert source_verdict(-0.02, 0.01) == "drop"
    assert source_verdict(0.005, 0.01) == "down-weight"
    assert source_verdict(0.02, 0.01) == "keep"
    model = object()
    results = [StrategyResult("target-only", {}, 0.10, model=model),
               StrategyResult("joint", {}, 0.08, model=model),
               StrategyResult("finetune", {}, 0.102, model=model),
               StrategyResult("popularity", {}, 0.5)]  # a baseline: not a candidate
    decision = strategy_decision(results, "t", tolerance=0.005)
    assert {n: r["verdict"] for n, r in decision["strategies"].items()} == {
        "target-only": "neutral", "joint": "hurts", "finetune": "neutral"}
    assert decision["selected"] == "finetune"
    assert abs(decision["strategies"]["joint"]["gain"] + 0.02) < 1e-12


def test_transfer_writes_the_decision_and_evaluate_shows_it(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 200, adversarial = '
                      'true }\n[train]\ntarget = "cosmetics"\nseed = 0\nstrategies = ["joint"]\n'
                      'epochs = 3\ndim = 16\n')
    runner = CliRunner()
    result = runner.invoke(app, ["transfer", "-c", str(config), "--runs", str(tmp_path),
                                 "--quiet", "--baseline", "none"])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    decision = json.loads((tmp_path / run_dir.rsplit("/", 1)[-1] / "decision.json").read_text())
    assert set(decision["strategies"]) == {"target-only", "joint"}  # target-only added
    assert "versus" not in decision  # --baseline none
    assert decision["selected"] in decision["strategies"]
    shown = runner.invoke(app, ["evaluate", run_dir, "--json", "--bootstrap", "0"])
    assert json.loads(shown.output)["decision"] == decision
    shown = runner.invoke(app, ["evaluate", run_dir, "--bootstrap", "0"])
    assert "negative-transfer check" in shown.output and "strategy joint" in shown.output


def test_transfer_refuses_an_unknown_baseline_before_training(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\n[train]\ntarget = "cosmetics"\n')
    runs = tmp_path / "runs"
    result = CliRunner().invoke(app, ["transfer", "-c", str(config), "--runs", str(runs),
                                      "--baseline", "knn"])
    assert result.exit_code == 2 and "unknown baseline 'knn'" in result.output
    assert not runs.exists() or not any(runs.iterdir())  # no run directory left


def test_transfer_of_a_file_naming_no_strategy_compares_joint_and_path_gnn(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 100 }\n[train]\n'
                      'target = "cosmetics"\nseed = 0\nepochs = 2\ndim = 8\n')
    result = CliRunner().invoke(app, ["transfer", "-c", str(config), "--runs", str(tmp_path),
                                      "--quiet", "-o", "strategy.path-gnn.max_queries=64"])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    decision = json.loads((run_dir / "decision.json").read_text())
    assert set(decision["strategies"]) == {"target-only", "joint", "path-gnn"}
    scores = {name: row["valid"] for name, row in decision["strategies"].items()}
    assert decision["selected"] == max(scores, key=scores.get)
    assert json.loads((run_dir / "config.json").read_text())["strategy"] == decision["selected"]
    # the served model against the strongest simple baseline, on the test split's users
    versus, measured = decision["versus"], json.loads((run_dir / "metrics.json").read_text())
    tried = versus["chosen_from"]
    assert versus["baseline"] == "strongest" and set(versus["subsets"]) == set(measured["test"])
    for subset, part in versus["subsets"].items():
        assert part["baseline_name"] == max(tried, key=lambda n: tried[n].get(
            subset, tried[n]["all"]))
        assert part["model"]["ndcg@20"] == pytest.approx(measured["test"][subset]["ndcg@20"])
        assert part["paired"]["ndcg@20"]["difference"] == pytest.approx(
            part["model"]["ndcg@20"] - part["baseline"]["ndcg@20"])
    assert "against the strongest simple baseline" in " ".join(result.output.split())
    if decision["selected"] == "path-gnn":  # no vectors: the best run with them is kept too
        with_vectors = {n: s for n, s in scores.items() if n != "path-gnn"}
        assert decision["embeddings_strategy"] == max(with_vectors, key=with_vectors.get)
        vectors_dir = Path(decision["embeddings_run"])
        kept = json.loads((vectors_dir / "decision.json").read_text())
        assert kept["served_run"] == str(run_dir) and kept["selected"] == "path-gnn"
        assert json.loads((vectors_dir / "config.json").read_text())["strategy"] == \
            decision["embeddings_strategy"]
        items, vectors = Recommender.load(vectors_dir).item_embeddings()
        assert vectors.shape == (len(items), 8)
        with pytest.raises(ConfigError, match=f"saved the embeddings of .* in {vectors_dir}"):
            Recommender.load(run_dir).item_embeddings()
        assert str(vectors_dir) in result.output.replace("\n", "")
    else:
        assert "embeddings_run" not in decision
