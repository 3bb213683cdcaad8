"""The notebooks run top to bottom (the Cypher one against the real Neo4j of the test run)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def execute(name: str, cwd: Path) -> nbformat.NotebookNode:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> str:
    return "\n".join(str(o.get("data", {}).get("text/plain", o.get("text", "")))
                     for cell in notebook.cells if cell.cell_type == "code"
                     for o in cell.outputs)


@pytest.mark.heavy
@pytest.mark.neo4j
def test_explore_the_graph_with_cypher(neo4j_store, tmp_path, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_store.config.uri)
    if neo4j_store.config.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_store.config.password)
    text = outputs(execute("01_explore_the_graph_with_cypher.ipynb", tmp_path))
    assert "cosmetics" in text and "similar_items" in text
    assert neo4j_store.run_read("MATCH (i:Item) WHERE i.embedding IS NOT NULL "
                                "RETURN count(i) AS n")[0]["n"] > 0


@pytest.mark.parametrize(("name", "expected"), [
    ("02_train_transfer_compare.ipynb", ("sampled (99 negatives) NDCG@10",
                                         "strongest simple baseline")),
    ("03_cold_start_through_the_api.ipynb", "cold_users"),
])
@pytest.mark.heavy
def test_notebook_runs(name, expected, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path))
    text = outputs(execute(name, tmp_path))
    expected = (expected,) if isinstance(expected, str) else expected
    assert all(part in text for part in expected) and "Error" not in text
