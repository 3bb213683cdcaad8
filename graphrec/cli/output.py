"""Printing helpers of the CLI (rich)."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer
from rich.console import Console
from rich.table import Table

# piped or captured output has no terminal width: use a wide one rather than rich's 80 columns,
# so tables of metrics are not cut off in logs
console = Console(width=None if sys.stdout.isatty() else 160)
err_console = Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, markup=True)
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
