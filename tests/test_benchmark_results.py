"""The committed benchmark results (``benchmarks/results/*.json``), checked as a script would
check them, without reading prose: each names the command that made it and sits beside its
Markdown table, each file with accuracy metrics names its data set, protocol and seed, and
every metric value lies in [0, 1]."""

import json
import math
import re
from pathlib import Path

import pytest

RESULTS = Path(__file__).parent.parent / "benchmarks" / "results"
FILES = sorted(RESULTS.glob("*.json"))
#: keys whose values are metrics in [0, 1] (with their 95% intervals: ``ci95`` maps the same
#: keys to ``[low, high]``)
METRIC = re.compile(r"(mrr|(recall|ndcg|hr|coverage|precision)@\d+)")


def metric_values(node, where: str = "") -> list[tuple[str, object]]:
    """``(path, value)`` of every value under a metric-named key of ``node`` (a parsed JSON
    document), each entry of a list (an interval) on its own; values that are objects are
    searched further instead."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            path = f"{where}/{key}"
            if isinstance(key, str) and METRIC.fullmatch(key) and not isinstance(value, dict):
                found += [(path, v) for v in (value if isinstance(value, list) else [value])]
            else:
                found += metric_values(value, path)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += metric_values(value, f"{where}[{i}]")
    return found


def test_there_are_results_to_check():
    assert len(FILES) > 100


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_a_result_file_is_complete_and_its_metrics_lie_in_0_1(path):
    document = json.loads(path.read_text())
    for key in ("benchmark", "command", "machine", "rows"):
        assert key in document, f"{path.name}: no {key!r}"
    assert document["command"].startswith("python -m benchmarks."), path.name
    assert document["rows"], f"{path.name}: no rows"
    table = path.with_suffix(".md")
    assert table.exists(), f"{path.name}: no Markdown table beside it"
    assert document["command"] in table.read_text(), f"{table.name}: not the same command"
    values = metric_values(document)
    for where, value in values:
        assert (isinstance(value, (int, float)) and not isinstance(value, bool)
                and math.isfinite(value) and 0.0 <= value <= 1.0), (
            f"{path.name}{where}: {value!r} is not a metric value in [0, 1]")
    if values:
        missing = [k for k in ("dataset", "protocol") if k not in document]
        missing += [] if "seed" in document or "seeds" in document else ["seed"]
        assert not missing, f"{path.name}: has metrics but no {missing}"


def test_metric_values_are_found_at_any_depth_and_each_interval_end_alone():
    document = {"rows": [{"method": "m", "ndcg@20": 0.5, "seconds": 12.0,
                          "full": {"mrr": 0.2, "ci95": {"mrr": [0.1, 0.3]}},
                          "vs_item-knn": {"mrr": {"ratio": 1.3}}}]}
    assert metric_values(document) == [("/rows[0]/ndcg@20", 0.5), ("/rows[0]/full/mrr", 0.2),
                                       ("/rows[0]/full/ci95/mrr", 0.1),
                                       ("/rows[0]/full/ci95/mrr", 0.3)]
