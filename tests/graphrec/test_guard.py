"""Negative-transfer guard: the planted adversarial source is found and dropped."""

import json

from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.strategies import run_strategy, strategy_decision
from graphrec.strategies.base import StrategyResult
from graphrec.strategies.guarded import source_verdict
from graphrec.training import TrainConfig
from loaders import SyntheticConfig, generate_synthetic

#: how far below target-only (test NDCG@20) the guarded model may fall
TOLERANCE = 0.01


def test_guard_drops_the_adversarial_source_and_is_not_worse_than_target_only():
    tables = generate_synthetic(SyntheticConfig(seed=0, adversarial=True)).tables
    config = TrainConfig(epochs=15, seed=0)
    alone = run_strategy("target-only", tables, "cosmetics", config, progress=False)
    joint = run_strategy("joint", tables, "cosmetics", config, progress=False)
    guarded = run_strategy("guarded", tables, "cosmetics", config, progress=False)
    decision = guarded.decision
    assert decision["dropped"] == ["outlet"]
    assert decision["sources"]["outlet"]["contribution"] < -decision["tolerance"]
    assert {s: decision["sources"][s]["verdict"] for s in ("clothing", "shoes")} == {
        "clothing": "keep", "shoes": "keep"}
    assert decision["baseline"] == alone.valid_score  # same seed, same target-only model
    ndcg = {r.name: r.test["all"]["ndcg@20"] for r in (alone, joint, guarded)}
    assert ndcg["guarded"] >= ndcg["target-only"] - TOLERANCE
    assert ndcg["guarded"] > ndcg["joint"]  # dropping the adversary beats keeping it
    assert guarded.graph_scenarios == ["clothing", "cosmetics", "shoes"]


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
                      'true }\n[train]\ntarget = "cosmetics"\nstrategies = ["joint"]\n'
                      'epochs = 3\ndim = 16\n')
    runner = CliRunner()
    result = runner.invoke(app, ["transfer", "-c", str(config), "--runs", str(tmp_path),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    decision = json.loads((tmp_path / run_dir.rsplit("/", 1)[-1] / "decision.json").read_text())
    assert set(decision["strategies"]) == {"target-only", "joint"}  # target-only added
    assert decision["selected"] in decision["strategies"]
    shown = runner.invoke(app, ["evaluate", run_dir, "--json", "--bootstrap", "0"])
    assert json.loads(shown.output)["decision"] == decision
    shown = runner.invoke(app, ["evaluate", run_dir, "--bootstrap", "0"])
    assert "negative-transfer check" in shown.output and "strategy joint" in shown.output
