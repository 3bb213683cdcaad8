"""The CLI end to end (typer's runner in-process; Neo4j commands against the real server)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.serving import Recommender
from graphrec.strategies import LEARNED, STRATEGIES

runner = CliRunner()


def flat(text: str) -> str:
    """Output with rich's line wrapping undone."""
    return " ".join(text.split())


@pytest.mark.heavy
def test_demo_runs_on_the_embedded_store(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path))
    result = runner.invoke(app, ["demo", "--quiet", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    assert "read back identical to what was loaded: True" in flat(result.output)
    runs = list((tmp_path / "runs").iterdir())
    assert len(runs) == 1
    summary = json.loads((runs[0] / "summary.json").read_text())
    # every strategy is compared, every learned one saved, the best on validation selected
    # and servable; the embeddings come from the best on validation of those that have them
    results = {r["strategy"]: r for r in summary["results"]}
    assert list(results) == list(STRATEGIES) and set(summary["runs"]) == set(LEARNED)
    valid = {n: results[n]["valid_ndcg"] for n in LEARNED}
    assert summary["selected"] == max(valid, key=valid.get)
    with_vectors = {n: v for n, v in valid.items() if n != "path-gnn"}  # the hybrid's is joint
    assert "path-gnn" in valid and "path-gnn" not in with_vectors
    assert summary["embeddings_from"] == max(with_vectors, key=with_vectors.get)
    # the selected model against the strongest simple baseline: the one that validates best,
    # each baseline as its own strategy scored it, on the test users the table reports
    versus = summary["versus"]
    tried = versus["chosen_from"]
    for name, scores in tried.items():
        assert scores["all"] == pytest.approx(results[name]["valid_ndcg"], abs=1e-6)
    selected = results[summary["selected"]]["test"]
    assert set(versus["subsets"]) == set(selected)
    for subset, part in versus["subsets"].items():
        name = part["baseline_name"]
        assert name == max(tried, key=lambda n: tried[n].get(subset, tried[n]["all"]))
        assert part["baseline"]["ndcg@20"] == pytest.approx(
            results[name]["test"][subset]["ndcg@20"], abs=1e-6)
        assert part["model"]["ndcg@20"] == pytest.approx(selected[subset]["ndcg@20"], abs=1e-6)
    assert versus["subsets"]["cold_items"]["baseline_name"] != "item-knn"  # blind to them
    assert "against the strongest simple baseline" in flat(result.output)
    emb = pd.read_parquet(runs[0] / "item_embeddings.parquet")
    assert len(emb) == 750 and len(emb["embedding"].iloc[0]) == 64
    selected = summary["runs"][summary["selected"]]
    assert f"graphrec recommend {selected}" in flat(result.output)
    served = runner.invoke(app, ["recommend", selected, "-s", "cosmetics", "-u", "u0", "-k",
                                 "3", "--format", "json"])
    assert served.exit_code == 0, served.output
    assert len(json.loads(served.output)) == 3
    # the target by default; csv; a users file; every user to a file; unknown users
    as_csv = runner.invoke(app, ["recommend", selected, "-u", "u0", "-k", "3", "--format",
                                 "csv"])
    assert as_csv.output.splitlines()[0] == "user_id,rank,item_id,score"
    assert [line.split(",")[2] for line in as_csv.output.splitlines()[1:]] == [
        r["item_id"] for r in json.loads(served.output)]
    users = tmp_path / "users.txt"
    users.write_text("u0\nu1\n\n")
    from_file = runner.invoke(app, ["recommend", selected, "--users-file", str(users), "-k", "2",
                                    "--format", "json"])
    assert [r["user_id"] for r in json.loads(from_file.output)] == ["u0", "u0", "u1", "u1"]
    table_out = runner.invoke(app, ["recommend", selected, "-u", "u0", "-k", "1"])
    assert re.search(r"\b\d\.\d{4}\b", table_out.output)  # scores rounded in tables
    every = tmp_path / "all.csv"
    written = runner.invoke(app, ["recommend", selected, "--all-users", "-k", "2", "--out",
                                  str(every), "--batch", "100"])
    assert written.exit_code == 0, written.output
    assert len(pd.read_csv(every)) == 2 * len(Recommender.load(selected).index.ids["user"])
    assert runner.invoke(app, ["recommend", selected, "--all-users"]).exit_code == 2
    joint = summary["runs"]["joint"]
    exact = runner.invoke(app, ["recommend", joint, "-u", "u0", "-k", "5", "--format", "json"])
    approx = runner.invoke(app, ["recommend", joint, "-u", "u0", "-k", "5", "--format", "json",
                                 "--approximate", "--probes", "1000"])
    assert approx.exit_code == 0, approx.output
    assert [r["item_id"] for r in json.loads(approx.output)] == [
        r["item_id"] for r in json.loads(exact.output)]
    unknown = runner.invoke(app, ["recommend", selected, "-u", "nobody"])
    assert unknown.exit_code == 2 and "fallback" in flat(unknown.output)
    popular = runner.invoke(app, ["recommend", selected, "-u", "nobody", "--fallback",
                                  "popularity", "--format", "json"])
    assert len(json.loads(popular.output)) == 10
    chosen = next(r for r in summary["results"] if r["strategy"] == summary["selected"])
    again = Recommender.load(selected).evaluate("cosmetics", "test", (20,), ("all",),
                                                bootstrap=0)
    assert again["all"]["ndcg@20"] == pytest.approx(chosen["test"]["all"]["ndcg@20"],
                                                    abs=1e-6)


def test_kg_load_and_stats_local(tmp_path):
    store = str(tmp_path / "store")
    result = runner.invoke(app, ["kg", "load", "synthetic", "--dir", store, "--quiet",
                                 "-o", "n_users=50"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["kg", "stats", "--dir", store, "--json"])
    stats = json.loads(result.output)
    assert stats["totals"]["users"] <= 50 and set(stats["scenarios"]) == {
        "clothing", "shoes", "cosmetics"}


def test_a_second_data_set_needs_a_namespace_or_merge(tmp_path):
    store = str(tmp_path / "store")

    def load(*extra: str):
        return runner.invoke(app, ["kg", "load", "synthetic", "--dir", store, "--quiet", *extra])

    assert load("-o", "n_users=40").exit_code == 0
    assert load("-o", "n_users=40").exit_code == 0  # the same data set again: idempotent
    refused = load("-o", "n_users=60")
    assert refused.exit_code == 2
    assert "already holds synthetic n_users=40" in flat(refused.output)
    assert "--namespace" in flat(refused.output) and "kg clear" in flat(refused.output)
    assert load("-o", "n_users=60", "--namespace", "second").exit_code == 0
    listed = json.loads(runner.invoke(app, ["kg", "datasets", "--dir", store, "--json"]).output)
    assert [(d["source"], d["namespace"]) for d in listed] == [
        ("synthetic n_users=40", None), ("synthetic n_users=60", "second")]
    table = runner.invoke(app, ["kg", "datasets", "--dir", store])
    assert "synthetic n_users=60" in table.output and "second" in table.output
    assert runner.invoke(app, ["kg", "clear", "--dir", store], input="n\n").exit_code == 2
    assert len(json.loads(runner.invoke(app, ["kg", "datasets", "--dir", store,
                                              "--json"]).output)) == 2
    cleared = runner.invoke(app, ["kg", "clear", "--dir", store, "--yes"])
    assert cleared.exit_code == 0 and "synthetic n_users=40" in cleared.output
    assert "holds no data set" in runner.invoke(app, ["kg", "datasets", "--dir", store]).output
    assert load("-o", "n_users=60").exit_code == 0


def test_bad_input_exits_with_a_clear_message(tmp_path):
    (tmp_path / "a_b").mkdir()
    result = runner.invoke(app, ["kg", "load", "cdrib", str(tmp_path), "--dir",
                                 str(tmp_path / "s")])
    assert result.exit_code == 2
    assert "expected exactly one CDRIB pair" in flat(result.output)
    assert not (tmp_path / "s").exists()


@pytest.mark.neo4j
def test_kg_load_stats_and_query_on_neo4j(neo4j_store, monkeypatch):
    monkeypatch.setenv("NEO4J_URI", neo4j_store.config.uri)
    if neo4j_store.config.password:
        monkeypatch.setenv("NEO4J_PASSWORD", neo4j_store.config.password)
    result = runner.invoke(app, ["kg", "load", "synthetic", "--store", "neo4j", "--quiet",
                                 "-o", "n_users=80"])
    assert result.exit_code == 0, result.output
    stats = json.loads(runner.invoke(app, ["kg", "stats", "--store", "neo4j", "--json"]).output)
    result = runner.invoke(app, ["kg", "query", "scenario_overview", "--json"])
    rows = json.loads(result.output)
    assert {r["scenario"]: r["interactions"] for r in rows} == {
        k: v["interactions"] for k, v in stats["scenarios"].items()}
    result = runner.invoke(app, ["kg", "query", "bridging_users", "-p", "scenario_a=clothing"])
    assert result.exit_code == 2 and "needs parameter 'scenario_b'" in flat(result.output)
    result = runner.invoke(app, ["kg", "query", "bridging_users", "-p", "scenario_a=clothing",
                                 "-p", "scenario_b=garden"])
    assert result.exit_code == 2 and "unknown scenario 'garden' (scenario_b); scenarios are " \
        "['clothing', 'cosmetics', 'shoes']" in flat(result.output)
    result = runner.invoke(app, ["kg", "query", "item_neighbourhood", "-p", "item=nope:1"])
    assert result.exit_code == 2 and "unknown item id 'nope:1'" in flat(result.output)
    result = runner.invoke(app, ["kg", "query", "shortest_path", "--show"])
    assert result.exit_code == 0 and "MATCH" in result.output and "$user" in result.output


def test_version_option_and_command_print_the_package_version():
    from graphrec import __version__

    for args in (["--version"], ["version"]):
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert result.output.strip() == __version__


def test_the_cli_imports_neither_torch_nor_pyg_until_a_command_needs_them():
    import subprocess
    import sys

    code = ("import sys, graphrec.cli.main; "
            "print(sorted(m for m in ('torch', 'torch_geometric', 'scipy.stats', 'networkx') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_evaluate_help_lists_the_harness_subsets_and_tie_rules():
    from graphrec.cli import evaluate_cmd
    from graphrec.evaluation import baselines, harness, metrics
    from graphrec.strategies import versus

    assert evaluate_cmd.SUBSETS == harness.SUBSETS
    assert evaluate_cmd.TIES == metrics.TIES
    assert evaluate_cmd.DEFAULT_SUBSETS == harness.DEFAULT_SUBSETS
    assert sorted(evaluate_cmd.BASELINES) == sorted(baselines.BASELINES)
    assert evaluate_cmd.STRONGEST == versus.STRONGEST


@pytest.mark.parametrize("args, expected", [
    (["train", "--help"], "[train] strategy"),
    (["train", "--help"], "$GRAPHREC_HOME/runs"),
    (["kg", "load", "--help"], "--dir"),
])
def test_help_keeps_brackets_and_defaults_at_80_columns(args, expected):
    result = CliRunner().invoke(app, args, terminal_width=80, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert expected in " ".join(result.output.split())
    assert max(len(line) for line in result.output.splitlines()) <= 80


def test_tabular_data_without_a_split_says_how_to_split(tmp_path):
    rows = "\n".join(f"u{u},i{(u * 3 + j) % 20},{100 * u + j}" for u in range(30)
                     for j in range(4))
    (tmp_path / "r.csv").write_text("user,item,t\n" + rows + "\n")
    (tmp_path / "map.toml").write_text('scenario = "shop"\n[interactions]\npath = "r.csv"\n'
                                       'user = "user"\nitem = "item"\nts = "t"\n')
    loaded = runner.invoke(app, ["kg", "load", "tabular", str(tmp_path / "map.toml"), "--dir",
                                 str(tmp_path / "s"), "--quiet"])
    assert loaded.exit_code == 0 and "has no train/valid/test split" in flat(loaded.output)
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nloader = "tabular"\npath = "{tmp_path / "map.toml"}"\n'
                      '[train]\ntarget = "shop"\nepochs = 1\n')
    result = runner.invoke(app, ["train", "-c", str(config), "--quiet",
                                 "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2
    assert "comes without a split: add a [split] section" in flat(result.output)
    config.write_text(config.read_text() + '[split]\nmethod = "leave-one-out"\n')
    result = runner.invoke(app, ["train", "-c", str(config), "--quiet", "-o", "dim=8",
                                 "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output


def test_an_eval_section_sets_the_protocol_that_selects_scores_and_is_reevaluated(tmp_path):
    """``[eval] min_weight = 4`` on rated data: validation and test count only ratings of 4
    and 5 as positives, ``path-gnn`` starts each rating but the most common with its offset,
    ``graphrec evaluate`` repeats the run's protocol by default and takes another on request,
    and a bad ``[eval]`` is refused before any data is read."""
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        for scenario, j in [("a", j) for j in range(5)] + [("b", j) for j in range(3)]:
            item = f"{scenario}{(u * 7 + j * 3) % 15}"
            split = "train" if j < 2 or (scenario == "a" and j < 4) else (
                "valid" if u % 2 else "test")
            rows.append(f"u{u},{item},{scenario},{int(rng.integers(1, 6))},{split}")
    (tmp_path / "r.csv").write_text("user,item,shop,rating,split\n"
                                    + "\n".join(sorted(set(rows))) + "\n")
    (tmp_path / "map.toml").write_text(
        '[interactions]\npath = "r.csv"\nuser = "user"\nitem = "item"\nscenario = "shop"\n'
        'weight = "rating"\nsplit = "split"\n')
    config = tmp_path / "c.toml"
    config.write_text(f'[data]\nloader = "tabular"\npath = "{tmp_path / "map.toml"}"\n'
                      '[train]\ntarget = "b"\nstrategy = "path-gnn"\nepochs = 2\nseed = 0\n'
                      '[strategy.path-gnn]\ndim = 4\nmax_queries = 32\n'
                      '[eval]\nmin_weight = 4\n')
    shown = runner.invoke(app, ["config", "show", "-c", str(config)])
    assert shown.exit_code == 0, shown.output
    assert "[eval]" in shown.output and "min_weight = 4" in shown.output
    result = runner.invoke(app, ["train", "-c", str(config), "--quiet",
                                 "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 0, result.output
    run_dir = Path(result.output.strip().splitlines()[-1])
    assert json.loads((run_dir / "config.json").read_text())["eval"]["min_weight"] == 4
    model = json.loads((run_dir / "model.json").read_text())
    assert model["kwargs"]["rated_levels"]  # the ratings but the most common start apart
    measured = json.loads((run_dir / "metrics.json").read_text())["test"]["all"]
    again = runner.invoke(app, ["evaluate", str(run_dir), "--json", "--bootstrap", "0",
                                "--subset", "all"])
    assert again.exit_code == 0, again.output
    payload = json.loads(again.output)
    assert payload["eval"]["min_weight"] == 4
    assert payload["results"]["all"]["ndcg@20"] == pytest.approx(measured["ndcg@20"], abs=1e-6)
    every = runner.invoke(app, ["evaluate", str(run_dir), "--json", "--bootstrap", "0",
                                "--subset", "all", "--min-weight", "1"])
    assert json.loads(every.output)["results"]["all"]["rows"] > measured["rows"]
    for bad, message in (("min_weight = \"high\"", "min_weight must be a finite number"),
                         ("rounds = 3", "unknown key(s) ['rounds']"),
                         ("protocol = \"lucky\"", "protocol must be 'full' or 'sampled'")):
        config.write_text(config.read_text().split("[eval]")[0] + f"[eval]\n{bad}\n")
        result = runner.invoke(app, ["train", "-c", str(config), "--quiet",
                                     "--runs", str(tmp_path / "runs")])
        assert result.exit_code == 2 and "[eval]" in flat(result.output), result.output
        assert message in flat(result.output)
