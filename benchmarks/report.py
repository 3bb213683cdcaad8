"""Formatting shared by the benchmark scripts: metric cells and Markdown tables."""

from __future__ import annotations


def with_ci(metrics: dict, key: str) -> str:
    """``0.1234 [0.1000, 0.1500]``: the value and its 95% interval from ``metrics['ci95']``."""
    lo, hi = metrics["ci95"][key]
    return f"{metrics[key]:.4f} [{lo:.4f}, {hi:.4f}]"


def print_table(columns: list[str], lines: list[str]) -> None:
    """Print a Markdown table: header, separator and the already formatted row ``lines``."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    print("\n".join(lines))
