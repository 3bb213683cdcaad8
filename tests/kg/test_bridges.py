"""Transferability report (kg.bridges and ``graphrec kg bridges``)."""

import json

import pytest
from typer.testing import CliRunner

from graphrec.cli.main import app
from kg.bridges import bridges_report, scenario_attribute_graph
from kg.errors import DataError
from loaders import SyntheticConfig, generate_synthetic
from tests.helpers import tiny_tables


def test_report_on_a_hand_made_graph():
    by_source = {r.source: r for r in bridges_report(tiny_tables(), "b")}
    a, c = by_source["a"], by_source["c"]
    # b's observed users: u1 only (u2's b interaction is a test row); u1 is also in a
    assert (a.user_bridge, a.bridging_users, a.user_agreement) == (1.0, 1, None)
    # a:1 -SAME_PRODUCT- b:1 links one of b's two items; too few pairs for a correlation
    assert (a.item_bridge, a.linked_items, a.item_agreement) == (0.5, 1, None)
    assert a.shared_attributes == 2 and a.attribute_jaccard == pytest.approx(2 / 3)
    assert a.score == pytest.approx(1.5)
    # components: {u1, u2, u5, a:1, a:2, b:1} (a:1-a:2 also viewed), {a:3}, {b:2}
    assert (a.components, a.target_items_connected) == (3, 0.5)
    assert (c.score, c.user_bridge, c.shared_attributes) == (0.0, 0.0, 0)
    assert [a.rank, c.rank] == [1, 2]
    graph = scenario_attribute_graph(tiny_tables())
    assert graph[("scenario", "a")][("attribute", "category=shoes")]["weight"] == 2


def test_report_ranks_the_helpful_sources_above_the_planted_adversary():
    tables = generate_synthetic(SyntheticConfig(seed=0, adversarial=True)).tables
    reports = bridges_report(tables, "cosmetics")
    order = [r.source for r in reports]
    assert order.index("outlet") == 2
    outlet = reports[2]
    # structurally the adversary is the best-connected source (mirrored catalogue, links) ...
    assert outlet.item_bridge == 1.0 and outlet.linked_items == 250
    # ... but its users' tastes run against the target's
    assert outlet.user_agreement < 0 < min(r.user_agreement for r in reports[:2])
    assert outlet.score < 0


def test_unknown_scenarios_are_named():
    with pytest.raises(DataError, match="unknown target scenario 'zz'"):
        bridges_report(tiny_tables(), "zz")
    with pytest.raises(DataError, match=r"unknown source scenario\(s\) \['q'\]"):
        bridges_report(tiny_tables(), "a", ["b", "q"])


def test_kg_bridges_command(tmp_path):
    runner = CliRunner()
    store = str(tmp_path / "store")
    result = runner.invoke(app, ["kg", "load", "synthetic", "--dir", store, "--quiet",
                                 "-o", "adversarial=true"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["kg", "bridges", "--target", "cosmetics", "--dir", store,
                                 "--json"])
    assert result.exit_code == 0, result.output
    sources = json.loads(result.output)["sources"]
    assert [s["source"] for s in sources][-1] == "outlet"
    result = runner.invoke(app, ["kg", "bridges", "-t", "cosmetics", "--dir", store])
    assert "likely to hurt (negative score): outlet" in " ".join(result.output.split())
    result = runner.invoke(app, ["kg", "bridges", "-t", "nope", "--dir", store])
    assert result.exit_code == 2 and "unknown target scenario 'nope'" in result.output
