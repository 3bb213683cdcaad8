"""``graphrec neo4j start|stop|status|shell``: the project's local Neo4j server."""

from __future__ import annotations

import json
import os
import subprocess
from typing import Annotated

import typer

from graphrec.cli.connection import neo4j_config, neo4j_home
from graphrec.cli.output import console, fail
from kg import server
from kg.errors import GraphRecError

app = typer.Typer(help="Start, stop and use the project's local Neo4j 5.26 server.",
                  no_args_is_help=True, rich_markup_mode=None)


@app.command()
def start(
    port: Annotated[int, typer.Option(help="Bolt port on 127.0.0.1.")] = server.DEFAULT_PORT,
    auth: Annotated[bool | None, typer.Option(
        help="Enable authentication; the password of user neo4j is taken from NEO4J_PASSWORD. "
             "A store created with --auth is only served without it given --no-auth.",
        show_default=False)] = None,
    heap: Annotated[str, typer.Option(help="JVM maximum heap (-Xmx).")] = "1g",
    timeout: Annotated[float, typer.Option(help="Seconds to wait for Bolt.")] = 180.0,
) -> None:
    """Start Neo4j (resolving its jars with Maven on first use) and wait until Bolt answers.
    A second start finds the running server and does nothing."""
    password = None
    if auth:
        password = os.environ.get("NEO4J_PASSWORD")
        if not password:
            fail("--auth needs the password in the environment variable NEO4J_PASSWORD")
    try:
        state = server.start(neo4j_home(), port, password=password, heap=heap, timeout=timeout,
                             allow_no_auth=auth is False)
    except GraphRecError as exc:
        fail(str(exc))
    console.print(f"Neo4j running at {state.uri} (pid {state.pid}, "
                  f"auth {'on' if state.auth else 'off'}, home {state.home})")


@app.command()
def stop() -> None:
    """Stop the local Neo4j cleanly."""
    if server.stop(neo4j_home()):
        console.print("Neo4j stopped")
    else:
        console.print("Neo4j was not running")


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    uri: Annotated[bool, typer.Option("--uri", help="Print only the Bolt URI.")] = False,
) -> None:
    """Say whether the local Neo4j runs and where (exit code 1 when it does not)."""
    st = server.status(neo4j_home())
    if uri:
        if not st["running"]:
            raise typer.Exit(1)
        typer.echo(st["uri"])
        return
    if as_json:
        typer.echo(json.dumps(st, indent=2))
    elif st["running"]:
        console.print(f"running at {st['uri']} (pid {st['pid']}, bolt "
                      f"{'answers' if st['bolt'] else 'does not answer'})")
    else:
        console.print("not running")
    if not st["running"]:
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def shell(ctx: typer.Context) -> None:
    """Open cypher-shell (from Maven Central) on the configured Neo4j. Extra arguments go to
    cypher-shell, e.g. ``graphrec neo4j shell -- --format plain -f queries.cypher``."""
    try:
        cfg = neo4j_config()
        cmd = server.shell_command(cfg.uri, cfg.user if cfg.password else None,
                                   cfg.database, list(ctx.args))
    except GraphRecError as exc:
        fail(str(exc))
    # cypher-shell reads NEO4J_PASSWORD from its environment; it is never on the command line
    raise typer.Exit(subprocess.call(cmd))
