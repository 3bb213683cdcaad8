"""The strategy template test: every learned strategy trains, saves, reloads and reproduces."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.api import Recommender
from graphrec.cli.main import app
from graphrec.config import RunConfig
from graphrec.splits import k_shot
from graphrec.strategy_base import train_scenarios
from graphrec.train import TrainConfig
from graphrec.transfer import EXTENDED, LEARNED, run_strategy
from kg.errors import ConfigError
from loaders import SyntheticConfig, generate_synthetic

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
                    f'strategy = "{strategy}"\nepochs = 4\ndim = 16\n{extra}')
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
    again = run_strategy(strategy, tables, "cosmetics", TrainConfig(epochs=4, dim=16),
                         progress=False, options=FAST)
    assert again.test["all"]["ndcg@20"] == pytest.approx(test["all"]["ndcg@20"], abs=1e-9)
    if strategy in ("reptile", "maml", "shot"):
        assert 0 < again.adapt_seconds < again.seconds


def test_source_free_adaptation_keeps_the_source_hypothesis_frozen():
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    result = run_strategy("shot", tables, "cosmetics", TrainConfig(epochs=3, dim=16),
                          progress=False)
    assert result.graph_scenarios == ["cosmetics"]  # no source edge in the adapted graph
    assert result.known_scenarios == ["clothing", "shoes"]
    source = train_scenarios(tables, "cosmetics", ["clothing", "shoes"], ["clothing", "shoes"],
                             TrainConfig(epochs=3, dim=16), progress=False)
    state = result.model.state_dict()
    target_items = torch.as_tensor(result.index.scenario_items("cosmetics"))
    source_items = torch.as_tensor(result.index.scenario_items("clothing"))
    # (two runs of the same training agree to ~1e-7: sparse sums are not bit-reproducible)
    for name, value in source.fit.state.items():
        if name.startswith("embedding.user"):
            assert (value - state[name]).abs().max() > 1e-2  # adapted
        elif name.startswith("embedding.item"):  # the target's own items adapt, no other
            assert (value[target_items] - state[name][target_items]).abs().max() > 1e-2
            assert torch.allclose(value[source_items], state[name][source_items], atol=1e-5)
        else:
            assert torch.allclose(value, state[name], atol=1e-5), name  # the frozen hypothesis


def test_meta_learning_adapts_from_a_few_shots():
    tables = k_shot(generate_synthetic(SyntheticConfig(seed=0)).tables, "cosmetics", 20,
                    per="scenario")
    config = TrainConfig(epochs=20, seed=0)
    alone = run_strategy("target-only", tables, "cosmetics", config, progress=False)
    reptile = run_strategy("reptile", tables, "cosmetics", config, progress=False)
    assert reptile.decision["zero_shot_valid"] > 0
    assert reptile.test["all"]["ndcg@20"] > 1.5 * alone.test["all"]["ndcg@20"]


def test_strategy_settings_are_checked():
    raw = {"data": {"loader": "synthetic"}, "train": {"target": "cosmetics"},
           "strategy": {"reptile": {"iterations": 5}}}
    assert RunConfig.from_dict(raw).options == {"reptile": {"iterations": 5}}
    with pytest.raises(ConfigError, match=r"unknown \[strategy.\*\] section\(s\) \['joint'\]"):
        RunConfig.from_dict({**raw, "strategy": {"joint": {}}})
    tables = generate_synthetic(SyntheticConfig(n_users=60)).tables
    with pytest.raises(ConfigError, match=r"unknown meta-learning option\(s\) \['iters'\]"):
        run_strategy("reptile", tables, "cosmetics", TrainConfig(epochs=1),
                     progress=False, options={"reptile": {"iters": 3}})
    assert set(EXTENDED) == {"guarded", "reptile", "maml", "shot"}
