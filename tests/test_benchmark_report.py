"""The options every model benchmark shares (benchmarks/report.py)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from types import SimpleNamespace

import numpy as np
import pytest

from benchmarks.report import (
    add_paired,
    add_run_arguments,
    command_line,
    cpu_model,
    selected_row,
    strategy_options,
    train_config,
    valid_curve,
)
from graphrec.errors import ConfigError
from graphrec.evaluation import without_values


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_run_arguments(parser, "xmarket_<target>_<tag>")
    return parser.parse_args(list(argv))


def test_the_shared_options_default_to_graphrecs_own_settings():
    args = parse()
    assert (args.epochs, args.seed, args.tag) == (None, 0, "")
    assert strategy_options(args.options) == {}
    config = train_config(args.train, args.epochs, seed=args.seed)
    assert config.epochs == 100 and config.seed == 0


def test_the_shared_options_reach_the_training_settings():
    args = parse("--epochs", "7", "--seed", "3", "--train", '{"lr_decay": 0.5}',
                 "--options", '{"path-gnn": {"dim": 8}}', "--tag", "x")
    config = train_config(args.train, args.epochs, seed=args.seed)
    assert (config.epochs, config.seed, config.lr_decay) == (7, 3, 0.5)
    assert strategy_options(args.options) == {"path-gnn": {"dim": 8}} and args.tag == "x"


def test_options_that_are_not_an_object_and_unknown_settings_are_refused():
    with pytest.raises(SystemExit, match="--options must be a JSON object"):
        strategy_options('["path-gnn"]')
    with pytest.raises(ConfigError, match="no_such_key"):
        train_config('{"no_such_key": 1}', None)


def test_the_recorded_command_can_be_pasted_into_a_shell(monkeypatch):
    argv = ["benchmarks/cdrib.py", "../shared/data/cdrib_amazon", "--options",
            '{"path-gnn": {"dropout": 0.2}}', "--sources", "", "--tag", "x"]
    monkeypatch.setattr(sys, "argv", argv)
    command = command_line("benchmarks.cdrib")
    assert command.startswith("python -m benchmarks.cdrib ../shared/data/cdrib_amazon ")
    assert shlex.split(command)[3:] == argv[1:]  # every argument back, the JSON and "" too


def evaluated(users: list[str], values: list[float]) -> dict:
    """One subset's result as evaluate(keep_values=True) gives it, for an MRR per user."""
    return {"mrr": float(np.mean(values)),
            "values": {"users": np.asarray(users, dtype=object), "mrr": np.asarray(values)}}


def test_every_method_is_paired_with_the_baseline_of_its_own_group():
    users = ["a", "b", "c", "d"]
    rows = [{"domain": d, "method": m} for d in ("game", "video")
            for m in ("item-knn", "path-gnn")]
    kept = [{"mrr": (evaluated(users, v), "mrr")}
            for v in ([0.1, 0.2, 0.3, 0.4], [0.2, 0.4, 0.6, 0.8],   # game: twice the baseline
                      [0.4, 0.4, 0.4, 0.4], [0.2, 0.2, 0.2, 0.2])]  # video: half
    lines, columns = add_paired(rows, kept, "item-knn", "domain")
    assert columns == ["mrr_vs_item-knn"] and len(lines) == 2
    assert "vs_item-knn" not in rows[0] and "vs_item-knn" not in rows[2]
    (game,), (video,) = rows[1]["vs_item-knn"], rows[3]["vs_item-knn"]
    assert game["measure"] == "mrr" and game["metric"] == "mrr"
    assert game["ratio"] == pytest.approx(2.0) and game["share_better"] == 1.0
    assert game["ratio_ci95"] == pytest.approx([2.0, 2.0])  # a constant ratio per user
    assert video["ratio"] == pytest.approx(0.5) and video["share_better"] == 0.0
    assert rows[1]["mrr_vs_item-knn"] == "2.00x [2.00, 2.00], better in 100%"
    assert lines[1].startswith("| video | path-gnn | 0.50x")
    json.dumps(rows)  # JSON-ready
    # without the baseline among the methods run: nothing is compared
    assert add_paired(rows[1:2], kept[1:2], "item-knn", "domain") == ([], [])


def test_a_selected_row_keeps_no_per_user_values():
    result = SimpleNamespace(valid_score=0.3, best_epoch=2, history=[{}] * 3,
                             stopped="converged", seconds=1.0, decision=None)
    test = {"recall@20": 0.5, "ndcg@20": 0.4, **evaluated(["a"], [0.5])}
    row = selected_row("path-gnn", result, train_config("{}", None), test)
    assert "values" not in row["test"] and "values" in test
    assert without_values(test) == {"recall@20": 0.5, "ndcg@20": 0.4, "mrr": 0.5}


def test_the_validation_curve_lists_each_evaluated_epoch_in_order():
    history = [{"epoch": 1, "loss": 0.9, "valid": 0.1234567}, {"epoch": 2, "loss": 0.8},
               {"epoch": 3, "loss": 0.7, "valid": 0.2}]
    assert valid_curve(SimpleNamespace(history=history)) == [[1, 0.123457], [3, 0.2]]
    assert valid_curve(SimpleNamespace(history=[])) == []
    result = SimpleNamespace(valid_score=0.2, best_epoch=3, history=history,
                             stopped="converged", seconds=1.0, decision=None)
    row = selected_row("path-gnn", result, train_config("{}", None),
                       {"recall@20": 0.5, "ndcg@20": 0.4})
    assert row["valid_curve"] == [[1, 0.123457], [3, 0.2]]


def test_the_cpu_model_is_read_from_the_first_processor_and_left_out_when_unknown(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\ncpu family\t: 6\nmodel\t\t: 207\n"
                    "model name\t: Some CPU\n\nprocessor\t: 1\nmodel name\t: Other\n")
    assert cpu_model(str(info)) == " (Some CPU, family 6 model 207)"
    info.write_text("processor\t: 0\n")
    assert cpu_model(str(info)) == ""
    assert cpu_model(str(tmp_path / "missing")) == ""
