"""The options every model benchmark shares (benchmarks/report.py)."""

from __future__ import annotations

import argparse
import shlex
import sys

import pytest

from benchmarks.report import add_run_arguments, command_line, strategy_options, train_config
from graphrec.errors import ConfigError


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
