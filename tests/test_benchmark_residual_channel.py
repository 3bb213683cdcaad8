"""The leave-user-out item-kNN channel of ``benchmarks.residual_channel`` against a brute-force
count: a training pair must see item-kNN's score as if the pair were held out."""

import numpy as np
import scipy.sparse as sp
import torch

from benchmarks.residual_channel import KnnChannel


def brute_force(history: np.ndarray, user: int, item: int, leave_out: bool) -> float:
    """sum over the user's items j of c(j, item) / sqrt(n_j n_item), with c counting co-users
    (without ``user`` and without j = item when ``leave_out``)."""
    n = history.sum(0)
    others = np.delete(history, user, axis=0) if leave_out else history
    total = 0.0
    for j in np.flatnonzero(history[user]):
        if leave_out and j == item:
            continue
        shared = float((others[:, j] * others[:, item]).sum())
        total += shared / np.sqrt(n[j] * n[item])
    return total


def test_leave_user_out_scores_equal_a_recount_without_the_user():
    gen = np.random.default_rng(3)
    history = (gen.random((12, 9)) < 0.4).astype(float)
    history[:, history.sum(0) == 0] = 0
    history[0, :] = 0  # a user without history scores 0 everywhere
    channel = KnnChannel(sp.csr_matrix(history))
    users, items = torch.arange(12), torch.arange(9)
    for leave_out in (False, True):
        block = channel.block(users, items, leave_out).numpy()
        expected = np.array([[brute_force(history, u, i, leave_out and history[u, i] > 0)
                              if history[:, i].sum() else 0.0 for i in range(9)]
                             for u in range(12)])
        np.testing.assert_allclose(block, expected, rtol=1e-5, atol=1e-6)
        pairs_u = users.repeat_interleave(9)
        pairs_i = items.repeat(12)
        diagonal = channel.diagonal(pairs_u, pairs_i, leave_out).numpy().reshape(12, 9)
        np.testing.assert_allclose(diagonal, expected, rtol=1e-5, atol=1e-6)
    assert np.all(block[0] == 0)
    # a held-out pair's score never counts its own user: leave out changes exactly the pairs
    # in the history
    plain = channel.block(users, items, False).numpy()
    changed = ~np.isclose(plain, block)
    assert np.all(history[changed] > 0)


def test_sampled_pairs_match_the_block():
    gen = np.random.default_rng(0)
    history = (gen.random((8, 15)) < 0.3).astype(float)
    channel = KnnChannel(sp.csr_matrix(history))
    users = torch.tensor([1, 4, 6])
    items = torch.tensor([[0, 3, 14], [3, 3, 2], [9, 0, 1]])
    block = channel.block(users, torch.arange(15), False)
    np.testing.assert_allclose(channel.pairs(users, items).numpy(),
                               torch.gather(block, 1, items).numpy(), rtol=1e-6)
