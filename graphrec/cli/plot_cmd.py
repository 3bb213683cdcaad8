"""``graphrec plot RUN_DIR``: a run's training curve and test metrics, from its saved files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.output import console, fail
from kg.errors import GraphRecError


def plot(
    run_dir: Annotated[Path, typer.Argument(help="Run directory.")],
    out: Annotated[Path | None, typer.Option(
        "--out", help="Folder for the PNGs (default RUN_DIR/plots).")] = None,
) -> None:
    """Draw the training curve (loss and validation score per epoch or meta-iteration) and the
    test metrics per subset with their 95% intervals, from the run's metrics.json: nothing is
    retrained or re-scored. Writes training.png and metrics.png."""
    import matplotlib

    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt

    from graphrec.errors import RunError
    from graphrec.serving.run_dir import read_run_json, verify_run

    try:
        verify_run(run_dir)
        metrics = read_run_json(run_dir, "metrics.json")
        history = metrics.get("history") if isinstance(metrics, dict) else None
        if not isinstance(history, list) or not history:
            raise RunError(f"{run_dir / 'metrics.json'}: no training history to plot")
        folder = out or run_dir / "plots"
        if folder.exists() and not folder.is_dir():
            raise RunError(f"--out {folder} is a file; give a folder")
        folder.mkdir(parents=True, exist_ok=True)
    except GraphRecError as exc:
        fail(str(exc))
    unit = next(k for k in history[0] if k not in ("loss", "valid"))
    steps = [row[unit] for row in history]
    fig, loss_ax = plt.subplots(figsize=(7, 4))
    loss_ax.plot(steps, [row["loss"] for row in history], color="tab:blue", label="loss")
    loss_ax.set_xlabel(unit)
    loss_ax.set_ylabel("training loss", color="tab:blue")
    scored = [row for row in history if "valid" in row]
    if scored:
        valid_ax = loss_ax.twinx()
        valid_ax.plot([row[unit] for row in scored], [row["valid"] for row in scored], "o-",
                      color="tab:orange", label="valid")
        valid_ax.set_ylabel("validation NDCG", color="tab:orange")
        best = metrics.get("best_epoch")
        if best is not None:
            valid_ax.axvline(best, color="grey", linestyle="--", linewidth=1)
    loss_ax.set_title(f"{metrics.get('strategy', run_dir.name)}: training (dashed: selected)")
    fig.tight_layout()
    fig.savefig(folder / "training.png", dpi=120)
    plt.close(fig)
    written = [folder / "training.png"]
    test = metrics.get("test") or {}
    subsets = [s for s, m in test.items() if isinstance(m, dict) and m.get("users")]
    if subsets:
        keys = [k for k in test[subsets[0]] if k not in ("users", "rows", "ci95")
                and isinstance(test[subsets[0]][k], int | float)]
        fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(keys) * len(subsets) / 2), 4))
        width = 0.8 / len(subsets)
        for pos, subset in enumerate(subsets):
            values = [test[subset][k] for k in keys]
            ci = test[subset].get("ci95", {})
            errors = [[v - ci[k][0] if k in ci else 0 for k, v in zip(keys, values, strict=True)],
                      [ci[k][1] - v if k in ci else 0 for k, v in zip(keys, values, strict=True)]]
            ax.bar([i + pos * width for i in range(len(keys))], values, width, yerr=errors,
                   capsize=3, label=f"{subset} ({test[subset]['users']} users)")
        ax.set_xticks([i + 0.4 - width / 2 for i in range(len(keys))], keys)
        ax.set_ylabel("test metric (95% interval)")
        ax.set_title(f"{metrics.get('strategy', run_dir.name)}: test metrics per subset")
        ax.legend(fontsize=8)
        fig.tight_layout()
        fig.savefig(folder / "metrics.png", dpi=120)
        plt.close(fig)
        written.append(folder / "metrics.png")
    console.print("wrote " + ", ".join(str(p) for p in written), highlight=False)
