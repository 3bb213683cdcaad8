"""Ranking metrics against their standard definitions, an independent implementation
(scikit-learn's ``ndcg_score``) and a brute-force mean over tie orderings."""

import itertools

import numpy as np
import pytest
import torch
from sklearn.metrics import ndcg_score

from graphrec.errors import ConfigError, TrainingError
from graphrec.evaluation.metrics import (
    TIES,
    full_ranks,
    sampled_ranks,
    user_metrics,
    without_excluded,
)


def metrics(scores, positives, exclude=None, ks=(10,), ties="expected"):
    scores = torch.as_tensor(np.asarray(scores, dtype=np.float32))
    positives = [np.asarray(p) for p in positives]
    exclude = exclude or [np.array([], dtype=np.int64)] * len(positives)
    return user_metrics(full_ranks(scores, positives, exclude), ks, ties)


def test_several_positives_compete_with_each_other():
    # the case that used to give ranks [0, 0] and NDCG@10 = 1.226
    m = metrics([[0.9, 0.8, 0.1, 0.0]], [[0, 1]])
    assert m["ndcg@10"][0] == pytest.approx(1.0) and m["recall@10"][0] == 1.0
    m = metrics([[0.9, 0.3, 0.1, 0.5]], [[1, 2]], ks=(2,))
    assert m["recall@2"][0] == 0.0 and m["hr@2"][0] == 0.0 and m["mrr"][0] == pytest.approx(1 / 3)
    m = metrics([[0.5, 0.3, 0.1, 0.9, 0.4]], [[1, 3]], ks=(2,))
    assert m["recall@2"][0] == pytest.approx(0.5)  # item 3 first, item 1 fourth
    assert m["ndcg@2"][0] == pytest.approx(1.0 / (1 + 1 / np.log2(3)))


def test_excluded_items_do_not_compete():
    m = metrics([[0.9, 0.3, 0.2]], [[1]], [np.array([0])], ks=(1,))
    assert m["recall@1"][0] == 1.0 and m["ndcg@1"][0] == 1.0


@pytest.mark.parametrize("seed", range(5))
def test_exclusion_sets_exactly_the_excluded_non_positives_to_minus_infinity(seed):
    rng = np.random.default_rng(seed)
    scores = torch.as_tensor(rng.random((6, 12)), dtype=torch.float32)
    positives = [rng.choice(12, rng.integers(1, 4), replace=False) for _ in range(6)]
    exclude = [rng.choice(12, rng.integers(0, 6), replace=False) for _ in range(6)]
    exclude[2] = np.array([], dtype=np.int64)  # a user with nothing to exclude
    out = without_excluded(scores, positives, exclude)
    for row in range(6):  # the definition, one user at a time
        gone = set(exclude[row]) - set(positives[row])
        for col in range(12):
            expected = -np.inf if col in gone else float(scores[row, col])
            assert float(out[row, col]) == expected
    assert not torch.isinf(scores).any()  # the input is left as it was


def test_non_finite_scores_are_an_error():
    with pytest.raises(TrainingError, match="non-finite"):
        metrics([[float("nan"), 0.2, 0.1]], [[0]])
    with pytest.raises(TrainingError, match="non-finite"):
        sampled_ranks(torch.tensor([0.5]), torch.tensor([[float("inf"), 0.1]]))
    with pytest.raises(ConfigError, match="Could not resolve tie rule 'fair'"):
        metrics([[0.1, 0.2]], [[0]], ties="fair")


@pytest.mark.parametrize("seed", range(20))
def test_ndcg_equals_scikit_learn_without_ties(seed):
    rng = np.random.default_rng(seed)
    n_users, n_items = 7, 40
    scores = rng.normal(size=(n_users, n_items))
    positives = [rng.choice(n_items, rng.integers(1, 12), replace=False)
                 for _ in range(n_users)]
    exclude = [np.setdiff1d(rng.choice(n_items, 5, replace=False), p) for p in positives]
    for ties in TIES:  # without ties every rule gives the same ranks
        m = metrics(scores, positives, exclude, ks=(5, 10), ties=ties)
        for u in range(n_users):
            keep = np.setdiff1d(np.arange(n_items), exclude[u])
            relevant = np.isin(keep, positives[u]).astype(float)
            for k in (5, 10):
                expected = ndcg_score([relevant], [scores[u, keep]], k=k)
                assert m[f"ndcg@{k}"][u] == pytest.approx(expected, abs=1e-9)
                top = keep[np.argsort(-scores[u, keep])[:k]]
                hits = np.isin(top, positives[u]).sum()
                assert m[f"recall@{k}"][u] == pytest.approx(hits / len(positives[u]))
                assert m[f"hr@{k}"][u] == float(hits > 0)


def _brute_force(scores, positives, k):
    """Mean of each metric over every ordering of the tied candidates (small cases)."""
    values = {"recall": [], "ndcg": [], "hr": [], "mrr": []}
    groups = {}
    for c, s in enumerate(scores):
        groups.setdefault(s, []).append(c)
    ordered_groups = [groups[s] for s in sorted(groups, reverse=True)]
    ideal = sum(1 / np.log2(r + 2) for r in range(min(len(positives), k)))
    for perms in itertools.product(*(itertools.permutations(g) for g in ordered_groups)):
        order = [c for perm in perms for c in perm]
        ranks = [order.index(p) for p in positives]
        values["recall"].append(sum(r < k for r in ranks) / len(positives))
        values["ndcg"].append(sum(1 / np.log2(r + 2) for r in ranks if r < k) / ideal)
        values["hr"].append(float(min(ranks) < k))
        values["mrr"].append(1 / (min(ranks) + 1))
    return {name: float(np.mean(v)) for name, v in values.items()}


def _metrics_of_order(order, positives, k):
    """Each metric of one ordering of the candidates (``order``: candidates, best first)."""
    ranks = [list(order).index(p) for p in positives]
    ideal = sum(1 / np.log2(r + 2) for r in range(min(len(positives), k)))
    return {"recall": sum(r < k for r in ranks) / len(positives),
            "ndcg": sum(1 / np.log2(r + 2) for r in ranks if r < k) / ideal,
            "hr": float(min(ranks) < k), "mrr": 1 / (min(ranks) + 1)}


@pytest.mark.parametrize("seed", range(12))
def test_expected_ties_equal_the_mean_over_all_orderings(seed):
    """Three users in one call (metrics are computed for all users at once), each against
    its own brute force."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=(3, 7)).astype(float)  # many ties, two or three groups
    positives = [rng.choice(7, rng.integers(1, 4), replace=False) for _ in range(3)]
    k = int(rng.integers(1, 5))
    m = metrics(scores, positives, ks=(k,))
    for u in range(3):
        truth = _brute_force(list(scores[u]), list(positives[u]), k)
        for name in ("recall", "ndcg", "hr"):
            assert m[f"{name}@{k}"][u] == pytest.approx(truth[name], abs=1e-9), name
        assert m["mrr"][u] == pytest.approx(truth["mrr"], abs=1e-9)


@pytest.mark.parametrize("seed", range(8))
def test_deterministic_rules_score_their_ordering(seed):
    """Pessimistic: each positive after every tied non-positive; optimistic: before; tied
    positives in index order. Several users in one call, each against that ordering."""
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=(4, 9)).astype(float)
    positives = [np.sort(rng.choice(9, rng.integers(1, 5), replace=False)) for _ in range(4)]
    for ties, positives_last in (("pessimistic", True), ("optimistic", False)):
        m = metrics(scores, positives, ks=(1, 3), ties=ties)
        for u in range(4):
            is_pos = np.isin(np.arange(9), positives[u])
            key = is_pos if positives_last else ~is_pos  # lexsort: False first
            order = np.lexsort((np.arange(9), key, -scores[u]))
            for k in (1, 3):
                truth = _metrics_of_order(order, positives[u], k)
                for name in ("recall", "ndcg", "hr"):
                    assert m[f"{name}@{k}"][u] == pytest.approx(truth[name], abs=1e-12)
            assert m["mrr"][u] == pytest.approx(truth["mrr"], abs=1e-12)


@pytest.mark.parametrize("seed", range(10))
def test_every_metric_lies_in_the_unit_interval_under_every_tie_rule(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 4, size=(6, 30)).astype(float)
    positives = [rng.choice(30, rng.integers(1, 10), replace=False) for _ in range(6)]
    for ties in TIES:
        m = metrics(scores, positives, ks=(1, 5, 20), ties=ties)
        for name, values in m.items():
            assert ((values >= 0) & (values <= 1 + 1e-12)).all(), (ties, name)


def test_a_constant_scorer_gets_exactly_chance_under_expected_ties():
    # one positive among 100 equal scores: expected rank is uniform, so HR@10 = 0.1
    m = metrics([np.zeros(100)], [[17]], ks=(10,))
    assert m["hr@10"][0] == pytest.approx(0.1) and m["recall@10"][0] == pytest.approx(0.1)
    assert m["mrr"][0] == pytest.approx(np.mean(1 / np.arange(1, 101)))
    pessimistic = metrics([np.zeros(100)], [[17]], ks=(10,), ties="pessimistic")
    optimistic = metrics([np.zeros(100)], [[17]], ks=(10,), ties="optimistic")
    assert pessimistic["hr@10"][0] == 0.0 and optimistic["hr@10"][0] == 1.0


def test_sampled_rows_count_ties_by_the_chosen_rule():
    pos = torch.tensor([0.5, 0.9])
    neg = torch.tensor([[0.5, 0.7, 0.1], [0.2, 0.2, 0.2]])
    ranks = sampled_ranks(pos, neg)
    assert [int(r.above[0]) for r in ranks] == [1, 0] and [int(r.tied[0]) for r in ranks] == [1, 0]
    assert user_metrics(ranks, (1,), "optimistic")["hr@1"].tolist() == [0.0, 1.0]
    assert user_metrics(ranks, (2,), "expected")["hr@2"].tolist() == [0.5, 1.0]
    assert user_metrics(ranks, (2,), "pessimistic")["hr@2"].tolist() == [0.0, 1.0]
