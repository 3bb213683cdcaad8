"""The EASE-neighbour experiment's edges against a brute-force choice over EASE's weights."""

import numpy as np
import scipy.sparse as sp
import torch

from benchmarks.ease_neighbours import ease_neighbour_edges
from graphrec.evaluation.baselines import ease_weights


def test_each_item_links_to_the_items_with_the_largest_positive_weights_per_scenario():
    rng = np.random.default_rng(3)
    dense = (rng.random((30, 10)) < 0.35).astype(np.float32)
    dense[:, 9] = 0.0  # an item nobody took: no edge from or to it
    users, items = np.nonzero(dense)
    scenario = np.array([0] * 5 + [1] * 5)
    edges = ease_neighbour_edges(torch.as_tensor(np.stack([users, items])), 30, scenario, k=2,
                                 min_users=2, l2=3.0, chunk=4)
    weights = ease_weights(sp.csr_matrix(dense[:, :9]), 3.0)
    shared = dense.T @ dense
    expected = set()
    for i in range(9):
        for group in (range(5), range(5, 9)):
            ranked = sorted((j for j in group if j != i and shared[i, j] >= 2
                             and weights[j, i] > 0), key=lambda j: (-weights[j, i], j))
            expected |= {(i, j) for j in ranked[:2]}
    got = set(map(tuple, edges.t().tolist()))
    assert got == expected and len(got) > 0
