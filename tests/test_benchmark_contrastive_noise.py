"""The contrastive-noise experiment (benchmarks/contrastive_noise.py) changes training only
inside its ``with``, is the default training at zero noise and weight, and its InfoNCE is the
textbook one."""

import math

import pytest
import torch

from benchmarks.contrastive_noise import info_nce, patched
from graphrec.models.hetero_lightgcn import HeteroLightGCN
from graphrec.strategies import run_strategy
from graphrec.training.config import TrainConfig
from graphrec.training.trainer import PairObjective
from loaders.synthetic import SyntheticConfig, generate_synthetic


def test_info_nce_matches_a_direct_count():
    gen = torch.Generator().manual_seed(0)
    a, b = torch.randn(4, 3, generator=gen), torch.randn(4, 3, generator=gen)
    a_n, b_n = a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)
    expected = sum(-math.log(math.exp(float(a_n[i] @ b_n[i]) / 0.2)
                             / sum(math.exp(float(a_n[i] @ b_n[j]) / 0.2) for j in range(4)))
                   for i in range(4)) / 4
    assert float(info_nce(a, b, 0.2)) == pytest.approx(expected, rel=1e-5)


def test_the_patch_is_local_and_changes_nothing_at_zero():
    tables = generate_synthetic(SyntheticConfig(n_users=150)).tables
    config = TrainConfig(epochs=2, dim=16, seed=0)
    plain = run_strategy("joint", tables, "cosmetics", config, progress=False)
    methods = (HeteroLightGCN.propagate, PairObjective.backward)
    with patched(0.0, 0.0, 0.2):
        zero = run_strategy("joint", tables, "cosmetics", config, progress=False)
    with patched(0.2, 0.5, 0.2):
        noisy = run_strategy("joint", tables, "cosmetics", config, progress=False)
    with pytest.raises(RuntimeError), patched(0.1, 0.1, 0.2):
        raise RuntimeError("a failing run")
    assert (HeteroLightGCN.propagate, PairObjective.backward) == methods
    assert [r["loss"] for r in zero.history] == pytest.approx(
        [r["loss"] for r in plain.history], rel=1e-6)
    assert zero.valid_score == pytest.approx(plain.valid_score, abs=1e-9)
    assert noisy.valid_score != pytest.approx(plain.valid_score, abs=1e-6)
