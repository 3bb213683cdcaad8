"""Entry point of the ``graphrec`` command."""

from __future__ import annotations

import logging
from typing import Annotated

import typer

from graphrec import __version__
from graphrec.cli import config_cmd, kg_cmd, neo4j_cmd
from graphrec.cli.demo_cmd import demo
from graphrec.cli.evaluate_cmd import evaluate
from graphrec.cli.export_cmd import export
from graphrec.cli.plot_cmd import plot
from graphrec.cli.train_cmd import embed, recommend, train, transfer

app = typer.Typer(help="graphrec: cross-scenario knowledge transfer over a user-item-attribute "
                       "knowledge graph (Neo4j + PyTorch Geometric).",
                  no_args_is_help=True, pretty_exceptions_enable=False,
                  rich_markup_mode=None)
app.add_typer(kg_cmd.app, name="kg")
app.add_typer(neo4j_cmd.app, name="neo4j")
app.add_typer(config_cmd.app, name="config")
app.command()(demo)
for _command in (train, transfer, evaluate, recommend, embed, export, plot):
    app.command()(_command)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(__version__)
        raise typer.Exit()


@app.callback()
def main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level.")] = False,
    version: Annotated[bool, typer.Option(  # noqa: ARG001 (handled by its callback)
        "--version", callback=_print_version, is_eager=True,
        help="Print the version and exit.")] = False,
) -> None:
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")


@app.command()
def version() -> None:
    """Print the version."""
    typer.echo(__version__)
