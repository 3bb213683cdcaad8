import json
from pathlib import Path

import pytest

from graphrec.config import RunConfig
from kg.errors import ConfigError


def test_example_config_parses():
    cfg = RunConfig.from_file("examples/synthetic_transfer.toml")
    assert cfg.target == "cosmetics" and cfg.strategies[-1] == "finetune"
    assert cfg.train.epochs == 30 and cfg.model == "lightgcn"
    cdrib = RunConfig.from_file("examples/cdrib_transfer.toml", command="transfer")
    assert cdrib.target == "game" and cdrib.strategies == ("joint", "path-gnn")
    assert cdrib.data == {"loader": "cdrib", "path": "../shared/data/cdrib_amazon"}


@pytest.mark.parametrize("raw, message", [
    ({"data": {"loader": "synthetic"}, "train": {"target": "x", "epoch": 3}},
     r"unknown key\(s\) \['epoch'\] in \[train\]"),
    ({"data": {"loader": "synthetic", "colour": 1}, "train": {"target": "x"}},
     r"unknown key\(s\) \['colour'\] in \[data\]"),
    ({"data": {}, "train": {"target": "x"}}, "exactly one of 'loader' or 'store'"),
    ({"data": {"loader": "synthetic"}, "train": {}}, "needs target"),
    ({"data": {"loader": "synthetic"}, "train": {"target": "x"}, "model": {}},
     r"unknown section\(s\) \['model'\]"),
])
def test_unknown_or_missing_keys_are_errors(raw, message):
    with pytest.raises(ConfigError, match=message):
        RunConfig.from_dict(raw)


def test_overrides_follow_the_file_rules_and_config_show_round_trips(tmp_path):
    from typer.testing import CliRunner

    from graphrec.cli.main import app
    from graphrec.config import apply_overrides

    raw = {"train": {"target": "cosmetics", "dim": 64}}
    out = apply_overrides(raw, ["dim=32", "train.lr=0.5", "strategy.reptile.iterations=7",
                                "data.loader=synthetic", "train.loss=softmax"])
    assert out["train"] == {"target": "cosmetics", "dim": 32, "lr": 0.5, "loss": "softmax"}
    assert out["strategy"] == {"reptile": {"iterations": 7}} and raw["train"]["dim"] == 64
    with pytest.raises(ConfigError, match="must look like section.key=value"):
        apply_overrides(raw, ["dim"])
    runner = CliRunner()
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\n[train]\ntarget = "cosmetics"\n')
    shown = runner.invoke(app, ["config", "show", "-c", str(config), "-o", "dim=16",
                                "--json"])
    assert shown.exit_code == 0, shown.output
    effective = json.loads(shown.output)
    assert effective["train"]["dim"] == 16 and effective["train"]["patience"] == 5
    as_toml = runner.invoke(app, ["config", "show", "-c", str(config), "-o", "dim=16"]).output
    again = tmp_path / "again.toml"
    again.write_text(as_toml)
    assert runner.invoke(app, ["config", "show", "-c", str(again)]).output == as_toml
    defaults = runner.invoke(app, ["config", "show"]).output
    assert "[train]" in defaults and "[strategy.hybrid]" in defaults and "what" not in defaults
    bad = runner.invoke(app, ["train", "-c", str(config), "-o", "colour=red", "--quiet"])
    assert bad.exit_code == 2 and "unknown key(s) ['colour'] in [train]" in bad.output
    baseline = runner.invoke(app, ["train", "-c", str(config), "-o", "strategy=ease",
                                   "--quiet", "--runs", str(tmp_path / "none")])
    assert baseline.exit_code == 2 and "'ease' is a training-free baseline" in baseline.output
    assert not (tmp_path / "none").exists()  # refused before a run directory is made
    trained = runner.invoke(app, ["train", "-c", str(config), "--quiet", "--seed", "3",
                                  "--epochs", "1", "-o", "dim=8", "-o", "data.options.n_users=80",
                                  "--runs", str(tmp_path / "runs")])
    assert trained.exit_code == 0, trained.output
    saved = json.loads((Path(trained.output.strip().splitlines()[-1]) / "config.json")
                       .read_text())
    assert (saved["seed"], saved["train"]["epochs"], saved["train"]["dim"]) == (3, 1, 8)
    assert saved["train"]["device"] == "cpu"


def test_config_show_says_what_each_left_out_setting_means(tmp_path):
    from typer.testing import CliRunner

    from graphrec.cli.config_cmd import to_toml
    from graphrec.cli.main import app

    runner = CliRunner()
    defaults = runner.invoke(app, ["config", "show"]).output
    left_out = [line for line in defaults.splitlines() if line.startswith("# ")]
    assert "# clip_norm = (never)" in left_out and "# time_budget = (no limit)" in left_out
    assert "# seed = (drawn and logged)" in left_out
    # every default left out (None) says what that means: a new one must say it too
    assert left_out and not [line for line in left_out if line.endswith("(left out)")]
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\n[train]\ntarget = "cosmetics"\n'
                      '[strategy.path-gnn]\ndim = 8\n')
    shown = runner.invoke(app, ["config", "show", "-c", str(config)]).output
    assert "# cold_item_queries = (the validation split's share of cold-start items)" in shown
    # a section or field without a stated meaning is shown as left out
    assert to_toml({"a": {"b": {"x": None}}}, unset={"a.b": {"y": "never"}}) == (
        "[a.b]\n# x = (left out)\n")


def test_train_device_is_checked_before_anything_runs(tmp_path):
    import torch
    from typer.testing import CliRunner

    from graphrec.cli.main import app

    runner = CliRunner()
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\n[train]\ntarget = "cosmetics"\n')
    base = ["train", "-c", str(config), "--quiet", "--epochs", "1", "-o", "dim=8",
            "-o", "data.options.n_users=80", "--runs", str(tmp_path / "runs")]
    bad = runner.invoke(app, [*base, "--device", "tpu"])
    assert bad.exit_code == 2
    assert "unknown device 'tpu'; use 'cpu', 'cuda' or 'cuda:N'" in bad.output
    gpu = runner.invoke(app, [*base, "--device", "cuda:99"])
    assert gpu.exit_code == 2
    if torch.cuda.is_available():
        assert "GPU 99 asked for" in gpu.output
    else:
        assert "torch sees no CUDA GPU" in gpu.output and "--device cpu" in gpu.output
    assert not (tmp_path / "runs").exists()  # refused before a run directory was written


def test_a_file_naming_no_strategy_trains_joint_and_transfers_joint_and_path_gnn(tmp_path):
    from typer.testing import CliRunner

    from graphrec.cli.main import app
    from graphrec.config import TRAIN_STRATEGY, TRANSFER_STRATEGIES

    raw = {"data": {"loader": "synthetic"}, "train": {"target": "cosmetics"}}
    assert RunConfig.from_dict(raw).strategies == (TRAIN_STRATEGY,) == ("joint",)
    transfer = RunConfig.from_dict(raw, command="transfer")
    assert transfer.strategies == TRANSFER_STRATEGIES == ("joint", "path-gnn")
    named = {**raw, "train": {"target": "cosmetics", "strategy": "finetune"}}
    assert RunConfig.from_dict(named, command="transfer").strategies == ("finetune",)
    with pytest.raises(ValueError, match="command must be one of"):
        RunConfig.from_dict(raw, command="serve")
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\n[train]\ntarget = "cosmetics"\n')
    runner = CliRunner()
    shown = runner.invoke(app, ["config", "show", "-c", str(config), "--for", "transfer",
                                "--json"])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.output)["train"]["strategies"] == ["joint", "path-gnn"]
    shown = runner.invoke(app, ["config", "show", "-c", str(config), "--json"])
    assert json.loads(shown.output)["train"]["strategy"] == "joint"
    defaults = runner.invoke(app, ["config", "show", "--for", "transfer"]).output
    assert 'strategies = ["joint", "path-gnn"]' in defaults
    assert 'strategy = "joint"' in runner.invoke(app, ["config", "show"]).output
    bad = runner.invoke(app, ["config", "show", "--for", "serve"])
    assert bad.exit_code == 2 and "--for must be one of ['train', 'transfer']" in bad.output
