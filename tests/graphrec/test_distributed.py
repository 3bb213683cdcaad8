"""Data-parallel training: two torchrun processes (gloo) reach what one process reaches."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app

#: largest test NDCG@20 difference accepted between 1 and 2 processes (summation order only)
TOLERANCE = 0.005

def _config(strategy: str, n_users: int, epochs: int, extra: str = "") -> str:
    """A run config on the synthetic data set, target cosmetics, 16 dims, seed 0."""
    return (f'[data]\nloader = "synthetic"\noptions = {{ n_users = {n_users} }}\n[train]\n'
            f'target = "cosmetics"\nstrategy = "{strategy}"\nepochs = {epochs}\ndim = 16\n'
            f'seed = 0\n{extra}')


CONFIG = _config("joint", 300, 6, "batch_size = 1024\n")
META = _config("reptile", 150, 2, "[strategy.reptile]\niterations = 10\neval_every = 5\n")


def _train(tmp_path: Path, processes: int, text: str = CONFIG) -> Path:
    """``graphrec train`` of ``text`` under ``processes`` torchrun processes (1: in this
    process, through the CLI, on one thread as each torchrun process runs); the run
    directory."""
    config = tmp_path / "c.toml"
    config.write_text(text)
    runs = tmp_path / f"runs{processes}"
    args = ["train", "-c", str(config), "--runs", str(runs), "--quiet"]
    if processes == 1:  # the reference: the same command without a launcher, imports shared
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            done = CliRunner().invoke(app, args)
        finally:
            torch.set_num_threads(threads)
        assert done.exit_code == 0, done.output
    else:
        launcher = [sys.executable, "-m", "torch.distributed.run", "--standalone",
                    "--nproc_per_node", str(processes)]
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        done = subprocess.run([*launcher, "-m", "graphrec", *args], capture_output=True,
                              text=True, env=env, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
    (run_dir,) = list(runs.iterdir())  # one run directory: only rank 0 writes
    return run_dir


@pytest.mark.heavy
def test_two_processes_match_one(tmp_path):
    one, two = _train(tmp_path, 1), _train(tmp_path, 2)
    m1 = json.loads((one / "metrics.json").read_text())
    m2 = json.loads((two / "metrics.json").read_text())
    assert m1["best_epoch"] == m2["best_epoch"]
    for subset in ("all", "cold_users", "cold_items"):
        assert abs(m1["test"][subset]["ndcg@20"] - m2["test"][subset]["ndcg@20"]) <= TOLERANCE
    w1 = torch.load(one / "weights.pt", weights_only=True)
    w2 = torch.load(two / "weights.pt", weights_only=True)
    for name, value in w1.items():
        assert torch.allclose(value, w2[name], atol=1e-4), name
    # training moved the weights: the comparison is not between two initialisations
    assert m1["history"][-1]["loss"] < 0.9 * m1["history"][0]["loss"]


@pytest.mark.heavy
def test_meta_learning_under_two_processes_matches_one(tmp_path):
    # one task per meta-step: the second process has no task and contributes zero gradients;
    # it must still join every reduction (a process that skipped them would hang the run)
    one, two = _train(tmp_path, 1, META), _train(tmp_path, 2, META)
    m1 = json.loads((one / "metrics.json").read_text())
    m2 = json.loads((two / "metrics.json").read_text())
    assert m1["best_epoch"] == m2["best_epoch"]
    assert abs(m1["test"]["all"]["ndcg@20"] - m2["test"]["all"]["ndcg@20"]) <= TOLERANCE
