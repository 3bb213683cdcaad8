"""``benchmarks.ml1m_seeds.averaged``: the seed ensemble weighs every model's scores alike."""

import torch

from benchmarks.ml1m_seeds import averaged


class Fixed:
    """A scorer whose score of user ``u`` and item ``i`` is ``table[u, i]``."""

    def __init__(self, table: torch.Tensor):
        self.table = table

    def score(self, users, items):
        return self.table[users][:, items]

    def score_pairs(self, users, items):
        return self.table[users, items]


def test_the_average_of_several_scorers_is_the_mean_of_their_scores():
    gen = torch.Generator().manual_seed(0)
    tables = [torch.randn(5, 7, generator=gen) for _ in range(4)]
    users, items = torch.tensor([0, 3, 4]), torch.tensor([6, 1, 2, 0])
    for n in (1, 2, 3, 4):
        mean = torch.stack(tables[:n]).mean(0)
        scorer = averaged([Fixed(t) for t in tables[:n]])
        assert torch.allclose(scorer.score(users, items), mean[users][:, items], atol=1e-6)
        assert torch.allclose(scorer.score_pairs(users, items[:3]),
                              mean[users, items[:3]], atol=1e-6)
