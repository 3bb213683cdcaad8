"""Formatting shared by the benchmark scripts: metric cells, Markdown tables, and result files
under ``benchmarks/results/``."""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shlex
import sys
from pathlib import Path

import torch

from graphrec.evaluation import compare, without_values
from graphrec.training import TrainConfig
from kg.files import atomic_write


def with_ci(metrics: dict, key: str) -> str:
    """``0.1234 [0.1000, 0.1500]``: the value and its 95% interval from ``metrics['ci95']``."""
    lo, hi = metrics["ci95"][key]
    return f"{metrics[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def ratio_cell(paired: dict) -> str:
    """``1.28x [1.02, 1.60], better in 98%``: a paired comparison
    (:func:`~graphrec.evaluation.compare`) as a table cell: the ratio of the means, its 95%
    interval and the share of resamples in which the method is ahead."""
    if paired["ratio"] is None:
        return f"baseline 0, better in {paired['share_better']:.0%}"
    lo, hi = paired["ratio_ci95"]
    return f"{paired['ratio']:.2f}x [{lo:.2f}, {hi:.2f}], better in {paired['share_better']:.0%}"


def add_paired(rows: list[dict], kept: list[dict], baseline: str, group: str | None = None
               ) -> tuple[list[str], list[str]]:
    """Compare every method with ``baseline`` on the same test users (the paired bootstrap of
    :func:`~graphrec.evaluation.compare`, 1,000 resamples, seed 0, the resamples of the
    rows' own intervals).

    Args:
        rows: the results rows, one per method (``row["method"]``), in place: each row of a
            method other than the baseline gets ``vs_<baseline>``, one record per measure
            (``measure``, ``metric`` and the comparison: ratios and differences are not
            metric values, so no record sits under a metric's name), and a cell
            ``<measure>_vs_<baseline>`` (:func:`ratio_cell`).
        kept: per row, measure -> ``(one subset's result evaluated with keep_values=True,
            its metric)``.
        group: the row field whose rows are compared among themselves (``domain``: each
            direction with its own baseline row); None: all rows.

    Returns:
        ``(lines, columns)``: Markdown lines ``| group | method | measure ... |`` for
        :func:`print_paired`, and the rows' new cells, for the results table (both empty
        where ``baseline`` did not run).
    """
    lines = []
    for row, measures in zip(rows, kept, strict=True):
        if row["method"] == baseline:
            continue
        base = next((k for r, k in zip(rows, kept, strict=True) if r["method"] == baseline
                     and (group is None or r[group] == row[group])), None)
        if base is None:
            continue
        row[f"vs_{baseline}"] = []
        for measure, (result, metric) in measures.items():
            paired = compare(result, base[measure][0], metric)
            row[f"vs_{baseline}"].append({"measure": measure, "metric": metric, **paired})
            row[f"{measure}_vs_{baseline}"] = ratio_cell(paired)
        cells = [row[f"{m}_vs_{baseline}"] for m in measures]
        lines.append("| " + " | ".join(([row[group]] if group else []) + [row["method"]]
                                       + cells) + " |")
    columns = [f"{m}_vs_{baseline}" for m in kept[0]] if lines else []
    return lines, columns


def print_paired(lines: list[str], baseline: str, headers: list[str]) -> None:
    """Print :func:`add_paired`'s table (``headers``: its columns; nothing where it has no
    line)."""
    if not lines:
        return
    print(f"\nAgainst {baseline} on the same test users (paired bootstrap over users, 1,000 "
          "resamples: the ratio of the means [95% CI], and how often the method is ahead):\n")
    print_table(headers, lines)


def print_table(columns: list[str], lines: list[str]) -> None:
    """Print a Markdown table: header, separator and the already formatted row ``lines``."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    print("\n".join(lines))


RESULTS = Path(__file__).parent / "results"


def write_results(name: str, rows: list[dict], columns: list[str], command: str,
                  **facts: object) -> Path:
    """Write ``benchmarks/results/<name>.json`` (``facts`` + ``rows``, each row JSON-ready)
    and ``<name>.md`` (a Markdown table of ``columns`` of the rows, with the command), so a
    script can check the numbers without parsing prose. Returns the JSON path."""
    payload = {"benchmark": name, "command": command, "machine": machine(), **facts,
               "rows": rows}
    atomic_write(RESULTS / f"{name}.json", json.dumps(payload, indent=2, default=str) + "\n")
    lines = [f"`{command}`", "", "| " + " | ".join(columns) + " |",
             "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(str(r.get(c, "")) for c in columns) + " |" for r in rows]
    atomic_write(RESULTS / f"{name}.md", "\n".join(lines) + "\n")
    return RESULTS / f"{name}.json"


def command_line(module: str) -> str:
    """The command that ran this process's ``python -m <module>``, its arguments quoted for a
    shell (a JSON ``--options`` value keeps its quotes), as the result files record it."""
    return f"python -m {module} " + shlex.join(sys.argv[1:])


def peak_rss_gib() -> float:
    """This process's peak resident memory so far, GiB (``ru_maxrss``: KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def save_figure(fig, path: Path) -> Path:
    """Finish a benchmark figure (legends, tight layout), write it as a 120-dpi PNG at
    ``path`` (folder created) and close it."""
    import matplotlib.pyplot as plt

    for ax in fig.axes:
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def machine() -> str:
    """The machine a benchmark ran on, in words, with the CPU model where Linux names it
    (the same versions can sum in another order on another CPU)."""
    return (f"{platform.machine()}, {os.cpu_count()} CPUs{cpu_model()}, Python "
            f"{platform.python_version()}, torch {torch.__version__}")


def cpu_model(cpuinfo: str = "/proc/cpuinfo") -> str:
    """``" (<model name>, family F model M)"`` from ``cpuinfo``, or ``""`` where it cannot be
    read."""
    try:
        with open(cpuinfo) as f:
            first = f.read().split("\n\n")[0]  # the first processor's block
    except OSError:
        return ""
    fields = {key.strip(): value.strip()
              for key, value in (line.split(":", 1) for line in first.splitlines() if ":" in line)}
    if "model name" not in fields:
        return ""
    return (f" ({fields['model name']}, family {fields.get('cpu family', '?')} model "
            f"{fields.get('model', '?')})")


def add_run_arguments(parser: argparse.ArgumentParser, results: str,
                      baseline: str | None = None) -> None:
    """The options every model benchmark takes: ``--epochs``, ``--seed``, ``--train`` and
    ``--options`` (JSON over graphrec's defaults, read by :func:`train_config` and
    :func:`strategy_options`) and ``--tag`` (``results``: the results' file name, with
    ``<tag>`` where the tag goes); with a ``baseline``, ``--baseline`` too (the method every
    other is compared with, :func:`add_paired`; that default)."""
    if baseline is not None:
        parser.add_argument("--baseline", default=baseline,
                            help="The method every other is compared with on the same test "
                                 "users (a paired bootstrap), when it is among those run.")
    parser.add_argument("--epochs", type=int, default=None,
                        help="Epoch cap (default graphrec's own, TrainConfig.epochs).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--train", default="{}",
                        help='JSON [train] settings over graphrec\'s defaults, e.g. '
                             '\'{"bridge": 0.5}\'.')
    parser.add_argument("--options", default="{}",
                        help='JSON settings per strategy, e.g. \'{"hybrid": {"model": '
                             '"path-gnn"}}\'.')
    parser.add_argument("--tag", default="",
                        help=f"Write the rows to {results}.json (a run of a few methods "
                             "beside the headline rows).")


def strategy_options(options_json: str) -> dict:
    """The ``--options`` JSON: strategy name -> its settings (checked when a strategy runs)."""
    options = json.loads(options_json)
    if not isinstance(options, dict):
        raise SystemExit(f"--options must be a JSON object of strategy settings, not "
                         f"{options_json!r}")
    return options


def train_config(train_json: str, epochs: int | None, **base: object) -> TrainConfig:
    """graphrec's default ``[train]`` settings with ``base`` (what the benchmark fixes: seed,
    model, ...), then the ``--train`` JSON overrides, then ``--epochs`` when given; unknown
    keys and bad values are refused as in a config file."""
    settings = {**base, **json.loads(train_json)}
    if epochs is not None:
        settings["epochs"] = epochs
    return TrainConfig.from_dict(settings)


def valid_curve(result) -> list[list]:
    """``[[epoch, validation score], ...]`` of every evaluation of ``result``'s (last)
    training stage, in order (empty for a method without training): what a shorter patience
    would have kept can be read from it."""
    # a history row starts with its unit (epoch or iteration): {"epoch": 3, "loss": ...}
    return [[next(iter(row.values())), round(row["valid"], 6)] for row in result.history
            if "valid" in row]


def selected_row(method: str, result, config: TrainConfig, test: dict, k: int = 20) -> dict:
    """A results row of one selected model: how it was chosen on validation (NDCG@``k``,
    epochs, why it stopped, seconds) and its ``test`` metrics (one subset of
    :func:`graphrec.evaluation.evaluate`), JSON-ready."""
    return {"method": method, f"valid_ndcg@{k}": round(result.valid_score, 4),
            "best_epoch": result.best_epoch, "epochs_run": len(result.history),
            "epoch_cap": config.epochs, "stopped": result.stopped,
            "valid_curve": valid_curve(result),
            "seconds_to_selected_model": round(result.seconds, 1),
            f"recall@{k}": round(test[f"recall@{k}"], 4),
            f"ndcg@{k}": round(test[f"ndcg@{k}"], 4), "test": without_values(test),
            "decision": result.decision}
