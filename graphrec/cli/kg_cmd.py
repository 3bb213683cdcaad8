"""``graphrec kg load|stats|query|bridges``: build and explore the knowledge graph."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.connection import open_neo4j, open_store, pseudonym_key
from graphrec.cli.output import bridge_rows, console, fail, table
from kg.cookbook import cookbook, get_query
from kg.errors import ConfigError, GraphRecError
from kg.privacy import KEY_ENV, PrivacyConfig
from loaders import LOADERS, load_dataset

app = typer.Typer(help="Build and explore the knowledge graph.", no_args_is_help=True,
                  rich_markup_mode=None)

StoreOpt = Annotated[str, typer.Option(
    "--store", envvar="GRAPHREC_STORE", help="Where the graph lives: local | neo4j.")]
DirOpt = Annotated[Path | None, typer.Option(
    "--dir", help="Local store directory (default $GRAPHREC_HOME/store).")]


def parse_pairs(pairs: list[str] | None, what: str) -> dict[str, str]:
    """``['k=v', ...]`` -> ``{'k': 'v'}`` with a clear error for a malformed pair."""
    out = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"{what} {pair!r} must look like name=value")
        out[key.strip()] = value
    return out


@app.command()
def load(
    dataset: Annotated[str, typer.Argument(help=f"Loader: {', '.join(sorted(LOADERS))}.")],
    path: Annotated[str, typer.Argument(help="Data folder or file ('-' for synthetic).")] = "-",
    store: StoreOpt = "local",
    directory: DirOpt = None,
    option: Annotated[list[str] | None, typer.Option(
        "--option", "-o", help="Loader option name=value (repeatable), e.g. pair=game_video.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="No progress bars.")] = False,
    pseudonymise: Annotated[bool, typer.Option(
        help=f"Replace user ids by keyed pseudonyms (HMAC-SHA256; key from ${KEY_ENV}).")
    ] = False,
    user_attributes: Annotated[bool, typer.Option(
        help="Load user attributes (--no-user-attributes keeps them out).")] = True,
    isolate: Annotated[list[str] | None, typer.Option(
        "--isolate", help="Scenario that contributes only aggregated item-item links, no user "
                          "rows (repeatable).")] = None,
    min_support: Annotated[int, typer.Option(
        help="--isolate: distinct users a co-interaction needs to become a link.")] = 3,
) -> None:
    """Load a data set into the store. Bad input writes nothing; re-running is idempotent.
    Privacy options apply before anything is written."""
    if path == "-" and dataset != "synthetic":
        fail(f"loader {dataset!r} needs a PATH")
    try:
        t0 = time.perf_counter()
        ds = load_dataset(dataset, path, parse_pairs(option, "--option"))
        privacy = PrivacyConfig(pseudonymise=pseudonymise, key=pseudonym_key(),
                                user_attributes=user_attributes,
                                isolate=tuple(isolate or ()), min_support=min_support)
        tables = privacy.apply(ds.tables)
        parse_s = time.perf_counter() - t0
        with open_store(store, directory) as st:
            report = st.load(tables, progress=not quiet)
    except GraphRecError as exc:
        fail(str(exc))
    counts = tables.counts()
    console.print(f"loaded {dataset} into {store}: {counts['users']:,} users, "
                  f"{counts['items']:,} items, {counts['interactions']:,} interactions "
                  f"(parse {parse_s:.1f}s, write {report.seconds['total']:.1f}s)")
    if ds.info:
        shown = {k: v for k, v in ds.info.items()
                 if k not in ("user_taste", "item_taste", "config")}
        console.print(f"notes: {json.dumps(shown)}", highlight=False)


@app.command()
def stats(
    store: StoreOpt = "local",
    directory: DirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Node and relationship counts per label and per scenario."""
    try:
        with open_store(store, directory) as st:
            result = st.stats()
    except GraphRecError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    console.print(table([{"label": k, "nodes": f"{v:,}"} for k, v in result["nodes"].items()],
                        "nodes"))
    console.print(table([{"type": k, "relationships": f"{v:,}"}
                         for k, v in result["relationships"].items()], "relationships"))
    console.print(table([{"scenario": k, **{c: f"{n:,}" for c, n in v.items()}}
                         for k, v in result["scenarios"].items()], "scenarios"))


@app.command()
def query(
    name: Annotated[str | None, typer.Argument(help="Cookbook query; omit to list them.")] = None,
    param: Annotated[list[str] | None, typer.Option(
        "--param", "-p", help="Query parameter name=value (repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON rows.")] = False,
    show: Annotated[bool, typer.Option("--show", help="Print the Cypher, do not run it.")
                    ] = False,
) -> None:
    """Run a Cypher cookbook query against Neo4j and print its rows."""
    if name is None:
        console.print(table([{"query": q.name, "parameters": ", ".join(
            p.name + ("" if p.required else "?") for p in q.params),
            "description": q.description} for q in cookbook().values()], "cookbook"))
        return
    try:
        q = get_query(name)
        params = q.bind(parse_pairs(param, "--param"))
        if show:
            typer.echo(q.text)
            return
        with open_neo4j() as st:
            rows = st.run_read(q.text, **params)
    except GraphRecError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps(rows, indent=2, default=str))
    elif rows:
        console.print(table(rows, f"{name} ({len(rows)} rows)"))
    else:
        console.print(f"{name}: no rows")


@app.command()
def bridges(
    target: Annotated[str, typer.Option("--target", "-t", help="Target scenario.")],
    source: Annotated[list[str] | None, typer.Option(
        "--source", help="Candidate source (repeatable; default every other scenario).")
    ] = None,
    store: StoreOpt = "local",
    directory: DirOpt = None,
    components: Annotated[bool, typer.Option(
        help="Count connected components (slowest part on large graphs).")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Rank source scenarios for a target before training: user overlap and taste agreement,
    product links and popularity agreement, shared and bridge attributes, components."""
    from kg.bridges import bridges_report, report_dict  # scipy and networkx: only when needed

    try:
        with open_store(store, directory) as st:
            tables = st.read()
        reports = bridges_report(tables, target, source or None, components=components)
    except GraphRecError as exc:
        fail(str(exc))
    if as_json:
        typer.echo(json.dumps({"target": target, "sources": report_dict(reports)}, indent=2))
        return
    console.print(table(bridge_rows(reports), f"candidate sources for {target!r}, best first"))
    hurting = [r.source for r in reports if r.score < 0]
    if hurting:
        console.print(f"likely to hurt (negative score): {', '.join(hurting)}; check with the "
                      "'guarded' strategy", highlight=False)
