"""Every benchmark script imports: a rename elsewhere in graphrec cannot leave one broken
until someone runs it (the benchmarks themselves take minutes to hours and are not tests)."""

import importlib
from pathlib import Path

import pytest

SCRIPTS = sorted(p.stem for p in (Path(__file__).parents[1] / "benchmarks").glob("*.py")
                 if p.stem != "__init__")


def test_the_benchmarks_are_found():
    assert {"cdrib", "xmarket", "ml1m", "levers", "transferability", "quality"} <= set(SCRIPTS)


@pytest.mark.parametrize("name", SCRIPTS)
def test_benchmark_imports(name):
    module = importlib.import_module(f"benchmarks.{name}")
    assert module.__doc__, f"benchmarks/{name}.py has no docstring saying what it measures"
