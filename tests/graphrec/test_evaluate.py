"""The evaluation harness and the baselines on rankings small enough to compute by hand."""

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch

from graphrec.data.graph import build_graph
from graphrec.evaluation import EmbeddingScorer, Protocol, compare, evaluate
from graphrec.evaluation.baselines import build_baseline, ease_weights
from graphrec.evaluation.harness import sample_negatives
from graphrec.evaluation.metrics import (
    Ranks,
    bootstrap_ci,
    coverage,
    paired_bootstrap,
    user_metrics,
)
from kg.errors import ConfigError
from kg.tables import make_tables


def test_user_metrics_by_hand():
    # user 1: positives at ranks 0 and 2 (distinct scores); user 2: one positive at rank 5
    ranks = [Ranks(np.array([0, 2]), np.zeros(2, int), np.zeros(2, int)),
             Ranks(np.array([5]), np.zeros(1, int), np.zeros(1, int))]
    m = user_metrics(ranks, ks=(1, 3))
    assert m["mrr"].tolist() == pytest.approx([1.0, 1 / 6])
    assert m["recall@1"].tolist() == [0.5, 0.0]  # one of two positives in the top 1
    assert m["ndcg@1"].tolist() == [1.0, 0.0]
    assert m["recall@3"].tolist() == [1.0, 0.0]
    # gains 1/log2(2) + 1/log2(4) over the ideal 1/log2(2) + 1/log2(3)
    assert m["ndcg@3"][0] == pytest.approx(1.5 / (1 + 1 / math.log2(3)))
    assert m["hr@3"].tolist() == [1.0, 0.0]


def test_coverage_and_bootstrap():
    assert coverage(torch.tensor([[0, 1], [1, 2]]), 4) == 0.75
    assert bootstrap_ci(np.full(10, 0.3)) == pytest.approx((0.3, 0.3))
    values = np.array([1.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    lo, hi = bootstrap_ci(values, groups=np.array([0, 0, 1, 1, 2, 2]))
    assert 0.0 <= lo < values.mean() < hi <= 1.0


def hand_tables():
    """Scenario s (items s:0..s:4, s:3 and s:4 never trained on) and t (two items).

    u1 warm, u2 warm, u3 and u4 only known from t (cold-start users of s).
    """
    inter = [("u1", "s:0", "train"), ("u1", "s:1", "train"), ("u2", "s:1", "train"),
             ("u2", "s:2", "train"), ("u3", "t:0", "train"), ("u4", "t:1", "train"),
             ("u1", "s:2", "test"), ("u2", "s:4", "test"), ("u3", "s:2", "test"),
             ("u4", "s:4", "test"), ("u1", "s:3", "valid")]
    inter = pd.DataFrame(inter, columns=["user_id", "item_id", "split"])
    inter["scenario"] = inter["item_id"].str[0]
    items = [f"s:{i}" for i in range(5)] + ["t:0", "t:1"]
    return make_tables(
        scenarios=pd.DataFrame({"scenario": ["s", "t"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2", "u3", "u4"]}),
        items=pd.DataFrame({"item_id": items, "scenario": [i[0] for i in items]}),
        interactions=inter,
        item_attributes=pd.DataFrame([("s:0", "brand", "x"), ("s:1", "brand", "x"),
                                      ("s:2", "brand", "y"), ("s:4", "brand", "y")],
                                     columns=["item_id", "kind", "value"]),
    ).validate()


def fixed_scorer(index, item_scores: dict[str, float]) -> EmbeddingScorer:
    items = torch.tensor([[item_scores.get(i, 0.0)] for i in index.ids["item"]])
    return EmbeddingScorer(torch.ones(len(index.ids["user"]), 1), items)


SCORES = {"s:0": 10.0, "s:3": 9.0, "s:2": 8.0, "s:1": 7.0, "s:4": 1.0}


def test_full_ranking_by_hand_and_no_training_item_leaks_into_a_ranking():
    tables = hand_tables()
    _, index = build_graph(tables)
    res = evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", (1, 3),
                   subsets=("all", "warm", "cold_users", "cold_items", "both_cold"))
    # u1: s:0 (train) and s:3 (valid) score higher but never compete -> rank 0
    # u2: s:4 below s:0, s:3 (s:1, s:2 are training items) -> rank 2
    # u3 (cold): s:2 below s:0, s:3 -> rank 2; u4 (cold): s:4 last of five -> rank 4
    assert res["all"]["users"] == 4 and res["all"]["rows"] == 4
    assert res["all"]["mrr"] == pytest.approx((1 + 1 / 3 + 1 / 3 + 1 / 5) / 4)
    assert res["all"]["hr@1"] == 0.25 and res["all"]["recall@3"] == 0.75
    assert res["warm"]["users"] == 1 and res["warm"]["mrr"] == 1.0
    assert res["cold_users"]["users"] == 2
    assert res["cold_users"]["mrr"] == pytest.approx((1 / 3 + 1 / 5) / 2)
    # cold items compete only with cold items: s:4 below s:3 for u2 and u4
    assert res["cold_items"]["mrr"] == 0.5 and res["both_cold"]["users"] == 1
    # u1's list keeps its test positive s:2 but neither its training items nor s:3
    assert res["all"]["coverage@1"] == pytest.approx(2 / 5)  # s:2 for u1, s:0 for the rest
    with pytest.raises(ConfigError, match="unknown subset"):
        evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", subsets=("hot",))
    with pytest.raises(ConfigError, match="no interactions in split 'tset'"):
        evaluate(fixed_scorer(index, SCORES), index, tables, "s", "tset")


def test_sampled_negatives_skip_the_users_items_and_are_reproducible():
    pool = np.arange(10)
    own = {"u": {1, 2, 3}}
    draw = sample_negatives(pool, np.array(["u", "v"]), own, 500, seed=7, exclude_own=True)
    assert not set(draw[0]) & own["u"] and set(draw[1]) == set(range(10))
    again = sample_negatives(pool, np.array(["u", "v"]), own, 500, seed=7, exclude_own=True)
    assert np.array_equal(draw, again)
    kept = sample_negatives(pool, np.array(["u"]), own, 500, seed=7, exclude_own=False)
    assert set(kept[0]) & own["u"]
    with pytest.raises(ConfigError, match="no item left"):
        sample_negatives(np.array([1, 2]), np.array(["u"]), own, 5, seed=0, exclude_own=True)


def test_sampled_protocol_matches_its_own_draw():
    tables = hand_tables()
    _, index = build_graph(tables)
    protocol = Protocol("sampled", negatives=20, seed=3, exclude_own=False, average="rows")
    res = evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", (5,), ("all",),
                   protocol)["all"]
    worst = evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", (5,), ("all",),
                     dataclasses.replace(protocol, ties="pessimistic"))["all"]
    rows = tables.interactions.query("scenario == 's' and split == 'test'")
    pool = np.unique(index.index("item", ["s:0", "s:1", "s:2"]))
    negatives = sample_negatives(pool, rows["user_id"].to_numpy(), {}, 20, 3, False)
    item_score = np.array([SCORES.get(i, 0.0) for i in index.ids["item"]])
    pos = item_score[index.index("item", rows["item_id"])]
    above = (item_score[negatives] > pos[:, None]).sum(1)
    tied = (item_score[negatives] == pos[:, None]).sum(1)
    # expected ties: the rank is uniform over above .. above + tied
    mrr = np.mean([np.mean(1 / (np.arange(a, a + t + 1) + 1)) for a, t in zip(above, tied,
                                                                              strict=True)])
    assert res["rows"] == 4 and res["mrr"] == pytest.approx(mrr)
    assert worst["mrr"] == pytest.approx(np.mean(1 / (above + tied + 1)))
    with pytest.raises(ConfigError, match="protocol must be"):
        Protocol("leave-two-out")


def test_baselines_by_hand():
    tables = hand_tables()
    _, index = build_graph(tables)
    users = torch.as_tensor(index.index("user", ["u1", "u2"]))
    items = torch.as_tensor(index.index("item", ["s:0", "s:1", "s:2", "s:3", "s:4"]))
    pop = build_baseline("popularity", tables, index).score(users, items)
    assert pop[0].round().tolist() == [1, 2, 1, 0, 0]
    # attribute x: 3 training interactions (s:0 once, s:1 twice); y: 1 (s:2); s:3 has none
    attr = build_baseline("attribute-popularity", tables, index).score(users, items)
    assert attr[0].round().tolist() == [3, 3, 1, 0, 1]
    # cosine of user columns: s:0 = u1, s:1 = (u1 + u2)/sqrt2, s:2 = u2
    knn = build_baseline("item-knn", tables, index).score(users, items)
    r = 1 / math.sqrt(2)
    assert knn[0].tolist() == pytest.approx([1 + r, r + 1, r, 0, 0])
    content = build_baseline("attribute-knn", tables, index).score(users, items)
    assert content[1, 4] == pytest.approx(1.0) and content[0, 4] == 0.0  # u2 had brand y
    pairs = build_baseline("item-knn", tables, index).score_pairs(
        users, torch.stack([items[[2, 0]], items[[1, 1]]]))
    assert pairs.flatten().tolist() == pytest.approx([r, 1 + r, 1 + r, 1 + r])
    with pytest.raises(ConfigError, match="Could not resolve baseline"):
        build_baseline("item-cnn", tables, index)


def test_content_popularity_is_popularity_and_a_ridge_fit_for_cold_items():
    """Warm items score log(1 + users); a cold item scores the ridge regression of that on the
    binary attribute values, checked against the closed form with a centred intercept."""
    rng = np.random.default_rng(0)
    items = [f"i{n}" for n in range(12)]
    values = rng.random((12, 4)) < 0.5
    values[11] = False  # i11: cold, without attributes -> the intercept
    attrs = [(items[i], "tag", f"v{v}") for i in range(12) for v in range(4) if values[i, v]]
    users = [f"u{n}" for n in range(9)]
    inter = [(users[u], items[i], "train") for i in range(8) for u in range(i + 1)]
    inter += [("u0", "i8", "test"), ("u1", "i9", "test"), ("u2", "i10", "test")]
    inter = pd.DataFrame(inter, columns=["user_id", "item_id", "split"]).assign(scenario="s")
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": ["s"]}),
        users=pd.DataFrame({"user_id": users}),
        items=pd.DataFrame({"item_id": items, "scenario": "s"}),
        interactions=inter,
        item_attributes=pd.DataFrame(attrs, columns=["item_id", "kind", "value"]),
    ).validate()
    _, index = build_graph(tables)
    rows = index.index("item", items)
    l2 = 0.7
    scores = build_baseline("content-popularity", tables, index, l2=l2).score(
        torch.as_tensor(index.index("user", ["u0"])), torch.as_tensor(rows))[0].numpy()
    warm = np.log1p(np.arange(1, 9))
    assert scores[:8] == pytest.approx(warm)
    x = values[:8].astype(float)
    xc, yc = x - x.mean(0), warm - warm.mean()
    w = np.linalg.solve(xc.T @ xc + l2 * np.eye(4), xc.T @ yc)
    b = warm.mean() - x.mean(0) @ w
    assert scores[8:] == pytest.approx(values[8:].astype(float) @ w + b, rel=1e-3)
    assert scores[11] == pytest.approx(b, rel=1e-3)
    for bad in (0, -1.0, float("nan"), True):
        with pytest.raises(ConfigError, match="content-popularity l2 must be a positive"):
            build_baseline("content-popularity", tables, index, l2=bad)


def test_content_popularity_gives_a_new_item_its_own_scenarios_popularity():
    """Brand b in a dense scenario (items taken by 6 users) and a sparse one (by 1): a new
    sparse item of brand b is predicted at the sparse level, not the dense one."""
    users = [f"u{n}" for n in range(6)]
    dense, sparse = [f"d{n}" for n in range(4)], [f"s{n}" for n in range(4)]
    inter = [(u, i, "train", "d") for i in dense for u in users]
    inter += [("u0", i, "train", "s") for i in sparse[:3]] + [("u1", "s3", "test", "s")]
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": ["d", "s"]}),
        users=pd.DataFrame({"user_id": users}),
        items=pd.DataFrame({"item_id": dense + sparse, "scenario": ["d"] * 4 + ["s"] * 4}),
        interactions=pd.DataFrame(inter, columns=["user_id", "item_id", "split", "scenario"]),
        item_attributes=pd.DataFrame([(i, "brand", "b") for i in dense + sparse],
                                     columns=["item_id", "kind", "value"]),
    ).validate()
    _, index = build_graph(tables)
    baseline = build_baseline("content-popularity", tables, index, l2=0.1)
    new = float(baseline.item_scores[index.index("item", ["s3"])[0]])
    assert new == pytest.approx(np.log(2), abs=0.05)  # the sparse items' log(1 + 1)


def test_attribute_knn_idf_weighs_a_value_every_item_has_zero():
    """Four items all of genre g; i0 and i2 share director d1, i1 and i3 director d2. A user
    who rated i0: with binary values the shared genre makes i1 and i3 half as similar as i2;
    with idf the genre weighs log(4/4) = 0 and only i2 (same director) is similar."""
    items = [f"i{n}" for n in range(4)]
    attrs = [(i, "genre", "g") for i in items] + [("i0", "director", "d1"),
                                                  ("i2", "director", "d1"),
                                                  ("i1", "director", "d2"),
                                                  ("i3", "director", "d2")]
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": ["s"]}),
        users=pd.DataFrame({"user_id": ["u1", "u2"]}),
        items=pd.DataFrame({"item_id": items, "scenario": "s"}),
        interactions=pd.DataFrame({"user_id": ["u1", "u2"], "item_id": ["i0", "i1"],
                                   "scenario": "s", "split": "train"}),
        item_attributes=pd.DataFrame(attrs, columns=["item_id", "kind", "value"]),
    ).validate()
    _, index = build_graph(tables)
    user = torch.as_tensor(index.index("user", ["u1"]))
    others = torch.as_tensor(index.index("item", ["i1", "i2", "i3"]))
    binary = build_baseline("attribute-knn", tables, index).score(user, others)
    assert binary[0].tolist() == pytest.approx([0.5, 1.0, 0.5])
    idf = build_baseline("attribute-knn", tables, index, weighting="idf").score(user, others)
    assert idf[0].tolist() == pytest.approx([0.0, 1.0, 0.0])
    with pytest.raises(ConfigError, match="weighting must be one of"):
        build_baseline("attribute-knn", tables, index, weighting="bm25")


def ridge_without_self(history: np.ndarray, l2: float) -> np.ndarray:
    """EASE's weights one column at a time, the definition written out: column i is the ridge
    regression of item i's user column on every other item's (so its own weight is 0)."""
    n = history.shape[1]
    weights = np.zeros((n, n))
    for i in range(n):
        others = [j for j in range(n) if j != i]
        x = history[:, others]
        weights[others, i] = np.linalg.solve(x.T @ x + l2 * np.eye(n - 1), x.T @ history[:, i])
    return weights


@pytest.mark.parametrize("l2", [0.5, 3.0, 50.0])
def test_ease_weights_equal_one_ridge_regression_per_item(l2):
    rng = np.random.default_rng(int(l2 * 10))
    history = (rng.random((40, 12)) < 0.3).astype(np.float64)
    got = ease_weights(sp.csr_matrix(history), l2)
    assert got.dtype == np.float32 and np.all(np.diag(got) == 0)
    np.testing.assert_allclose(got, ridge_without_self(history, l2), atol=2e-5)


def test_ease_scores_sum_the_weights_of_the_users_items_and_zero_for_unseen_items():
    tables = hand_tables()
    _, index = build_graph(tables)
    ease = build_baseline("ease", tables, index, l2=2.0)
    users = torch.arange(len(index.ids["user"]))
    items = torch.arange(len(index.ids["item"]))
    scores = ease.score(users, items).numpy()
    trained = ["s:0", "s:1", "s:2", "t:0", "t:1"]  # s:3 and s:4 have no training interaction
    history = np.zeros((len(users), len(trained)))
    for u, i in tables.interactions.query("split == 'train'")[["user_id", "item_id"]].values:
        history[index.index("user", [u])[0], trained.index(i)] = 1.0
    expected = history @ ridge_without_self(history, 2.0)
    cols = index.index("item", trained)
    np.testing.assert_allclose(scores[:, cols], expected, atol=1e-5)
    assert not scores[:, index.index("item", ["s:3", "s:4"])].any()
    pairs = ease.score_pairs(users[:2], torch.stack([items[cols[:2]], items[cols[1:3]]]))
    np.testing.assert_allclose(pairs.numpy(), [scores[0, cols[:2]], scores[1, cols[1:3]]],
                               atol=1e-6)
    for bad in (0.0, -1.0, float("nan"), "a lot", True):
        with pytest.raises(ConfigError, match="EASE l2 must be a positive number"):
            build_baseline("ease", tables, index, l2=bad)
    with pytest.raises(ConfigError, match="5 items with interactions exceed max_items=4"):
        build_baseline("ease", tables, index, max_items=4)


def test_rating_threshold_and_split_candidates_by_hand():
    tables = hand_tables()
    inter = tables.interactions.copy()
    inter = pd.concat([inter, pd.DataFrame([{"user_id": "u1", "item_id": "s:4", "scenario": "s",
                                             "weight": 1.0, "ts": pd.NA, "split": "test"}])],
                      ignore_index=True)
    weights = {("u1", "s:2"): 5.0, ("u2", "s:4"): 2.0, ("u3", "s:2"): 5.0, ("u4", "s:4"): 5.0}
    for (u, i), w in weights.items():
        inter.loc[(inter["user_id"] == u) & (inter["item_id"] == i), "weight"] = w
    tables = dataclasses.replace(tables, interactions=inter).validate()
    _, index = build_graph(tables)
    scores = {**SCORES, "s:4": 9.5}
    protocol = Protocol(min_weight=4.0, candidates="split")
    res = evaluate(fixed_scorer(index, scores), index, tables, "s", "test", (1,), ("all",),
                   protocol)["all"]
    # candidates are the test items s:2 and s:4; u2 has no positive (rated 2)
    # u1: s:2 below its own low-rated s:4 (still a candidate) -> rank 1; u3: rank 1; u4: rank 0
    assert res["users"] == 3
    assert res["mrr"] == pytest.approx((0.5 + 0.5 + 1.0) / 3)
    with pytest.raises(ConfigError, match="candidates must be"):
        Protocol(candidates="catalogue")


def test_full_ranking_in_user_chunks_gives_the_same_numbers(monkeypatch):
    """Evaluation scores users in chunks (bounded memory at 10^7 interactions): any chunk
    size gives the metrics of one pass."""
    from graphrec.evaluation import harness
    from loaders import SyntheticConfig, generate_synthetic

    tables = generate_synthetic(SyntheticConfig(n_users=300, seed=2)).tables
    data, index = build_graph(tables, ("train",))
    gen = torch.Generator().manual_seed(0)
    scorer = EmbeddingScorer(torch.randn(data["user"].num_nodes, 8, generator=gen),
                             torch.randn(data["item"].num_nodes, 8, generator=gen))
    whole = evaluate(scorer, index, tables, "cosmetics", "test", (5, 20), bootstrap=50)
    monkeypatch.setattr(harness, "FULL_CHUNK_SCORES", 7 * 250)  # 7 users per chunk
    chunked = evaluate(scorer, index, tables, "cosmetics", "test", (5, 20), bootstrap=50)
    assert chunked == whole and whole["all"]["users"] > 7


def test_paired_bootstrap_resamples_users_together():
    values = np.array([0.5, 0.2, 0.9, 0.0, 0.4, 0.7])
    groups = np.array(["a", "a", "b", "c", "c", "d"])
    # a method a constant step above its baseline: every resample agrees on the difference
    out = paired_bootstrap(values + 0.1, values, groups, n=200)
    assert out["difference"] == pytest.approx(0.1)
    assert out["difference_ci95"] == pytest.approx([0.1, 0.1])
    assert out["share_better"] == 1.0
    assert out["ratio"] == pytest.approx((values + 0.1).sum() / values.sum())
    lo, hi = out["ratio_ci95"]
    assert lo <= out["ratio"] <= hi
    # itself: never better, ratio 1 in every resample
    same = paired_bootstrap(values, values, groups, n=200)
    assert same["share_better"] == 0.0 and same["ratio_ci95"] == pytest.approx([1.0, 1.0])
    # the resamples are those of bootstrap_ci with the same seed: each mean's interval is
    # the one the paired resamples give it
    lo, hi = bootstrap_ci(values, groups, 300, seed=4)
    zero = paired_bootstrap(values, np.zeros(6), groups, 300, seed=4)
    assert zero["difference_ci95"] == pytest.approx([lo, hi])
    assert zero["ratio"] is None and zero["ratio_ci95"] is None
    with pytest.raises(ValueError, match="one length"):
        paired_bootstrap(values, values[:5], groups)
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap(values, np.full(6, np.nan), groups)


def test_paired_interval_is_narrower_than_the_two_marginal_ones():
    """Two scorers that rank alike but for one user: their marginal intervals overlap, the
    paired one sees only the difference that is there."""
    rng = np.random.default_rng(0)
    base = rng.random(200)
    better = base + np.where(np.arange(200) % 4 == 0, 0.05, 0.0)
    out = paired_bootstrap(better, base, n=500)
    assert out["share_better"] == 1.0 and out["difference_ci95"][0] > 0
    lo_better, _ = bootstrap_ci(better, n=500)
    _, hi_base = bootstrap_ci(base, n=500)
    assert lo_better < hi_base  # the marginal intervals overlap


def test_compare_pairs_two_evaluations_of_the_same_users():
    tables = hand_tables()
    _, index = build_graph(tables)
    good = evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", (3,), ("all",),
                    keep_values=True, bootstrap=100)["all"]
    flat = evaluate(fixed_scorer(index, {}), index, tables, "s", "test", (3,), ("all",),
                    keep_values=True, bootstrap=100)["all"]
    assert list(good["values"]["users"]) == ["u1", "u2", "u3", "u4"]
    assert good["values"]["mrr"].mean() == pytest.approx(good["mrr"])
    out = compare(good, flat, "mrr", bootstrap=100)
    assert out["difference"] == pytest.approx(good["mrr"] - flat["mrr"])
    assert out["ratio"] == pytest.approx(good["mrr"] / flat["mrr"])
    # with the same seed, a result against a constant-zero baseline gives its own ci95
    lo, hi = good["ci95"]["mrr"]
    zero = {"values": {**flat["values"], "mrr": np.zeros(4)}}
    assert compare(good, zero, "mrr", bootstrap=100)["difference_ci95"] == pytest.approx(
        [lo, hi])
    sampled = evaluate(fixed_scorer(index, SCORES), index, tables, "s", "test", (3,),
                       ("all",), Protocol("sampled", negatives=5, exclude_own=False,
                                                   average="rows"),
                       keep_values=True)["all"]
    assert len(sampled["values"]["users"]) == sampled["rows"] == 4
    with pytest.raises(ValueError, match="same test users"):
        compare(good, {"values": {**flat["values"], "users": flat["values"]["users"][::-1]}},
                "mrr")
    with pytest.raises(ValueError, match="keep_values=True"):
        compare(good, {k: v for k, v in flat.items() if k != "values"}, "mrr")
    with pytest.raises(ValueError, match="no metric 'ndcg@10'"):
        compare(good, flat, "ndcg@10")
