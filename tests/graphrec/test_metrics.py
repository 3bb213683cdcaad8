import numpy as np
import pytest
import torch

from graphrec.evaluation.metrics import full_ranks, user_metrics


def rank_metrics(scores, positives, exclude, k):
    """Metrics of one user under full ranking (what the harness computes per user)."""
    per_user = user_metrics(full_ranks(scores, positives, exclude), (k,))
    return {name: float(v.mean()) for name, v in per_user.items()}


def test_hand_computed_ranking():
    # candidates 0..4; user positives {1, 3}; scores rank 3 first, 1 third
    scores = torch.tensor([[0.5, 0.3, 0.1, 0.9, 0.4]])
    m = rank_metrics(scores, [np.array([1, 3])], [np.array([], dtype=int)], k=2)
    # positive 3: rank 0; positive 1: rank 2 among non-positives {0.5, 0.4, 0.1} -> 2
    assert m["recall@2"] == pytest.approx(0.5)
    assert m["ndcg@2"] == pytest.approx(1.0 / (1 + 1 / np.log2(3)))
    assert m["hr@2"] == 1.0 and m["mrr"] == 1.0


def test_excluded_items_do_not_compete_and_ties_count_against():
    scores = torch.tensor([[0.9, 0.2, 0.2]])
    m = rank_metrics(scores, [np.array([1])], [np.array([0])], k=1)
    assert m["recall@1"] == 0.0  # tie with item 2 is pessimistic
    m = rank_metrics(torch.tensor([[0.9, 0.3, 0.2]]), [np.array([1])], [np.array([0])], k=1)
    assert m["recall@1"] == 1.0 and m["ndcg@1"] == 1.0


@pytest.mark.parametrize("ties", ["pessimistic", "optimistic"])
def test_full_ranks_equal_a_direct_count_with_many_ties(ties):
    scores = torch.randint(0, 5, (30, 50), generator=torch.Generator().manual_seed(0)).float()
    rng = np.random.default_rng(0)
    positives = [rng.choice(50, 3, replace=False) for _ in range(30)]
    exclude = [np.setdiff1d(rng.choice(50, 5, replace=False), p) for p in positives]
    ranks = full_ranks(scores, positives, exclude, ties)
    for row in range(30):
        competitors = [c for c in range(50)
                       if c not in set(positives[row]) | set(exclude[row])]
        for p, rank in zip(positives[row], ranks[row], strict=True):
            above = [scores[row, c] > scores[row, p] if ties == "optimistic"
                     else scores[row, c] >= scores[row, p] for c in competitors]
            assert rank == sum(above)
