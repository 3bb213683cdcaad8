"""``benchmarks.patience``: replaying a validation curve keeps what early stopping keeps."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from benchmarks.patience import replay
from graphrec.training.stopping import EarlyStopping


@pytest.mark.parametrize("patience", [1, 2, 5, None])
def test_a_replay_keeps_the_epoch_early_stopping_keeps_and_stops_where_it_stops(patience):
    rng = np.random.default_rng(0)
    model = torch.nn.Linear(1, 1)
    for _ in range(50):
        scores = np.round(rng.random(int(rng.integers(1, 30))), 2)  # ties happen
        curve = [[epoch, float(s)] for epoch, s in enumerate(scores, start=1)]
        stopper, last = EarlyStopping(model, patience), 0
        for epoch, score in curve:
            last = epoch
            if stopper.update(score, epoch, model):
                break
        assert replay(curve, patience) == (stopper.best_epoch, stopper.best_score, last)


def test_an_empty_curve_is_refused():
    with pytest.raises(ValueError, match="empty"):
        replay([], 5)


def test_the_command_marks_rows_whose_kept_model_a_shorter_patience_would_change(tmp_path):
    rows = [{"domain": "game", "method": "path-gnn", "best_epoch": 9,
             "valid_curve": [[1, 0.1], [2, 0.3], [3, 0.2], [4, 0.2], [5, 0.25], [6, 0.1],
                             [7, 0.2], [8, 0.3], [9, 0.4], [10, 0.1]]},
            {"domain": "video", "method": "path-gnn", "best_epoch": 2,
             "valid_curve": [[1, 0.1], [2, 0.3], [3, 0.2]]},
            {"domain": "video", "method": "item-knn", "best_epoch": 0, "valid_curve": []}]
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"rows": rows}))
    out = subprocess.run([sys.executable, "-m", "benchmarks.patience", str(path),
                          "--patience", "5"], capture_output=True, text=True, check=True).stdout
    lines = [line for line in out.splitlines() if "path-gnn" in line]
    assert lines == ["| run | game path-gnn | 9 of 10, 0.4000 | 2, 7, 0.3000 | no |",
                     "| run | video path-gnn | 2 of 3, 0.3000 | 2, 3, 0.3000 | yes |"]
    assert "item-knn" not in out
