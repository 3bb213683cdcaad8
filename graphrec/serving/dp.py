"""Differential privacy for released user embeddings (Gaussian mechanism).

What is protected: each exported user vector, as a function of that user's data. The vector is
first scaled to unit L2 norm (a user's ranking depends only on the direction of its vector, so
this costs no accuracy) and then Gaussian noise is added. Two neighbouring inputs (the user's
data changed arbitrarily) give unit vectors at most 2 apart, so the L2 sensitivity is 2, and the
noise scale is the smallest that makes the release (epsilon, delta)-DP by the analytic Gaussian
mechanism (Balle & Wang, ICML 2018, Theorem 8), valid for every epsilon > 0, unlike the classic
``sqrt(2 ln(1.25/delta)) / epsilon`` bound that needs epsilon < 1.

What is not covered: the item embeddings (released as trained) and the influence a user's
interactions have on *other* users' vectors through the shared item side; for that, training
itself would have to be private (DP-SGD), which full-graph message passing does not fit
per-example gradient clipping.
"""

from __future__ import annotations

import math

import torch
from scipy.stats import norm
from torch import Tensor

from graphrec.errors import ConfigError

#: L2 sensitivity of a unit-norm vector
SENSITIVITY = 2.0


def analytic_gaussian_sigma(epsilon: float, delta: float, sensitivity: float = SENSITIVITY
                            ) -> float:
    """Smallest sigma such that adding ``N(0, sigma^2 I)`` to a query of L2 sensitivity
    ``sensitivity`` is (epsilon, delta)-DP (Balle & Wang 2018, Theorem 8; bisection)."""
    if not epsilon > 0:
        raise ConfigError(f"DP epsilon must be > 0, not {epsilon}")
    if not 0 < delta < 1:
        raise ConfigError(f"DP delta must be in (0, 1), not {delta}")

    def privacy_loss_delta(sigma: float) -> float:
        a = sensitivity / (2 * sigma)
        b = epsilon * sigma / sensitivity
        return float(norm.cdf(a - b) - math.exp(epsilon) * norm.cdf(-a - b))

    lo, hi = 1e-6, 1.0
    while privacy_loss_delta(hi) > delta:
        hi *= 2
    for _ in range(100):
        mid = (lo + hi) / 2
        if privacy_loss_delta(mid) > delta:
            lo = mid
        else:
            hi = mid
    return hi


def privatise_embeddings(vectors: Tensor, epsilon: float, delta: float = 1e-5,
                         seed: int | None = None) -> Tensor:
    """Unit-normalise each row of ``vectors`` (``[n, d]``) and add Gaussian noise calibrated
    to (epsilon, delta); returns a new ``[n, d]`` tensor."""
    sigma = analytic_gaussian_sigma(epsilon, delta)
    unit = torch.nn.functional.normalize(vectors.float(), dim=1)
    gen = torch.Generator(device="cpu")
    if seed is None:
        gen.seed()
    else:
        gen.manual_seed(seed)
    noise = torch.randn(unit.shape, generator=gen) * sigma
    return unit + noise.to(unit.device)
