"""The worked examples of docs/architecture.md run as written: a model, a strategy and a
loader, each registered the way the page says and used through the public entry points."""

import re
from pathlib import Path

import pytest
import torch

from graphrec.config import RunConfig
from graphrec.models import MODELS
from graphrec.strategies import REGISTRY, run_strategy
from graphrec.training import TrainConfig
from kg.errors import ConfigError, DataError
from loaders import LOADERS, load_dataset
from tests.helpers import tiny_tables

DOC = Path(__file__).parents[1] / "docs" / "architecture.md"


def example(name: str) -> dict:
    """Execute the python block after ``<!-- example: name -->``; return its namespace."""
    match = re.search(rf"<!-- example: {name} -->\s*```python\n(.*?)```", DOC.read_text(),
                      re.DOTALL)
    assert match, f"docs/architecture.md has no example {name!r}"
    namespace: dict = {}
    exec(compile(match.group(1), f"{DOC}:{name}", "exec"), namespace)  # the doc's own code
    return namespace


def test_the_model_example_trains_through_a_strategy(monkeypatch):
    monkeypatch.setitem(MODELS, "twohop", example("model")["TwoHop"])
    result = run_strategy("joint", tiny_tables(), "a",
                          TrainConfig(model="twohop", epochs=2, dim=4, seed=0), progress=False)
    assert type(result.model).__name__ == "TwoHop"
    assert torch.isfinite(result.embeddings["item"]).all()


def test_the_strategy_example_is_found_by_name_and_its_settings_checked(monkeypatch):
    cls = example("strategy")["SourcesOnly"]
    monkeypatch.setitem(REGISTRY, cls.name, cls)
    raw = {"data": {"loader": "synthetic"},
           "train": {"target": "a", "strategy": "sources-only"},
           "strategy": {"sources-only": {"lr_factor": 0.5}}}
    cfg = RunConfig.from_dict(raw)
    assert cfg.options["sources-only"].lr_factor == 0.5
    with pytest.raises(ConfigError, match=r"lr_factr"):
        RunConfig.from_dict({**raw, "strategy": {"sources-only": {"lr_factr": 0.5}}})
    result = run_strategy("sources-only", tiny_tables(), "a", TrainConfig(epochs=2, dim=4, seed=0),
                          progress=False, options=cfg.options)
    assert result.name == "sources-only" and result.model is not None


def test_the_loader_example_loads_and_refuses_bad_lines(monkeypatch, tmp_path):
    monkeypatch.setitem(LOADERS, "pairs", example("loader")["load_pairs"])
    good = tmp_path / "pairs.csv"
    good.write_text("u1,i1\nu1,i2\nu2,i1\n")
    ds = load_dataset("pairs", str(good), {"scenario": "books"})
    assert ds.tables.counts()["interactions"] == 3
    assert set(ds.tables.items["scenario"]) == {"books"}
    with pytest.raises(ConfigError, match=r"loader 'pairs'; its options are \['scenario'\]"):
        load_dataset("pairs", str(good), {"scenaro": "books"})
    bad = tmp_path / "bad.csv"
    bad.write_text("u1,i1\nu2\n")
    with pytest.raises(DataError, match=r"bad.csv:2: expected `user,item`"):
        load_dataset("pairs", str(bad))
