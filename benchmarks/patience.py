"""What a shorter patience would have kept: replays the validation curves of results rows.

A run that stops later follows the same training path as one that stops sooner (same code,
seed, machine and versions), so the model a patience ``p`` would have kept can be read from
the longer run's validation curve (``valid_curve`` of a row, written by ``benchmarks.cdrib``,
``benchmarks.xmarket``, ``benchmarks.ml1m`` and ``benchmarks.cold_items``)::

    python -m benchmarks.patience benchmarks/results/cdrib_game_video_<tag>.json --patience 5

For each trained row: the epoch it kept and its validation score, the epoch and score the
replayed patience keeps and where it would have stopped, and whether that is the same model
(then its test metrics are the row's own; otherwise they need a run at that patience).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from graphrec.training.stopping import EarlyStopping


def replay(curve: list[list], patience: int | None) -> tuple[int, float, int]:
    """:class:`graphrec.training.stopping.EarlyStopping` replayed over ``curve``
    (``[[epoch, score], ...]`` in order) with ``patience`` (None: never stop).

    Returns:
        ``(kept epoch, its score, last epoch evaluated)``.
    """
    if not curve:
        raise ValueError("an empty validation curve has nothing to replay")
    stateless = torch.nn.Module()  # the stopper's rule alone: no state to keep
    stopper = EarlyStopping(stateless, patience)
    for epoch, score in curve:
        if stopper.update(score, epoch, stateless):
            break
    return stopper.best_epoch, stopper.best_score, epoch


def label(row: dict) -> str:
    """A row's name: its domain or market with its method."""
    return " ".join(str(row[key]) for key in ("domain", "method") if key in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", type=Path, help="benchmarks/results/*.json files")
    parser.add_argument("--patience", type=int, default=5,
                        help="The patience replayed (evaluations without a gain).")
    args = parser.parse_args()
    if args.patience < 1:
        parser.error("--patience must be at least 1")
    print(f"| file | row | kept: epoch of run, valid | patience {args.patience}: epoch, stop, "
          f"valid | same model |")
    print("|---|---|---|---|---|")
    for path in args.results:
        rows = json.loads(path.read_text())["rows"]
        for row in rows:
            curve = row.get("valid_curve")
            if not curve:
                continue
            kept, score, stop = replay(curve, args.patience)
            ran = len(curve)
            same = "yes" if kept == row["best_epoch"] else "no"
            print(f"| {path.stem} | {label(row)} | {row['best_epoch']} of {ran}, "
                  f"{max(s for _, s in curve):.4f} | {kept}, {stop}, {score:.4f} | {same} |")


if __name__ == "__main__":
    main()
