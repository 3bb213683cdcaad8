"""Library API on a run trained by the CLI (small synthetic graph)."""

from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.serving import Recommender, UnknownAttributeWarning
from kg.errors import ConfigError, DataError
from tests.helpers import train_run


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    return str(train_run(tmp_path_factory.mktemp("api"),
                         '[data]\nloader = "synthetic"\noptions = { n_users = 200 }\n'
                         '[train]\ntarget = "cosmetics"\nstrategy = "joint"\nepochs = 5\n'
                         'seed = 0\ndim = 16\n'))


def test_recommend_excludes_seen_items_and_is_batched(run_dir):
    rec = Recommender.load(run_dir)
    seen = set(rec.tables.interactions.query("user_id == 'u1' and split == 'train'")["item_id"])
    out = rec.recommend(["u1", "u2"], "clothing", k=10)
    assert list(out.groupby("user_id").size()) == [10, 10]
    assert not set(out.loc[out.user_id == "u1", "item_id"]) & seen
    assert all(i.startswith("clothing:") for i in out["item_id"])
    with_seen = rec.recommend("u1", "clothing", k=200, exclude_seen=False)
    assert set(with_seen["item_id"]) & seen


def test_similar_items_across_scenarios(run_dir):
    rec = Recommender.load(run_dir)
    out = rec.similar_items(["clothing:i3", "cosmetics:i5"], "cosmetics", k=4)
    assert len(out) == 8 and "cosmetics:i5" not in set(
        out.loc[out.item_id == "cosmetics:i5", "similar_item_id"])
    assert out["score"].between(-1.0001, 1.0001).all()
    alone = rec.similar_items("clothing:i3", k=4)  # the run's target by default
    first = out[out.item_id == "clothing:i3"]
    assert list(alone["similar_item_id"]) == list(first["similar_item_id"])
    assert alone["score"].tolist() == pytest.approx(first["score"].tolist(), abs=1e-5)


def test_new_item_from_attributes_matches_an_in_graph_cold_item(run_dir):
    rec = Recommender.load(run_dir)
    t = rec.tables
    warm = set(t.interactions.loc[t.interactions["split"] == "train", "item_id"])
    cold = t.items.loc[~t.items["item_id"].isin(warm) & (t.items["scenario"] == "cosmetics"),
                       "item_id"].iloc[0]
    attrs = t.item_attributes[t.item_attributes["item_id"] == cold]
    ids, new = rec.embed_new_items([{k: list(g["value"]) for k, g in attrs.groupby("kind")}],
                                   "cosmetics")
    assert ids == ["new:0"]
    _, known = rec.item_embeddings([cold])
    assert torch.nn.functional.cosine_similarity(new, known).item() > 0.98
    with pytest.raises(DataError, match="unknown attribute kind 'colour'"):
        rec.embed_new_items([{"colour": ["red"]}])
    with pytest.warns(UnknownAttributeWarning, match=r"2 attribute value\(s\).*2 distinct"):
        rec.embed_new_items([{"brand": ["brandXYZ", "brandABC"]}], "cosmetics")


def test_unknown_ids_and_incomplete_runs(run_dir, tmp_path):
    rec = Recommender.load(run_dir)
    with pytest.raises(DataError, match="unknown user id 'nobody'"):
        rec.recommend("nobody", "cosmetics")
    with pytest.raises(DataError, match="scenarios are"):
        rec.recommend("u1", "garden")
    with pytest.raises(ConfigError, match="not a complete run directory"):
        Recommender.load(tmp_path)


def test_evaluate_cli_reproduces_training_metrics_and_samples(run_dir):
    import json

    metrics = json.loads((Path(run_dir) / "metrics.json").read_text())
    result = CliRunner().invoke(app, ["evaluate", run_dir, "-k", "20", "--json",
                                      "--bootstrap", "200"])
    assert result.exit_code == 0, result.output
    full = json.loads(result.output)["results"]
    assert full["all"]["ndcg@20"] == pytest.approx(metrics["test"]["all"]["ndcg@20"], abs=1e-6)
    lo, hi = full["all"]["ci95"]["ndcg@20"]
    assert lo <= full["all"]["ndcg@20"] <= hi and 0 < full["all"]["coverage@20"] <= 1
    result = CliRunner().invoke(app, ["evaluate", run_dir, "--protocol", "sampled",
                                      "--negatives", "99", "--subset", "warm", "--json"])
    sampled = json.loads(result.output)["results"]["warm"]
    assert sampled["rows"] >= sampled["users"] > 0 and "coverage@20" not in sampled
    result = CliRunner().invoke(app, ["evaluate", run_dir, "--subset", "lukewarm"])
    assert result.exit_code == 2 and "unknown subset" in result.output
    mrr = {}
    for ties in ("optimistic", "expected", "pessimistic"):
        result = CliRunner().invoke(app, ["evaluate", run_dir, "--protocol", "sampled",
                                          "--negatives", "9", "--subset", "all", "--json",
                                          "--bootstrap", "0", "--ties", ties])
        assert result.exit_code == 0, result.output
        assert json.loads(result.output)["ties"] == ties
        mrr[ties] = json.loads(result.output)["results"]["all"]["mrr"]
    assert mrr["optimistic"] >= mrr["expected"] >= mrr["pessimistic"] > 0
    result = CliRunner().invoke(app, ["evaluate", run_dir, "--ties", "lucky"])
    assert result.exit_code == 2 and "tie rule 'lucky'" in result.output


def test_train_with_a_split_section_saves_the_resplit_graph(tmp_path):
    config = tmp_path / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 120 }\n'
                      '[split]\nmethod = "temporal"\ntest = 0.2\nfraction = 0.5\n'
                      '[train]\ntarget = "cosmetics"\nstrategy = "joint"\nepochs = 2\nseed = 0\n'
                      'dim = 8\n')
    result = CliRunner().invoke(app, ["train", "-c", str(config), "--runs",
                                      str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 0, result.output
    inter = Recommender.load(result.output.strip().splitlines()[-1]).tables.interactions
    cos = inter[inter["scenario"] == "cosmetics"]
    split = cos["split"].value_counts()
    assert cos.loc[cos["split"] == "train", "ts"].max() <= cos.loc[cos["split"] == "test",
                                                                   "ts"].min()
    assert split["train"] < split["test"] * 4 * 0.6  # half of the 70% left for training
    config.write_text(config.read_text().replace("fraction", "fractoin"))
    result = CliRunner().invoke(app, ["train", "-c", str(config), "--runs",
                                      str(tmp_path / "runs"), "--quiet"])
    assert result.exit_code == 2 and "unknown key(s) ['fractoin'] in [split]" in " ".join(
        result.output.split())


def test_embed_cli_writes_parquet_and_refuses_bad_output_paths(run_dir, tmp_path):
    items = tmp_path / "new.csv"
    attrs = Recommender.load(run_dir).tables.item_attributes
    known = attrs.loc[attrs["kind"] == "brand", "value"].iloc[0]
    items.write_text(f"item_id,brand\nnew1,{known}\nnew2,brandXYZ\n")
    runner = CliRunner()

    def embed(out: str):
        return runner.invoke(app, ["embed", run_dir, "--items", str(items), "-s", "cosmetics",
                                   "--out", out])

    ok = embed(str(tmp_path / "e.parquet"))
    assert ok.exit_code == 0, ok.output
    assert "warning: 1 attribute value(s) of the new items are not in the graph" in " ".join(
        ok.output.split()) and "brand=brandXYZ" in ok.output
    import pandas as pd
    assert list(pd.read_parquet(tmp_path / "e.parquet")["item_id"]) == ["new1", "new2"]
    folder = tmp_path / "folder"
    folder.mkdir()
    for out, words in ((str(folder), "is a folder"), ("", "needs a file path"),
                       (str(items), "is the input file")):
        result = embed(out)
        assert result.exit_code == 2 and words in result.output, (out, result.output)
    assert items.read_text().startswith("item_id,brand")  # the input is intact
    assert not list(tmp_path.glob(".*tmp")) and not list(folder.iterdir())


def test_predict_matches_recommend_and_items_restrict_the_candidates(run_dir):
    rec = Recommender.load(run_dir)
    top = rec.recommend("u1", k=5)  # the run's target, cosmetics
    assert all(i.startswith("cosmetics:") for i in top["item_id"])
    pairs = rec.predict(["u1"] * 5, list(top["item_id"]))
    assert pairs["score"].tolist() == pytest.approx(top["score"].tolist(), abs=1e-5)
    chosen = list(top["item_id"].iloc[[4, 2]])
    restricted = rec.recommend("u1", items=chosen, k=10)
    assert list(restricted["item_id"]) == [chosen[1], chosen[0]]
    with pytest.raises(DataError, match="not in scenario 'cosmetics'"):
        rec.recommend("u1", items=["clothing:i3"])
    assert "target 'cosmetics'" in repr(rec) and "HeteroLightGCN" in repr(rec)


def test_unknown_users_get_an_error_or_the_popularity_fallback(run_dir):
    rec = Recommender.load(run_dir)
    with pytest.raises(DataError, match="fold_in_users.*fallback='popularity'"):
        rec.recommend("stranger")
    out = rec.recommend(["stranger", "u1"], k=3, fallback="popularity")
    inter = rec.tables.interactions
    train = inter[inter["split"].isin(["train"]) & (inter["scenario"] == "cosmetics")]
    assert out[out.user_id == "stranger"]["score"].tolist() == sorted(
        train["item_id"].value_counts().head(3).astype(float).tolist(), reverse=True)


def test_fold_in_a_new_user_and_serve_added_items_without_retraining(run_dir):
    rec = Recommender.load(run_dir)
    t = rec.tables.interactions
    history = list(t[(t.user_id == "u1") & (t.split == "train")]["item_id"])
    ids, emb = rec.fold_in_users({"twin": history})
    assert ids == ["twin"] and emb.shape == (1, rec.user_embeddings(["u1"])[1].shape[1])
    # the same history as u1 propagates to a vector close to u1's own
    _, u1 = rec.user_embeddings(["u1"])
    assert torch.nn.functional.cosine_similarity(emb, u1).item() > 0.8
    served = rec.recommend("twin", k=10)
    assert not set(served["item_id"]) & set(history) and len(served) == 10
    attrs = rec.tables.item_attributes
    brand = attrs.loc[attrs["kind"] == "brand", "value"].iloc[0]
    rec.add_items(["cosmetics:brand-new"], [{"brand": [brand]}], scenario="cosmetics")
    everything = rec.recommend("u1", k=10_000)
    assert "cosmetics:brand-new" in set(everything["item_id"])
    similar = rec.similar_items("cosmetics:brand-new", k=3)
    assert len(similar) == 3 and similar["score"].between(-1.0001, 1.0001).all()
    ids_all, vectors = rec.item_embeddings(scenario="cosmetics")
    assert ids_all[-1] == "cosmetics:brand-new" and len(ids_all) == vectors.shape[0]
    with pytest.raises(DataError, match="exist already"):
        rec.add_items(["cosmetics:brand-new"], [{"brand": [brand]}], scenario="cosmetics")


def test_a_folded_in_user_gets_the_hybrid_baseline_part_from_its_items(run_dir):
    """Served through the blend's baseline alone (weight 1), a user folded in with u1's
    training items scores every item as u1 does, with item-kNN, EASE and attribute-kNN."""
    rec = Recommender.load(run_dir)
    t = rec.tables.interactions
    history = list(t[(t.user_id == "u1") & (t.split == "train")]["item_id"])
    items = list(rec.item_embeddings(scenario="cosmetics")[0])
    for baseline, settings in (("item-knn", {}), ("ease", {"l2": 10.0}),
                               ("attribute-knn", {}), ("attribute-knn", {"weighting": "idf"})):
        hybrid = Recommender(rec.model, rec.graph, rec.index, rec.tables, target="cosmetics",
                             blend={"weight": 1.0, "baseline": baseline,
                                    "baseline_settings": settings})
        hybrid.fold_in_users({"twin": history})
        twin = hybrid.predict(["twin"] * len(items), items)["score"]
        own = hybrid.predict(["u1"] * len(items), items)["score"]
        assert twin.tolist() == pytest.approx(own.tolist(), abs=1e-5), baseline
        assert own.abs().max() > 0, baseline  # the baseline has evidence for u1
        served = hybrid.recommend(["twin", "u1"], k=5)
        assert (list(served[served.user_id == "twin"]["item_id"])
                == list(served[served.user_id == "u1"]["item_id"])), baseline


def test_approximate_search_matches_exact_when_every_cell_is_probed(run_dir):
    rec = Recommender.load(run_dir)
    users = ["u1", "u2", "u7", "stranger"]
    exact = rec.recommend(users, k=10, fallback="popularity")
    cells = rec.item_index("cosmetics").clusters
    approx = rec.recommend(users, k=10, fallback="popularity", approximate=True, probes=cells)
    assert list(approx["item_id"]) == list(exact["item_id"])
    assert approx["score"].tolist() == pytest.approx(exact["score"].tolist(), abs=1e-5)
    few = rec.recommend(users[:3], k=10, approximate=True, probes=1)
    seen = set(rec.tables.interactions.query("user_id == 'u1' and split == 'train'")["item_id"])
    assert len(few) > 0 and not set(few.loc[few.user_id == "u1", "item_id"]) & seen
    with pytest.raises(ConfigError, match="drop items= or approximate"):
        rec.recommend("u1", items=list(exact["item_id"][:2]), approximate=True)
    with pytest.raises(ConfigError, match="probes must be >= 1"):
        rec.recommend("u1", approximate=True, probes=0)
    hybrid = Recommender(rec.model, rec.graph, rec.index, rec.tables, target="cosmetics",
                         blend={"weight": 0.5, "model_scale": 1.0, "knn_scale": 1.0})
    with pytest.raises(ConfigError, match="hybrid run blends item-knn in"):
        hybrid.recommend("u1", approximate=True)
    # an added item enters the index: the cached one is rebuilt
    attrs = rec.tables.item_attributes
    brand = attrs.loc[attrs["kind"] == "brand", "value"].iloc[0]
    rec.add_items(["cosmetics:fresh"], [{"brand": [brand]}], scenario="cosmetics")
    every = rec.recommend("u1", k=10_000, approximate=True, probes=10_000)
    assert "cosmetics:fresh" in set(every["item_id"])


def test_plot_draws_the_saved_history_without_retraining(run_dir, tmp_path):
    from PIL import Image

    result = CliRunner().invoke(app, ["plot", run_dir, "--out", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    for name in ("training.png", "metrics.png"):
        with Image.open(tmp_path / "p" / name) as image:
            assert image.size[0] > 300 and image.size[1] > 200
    blocked = tmp_path / "file"
    blocked.write_text("x")
    assert CliRunner().invoke(app, ["plot", run_dir, "--out", str(blocked)]).exit_code == 2
