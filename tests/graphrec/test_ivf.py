"""Approximate (inverted-file) search: exact when every cell is probed, close when few are."""

import pytest
import torch

from graphrec.serving.ivf import ClusterIndex, default_clusters


def _exact(queries, items, k, exclude=None):
    scores = queries @ items.T
    if exclude is not None:
        scores[exclude] = -torch.inf
    return torch.topk(scores, k, dim=1)


def test_probing_every_cell_is_exact_search_with_exclusions():
    gen = torch.Generator().manual_seed(0)
    items, queries = torch.randn(500, 8, generator=gen), torch.randn(40, 8, generator=gen)
    index = ClusterIndex(items, clusters=20)
    owner = torch.randint(0, 40, (300,), generator=gen)
    cols = torch.randint(0, 500, (300,), generator=gen)
    values, positions = index.search(queries, 10, probes=20, exclude=(owner, cols))
    top = _exact(queries, items, 10, (owner, cols))
    assert torch.allclose(values, top.values, atol=1e-5)
    assert torch.equal(positions, top.indices)
    banned = set(zip(owner.tolist(), cols.tolist(), strict=True))
    assert not {(q, p) for q in range(40) for p in positions[q].tolist()} & banned


def test_every_item_sits_in_exactly_one_cell_and_builds_repeat():
    items = torch.randn(1000, 16, generator=torch.Generator().manual_seed(1))
    index = ClusterIndex(items)
    assert index.clusters == default_clusters(1000) == 32
    members = torch.cat(index.members)
    assert sorted(members.tolist()) == list(range(1000))
    for cell, m in enumerate(index.members):
        assert bool((index.cell[m] == cell).all())
        assert index.place[m].tolist() == list(range(len(m)))
        assert torch.equal(index.vectors[cell], items[m].T)
    again = ClusterIndex(items)
    assert torch.equal(index.centroids, again.centroids)


def test_few_probes_find_the_top_items_of_clustered_data():
    gen = torch.Generator().manual_seed(2)
    centres = torch.nn.functional.normalize(torch.randn(30, 32, generator=gen), dim=1)
    items = torch.nn.functional.normalize(
        centres.repeat_interleave(100, 0) + 0.1 * torch.randn(3000, 32, generator=gen), dim=1)
    queries = torch.nn.functional.normalize(
        centres[torch.randint(0, 30, (200,), generator=gen)]
        + 0.1 * torch.randn(200, 32, generator=gen), dim=1)
    index = ClusterIndex(items, clusters=55)
    _, positions = index.search(queries, 10, probes=4)
    exact = _exact(queries, items, 10).indices
    recall = sum(len(set(a.tolist()) & set(b.tolist()))
                 for a, b in zip(positions, exact, strict=True)) / exact.numel()
    assert recall >= 0.9


def test_fewer_reachable_items_than_k_pad_with_minus_one():
    items = torch.eye(4)
    index = ClusterIndex(items, clusters=4)
    values, positions = index.search(torch.ones(1, 4), 6, probes=1)
    assert positions[0, 0] >= 0 and (positions[0, 1:] == -1).all()
    assert torch.isinf(values[0, 1:]).all()
    with pytest.raises(ValueError, match="probes must be >= 1"):
        index.search(torch.ones(1, 4), 2, probes=0)
    with pytest.raises(ValueError, match="non-empty"):
        ClusterIndex(torch.empty(0, 4))


def _reference(scores, k):
    """Sort each row by (score descending, column ascending) in plain Python."""
    rows = [sorted(range(len(r)), key=lambda c, r=r: (-r[c], c))[:k] for r in scores.tolist()]
    return torch.tensor(rows, dtype=torch.long)


@pytest.mark.parametrize("seed", range(5))
def test_top_k_breaks_ties_by_position_in_exact_and_approximate_search(seed):
    """Few distinct values (many exact ties, excluded items at -inf): both paths return the
    reference order, at the cut of the top k as well as within it."""
    from graphrec.serving.ranking import merge_top_k, top_k

    gen = torch.Generator().manual_seed(seed)
    scores = torch.randint(0, 4, (30, 60), generator=gen).float()
    scores[torch.rand(30, 60, generator=gen) < 0.2] = -torch.inf
    values, columns = top_k(scores, 7)
    assert torch.equal(columns, _reference(scores, 7))
    assert torch.equal(values, scores.gather(1, columns))
    # partial lists in any order, with empty slots: the merge gives the same answer
    perm = torch.randperm(60, generator=gen)
    padded = torch.cat([scores[:, perm], torch.full((30, 3), -torch.inf)], 1)
    positions = torch.cat([perm.expand(30, -1), torch.full((30, 3), -1)], 1)
    merged_values, merged_positions = merge_top_k(padded, positions, 7)
    assert torch.equal(merged_positions, columns) and torch.equal(merged_values, values)
    # items with identical embeddings tie exactly: probing every cell equals exact serving
    items = torch.randn(12, 4, generator=gen).repeat(5, 1)  # 60 items, each vector 5 times
    queries = torch.randn(9, 4, generator=gen)
    index = ClusterIndex(items, clusters=6)
    _, found = index.search(queries, 8, probes=6)
    assert torch.equal(found, _reference(queries @ items.T, 8))
    assert top_k(scores[:, :3], 7)[1].shape == (30, 3)
