"""Printing helpers of the CLI (rich)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

# piped or captured output has no terminal width: use a wide one rather than rich's 80 columns,
# so tables of metrics are not cut off in logs
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True)
    raise typer.Exit(code)


def table(rows: list[dict], title: str | None = None) -> Table:
    """A rich table of dict rows (columns from the first row)."""
    t = Table(title=title)
    columns = list(rows[0]) if rows else []
    for c in columns:
        t.add_column(c)
    for r in rows:
        t.add_row(*[str(r.get(c, "")) for c in columns])
    return t


def strategy_rows(results: list, k: int) -> list[dict]:
    """Table rows of transfer results: selected epoch, validation score and test metrics of
    every evaluation subset (all users, cold-start users, cold-start items)."""
    rows = []
    for r in results:
        row = {"strategy": r.name, "epoch": str(r.best_epoch),
               "valid NDCG": f"{r.valid_score:.4f}"}
        for subset in ("all", "cold_users", "cold_items"):
            m = r.test.get(subset)
            row[f"{subset} R@{k}"] = f"{m[f'recall@{k}']:.4f}" if m else "-"
            row[f"{subset} N@{k}"] = f"{m[f'ndcg@{k}']:.4f}" if m else "-"
        row["stopped"] = r.stopped or "-"
        row["seconds"] = f"{r.seconds:.1f}"
        rows.append(row)
    return rows


#: the metrics of a paired comparison's table (:func:`versus_rows`)
PAIRED_METRICS = ("mrr", "ndcg", "recall")


def versus_rows(versus: dict) -> list[dict]:
    """Rows of a comparison with a baseline
    (:func:`~graphrec.strategies.versus.against_baseline`): per subset, each metric of
    :data:`PAIRED_METRICS` at every cut-off, the baseline compared there, the run's and the
    baseline's value and the ratio with its paired interval."""
    rows = []
    for name, part in versus["subsets"].items():
        for metric, paired in part["paired"].items():
            if metric.split("@")[0] not in PAIRED_METRICS:
                continue
            if paired["ratio"] is None:
                ratio = "- (baseline 0)"
            else:
                lo, hi = paired["ratio_ci95"]
                ratio = f"{paired['ratio']:.2f}x [{lo:.2f}, {hi:.2f}]"
            rows.append({"subset": name, "metric": metric,
                         "run": f"{part['model'][metric]:.4f}",
                         "baseline": f"{part['baseline'][metric]:.4f} "
                                     f"({_with_settings(part['baseline_name'], part['settings'])})",
                         "ratio": ratio, "run ahead": f"{paired['share_better']:.0%}"})
    return rows


def _with_settings(name: str, settings: dict) -> str:
    """``ease l2 100.0``: a baseline's name and its chosen settings."""
    return " ".join([name, *(f"{k} {v}" for k, v in settings.items())])


def versus_table(versus: dict, model: str | None = None) -> Table:
    """The printable table of a comparison with a baseline (:func:`versus_rows`), its title
    led by ``model`` (what was compared, e.g. ``"path-gnn (test split)"``) where given."""
    title = _versus_title(versus)
    return table(versus_rows(versus), title if model is None else f"{model} {title}")


def _versus_title(versus: dict) -> str:
    """The title of :func:`versus_rows`' table."""
    if "chosen_from" in versus:
        which = (f"the strongest simple baseline on each subset's valid users (of "
                 f"{', '.join(versus['chosen_from'])})")
    else:
        which = _with_settings(versus["baseline"], versus["settings"])
    return (f"against {which}, on the same users: the ratio of the means with its paired 95% "
            f"interval, and how often the run is ahead")


def bridge_rows(reports: list) -> list[dict]:
    """Printable rows of a transferability report, best source first."""
    def fmt(value: float | None) -> str:
        return "-" if value is None else f"{value:+.3f}"

    return [{"rank": str(r.rank), "source": r.source, "score": f"{r.score:+.3f}",
             "user bridge": f"{r.user_bridge:.2f} ({r.bridging_users:,})",
             "taste agreement": fmt(r.user_agreement),
             "item bridge": f"{r.item_bridge:.2f} ({r.linked_items:,})",
             "popularity agreement": fmt(r.item_agreement),
             "shared attrs": f"{r.shared_attributes:,} (J={r.attribute_jaccard:.2f})",
             "target items reachable": f"{r.target_items_connected:.2f}",
             "top bridge attributes": ", ".join(k for k, _ in r.bridge_attributes[:2])}
            for r in reports]



def check_output(out: Path, *inputs: Path) -> Path:
    """``out`` when a file may be written there: a ConfigError for an empty path, an existing
    folder, or one of the ``inputs`` (which it would overwrite)."""
    from kg.errors import ConfigError

    if not str(out).strip() or str(out) in (".", ".."):
        raise ConfigError("--out needs a file path, got an empty one")
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file path inside it")
    for source in inputs:
        if source.exists() and out.exists() and out.resolve() == source.resolve():
            raise ConfigError(f"--out {out} is the input file {source}; it would be "
                              "overwritten, choose another path")
    return out
