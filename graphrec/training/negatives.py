"""How negatives are drawn for training pairs (the trainer's negative sampler); the pairs
themselves, :class:`~graphrec.data.pairs.TrainingPairs`, are data."""

from __future__ import annotations

import numpy as np

from graphrec.errors import ConfigError


class UniformNegatives:
    """``count`` negatives per pair, uniform over the pool of the pair's own scenario (with
    replacement; a negative may be another positive of the user, as in BPR's usual sampler).

    Args:
        count: negatives per pair.
    """

    def __init__(self, count: int = 1):
        if count < 1:
            raise ConfigError(f"negatives must be >= 1, not {count}")
        self.count = count

    def draw(self, pools: list[np.ndarray], pool_of_pair: np.ndarray,
             gen: np.random.Generator) -> np.ndarray:
        """``[P]`` item indices (one negative per pair) or ``[P, count]``, drawn pool by pool
        from ``gen``."""
        neg = np.empty((len(pool_of_pair), self.count), dtype=np.int64)
        for p, pool in enumerate(pools):
            mask = pool_of_pair == p
            neg[mask] = pool[gen.integers(len(pool), size=(int(mask.sum()), self.count))]
        return neg[:, 0] if self.count == 1 else neg


class SharedNegatives:
    """``count`` negatives per scenario shared by every pair of a batch (uniform over the
    scenario's pool, with replacement), drawn afresh for each batch. A scenario with at most
    ``count`` items gives each of its items once instead: the softmax is then the full one,
    at a smaller cost.

    One ``[B, count]`` score matrix then costs a single matrix product instead of a gather of
    ``B x count`` item rows, so hundreds or thousands of negatives per pair cost little more
    than one (as in-batch and shared-sample softmax training does; Wu et al., TOIS 2024). A
    pair only competes with the negatives of its own scenario.

    Args:
        count: negatives per scenario and batch.
    """

    def __init__(self, count: int = 1024):
        if count < 1:
            raise ConfigError(f"negatives must be >= 1, not {count}")
        self.count = count

    def draw(self, pools: list[np.ndarray], gen: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray]:
        """``(items, pool)``: ``[M]`` item indices (``min(count, len(pool))`` per scenario) and
        the scenario (index into ``pools``) each was drawn from."""
        drawn = [pool if len(pool) <= self.count else pool[gen.integers(len(pool),
                                                                        size=self.count)]
                 for pool in pools]
        return (np.concatenate(drawn),
                np.repeat(np.arange(len(pools)), [len(d) for d in drawn]))
