"""Write-back of embeddings to the real Neo4j and the vector-index cookbook query."""

import json

import pytest
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.serving import Recommender
from kg.cookbook import get_query

pytestmark = pytest.mark.neo4j
runner = CliRunner()


def test_export_and_similar_items_query(neo4j_store, tmp_path, monkeypatch):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 150 }\n'
                      '[train]\ntarget = "cosmetics"\nstrategy = "joint"\nepochs = 4\nseed = 0\n'
                      'dim = 16\n')
    result = runner.invoke(app, ["train", "-c", str(config), "--runs", str(tmp_path), "--quiet"])
    assert result.exit_code == 0, result.output
    run_dir = result.output.strip().splitlines()[-1]
    monkeypatch.setenv("NEO4J_URI", neo4j_store.config.uri)
    result = runner.invoke(app, ["export", run_dir, "--to", "neo4j", "--quiet"])
    assert result.exit_code == 0, result.output
    # exporting again replaces the properties and keeps one index (idempotent)
    assert runner.invoke(app, ["export", run_dir, "--quiet"]).exit_code == 0
    indexes = neo4j_store.run_read("SHOW VECTOR INDEXES YIELD name RETURN name ORDER BY name")
    assert [r["name"] for r in indexes] == ["graphrec_item_embedding", "graphrec_user_embedding"]

    q = get_query("similar_items")
    rows = neo4j_store.run_read(q.text, **q.bind({"item": "clothing:i3",
                                                  "scenario": "cosmetics", "k": "5"}))
    expected = Recommender.load(run_dir).similar_items("clothing:i3", "cosmetics", k=5)
    assert len(rows) == 5 and all(r["item"].startswith("cosmetics:") for r in rows)
    assert rows[0]["item"] == expected["similar_item_id"].iloc[0]
    assert len({r["item"] for r in rows} & set(expected["similar_item_id"])) >= 4
    # one scale: both report the cosine
    assert rows[0]["score"] == pytest.approx(expected["score"].iloc[0], abs=2e-3)
    result = runner.invoke(app, ["kg", "query", "similar_items", "-p", "item=clothing:i3",
                                 "-p", "scenario=cosmetics", "-p", "k=3", "--json"])
    assert [r["item"] for r in json.loads(result.output)] == [r["item"] for r in rows[:3]]
