import pytest

from graphrec.config import RunConfig
from kg.errors import ConfigError


def test_example_config_parses():
    cfg = RunConfig.from_file("examples/synthetic_transfer.toml")
    assert cfg.target == "cosmetics" and cfg.strategies[-1] == "finetune"
    assert cfg.train.epochs == 30 and cfg.model == "lightgcn"


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
