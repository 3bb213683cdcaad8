"""``graphrec kg load|stats|query|bridges``: build and explore the knowledge graph."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from graphrec.cli.connection import open_neo4j, open_store, pseudonym_key
from graphrec.cli.output import bridge_rows, console, fail, table
from kg.cookbook import cookbook, get_query, unknown_references
from kg.errors import ConfigError, GraphRecError
from kg.privacy import KEY_ENV, PrivacyConfig
from kg.store.datasets import DatasetRecord, check_namespace, incomplete_message, with_namespace
from loaders import LOADERS, load_dataset

T = TypeVar("T")

app = typer.Typer(help="Build and explore the knowledge graph.", no_args_is_help=True,
                  rich_markup_mode=None)

StoreOpt = Annotated[str, typer.Option(
    "--store", envvar="GRAPHREC_STORE", help="Where the graph lives: local | neo4j.")]
DirOpt = Annotated[Path | None, typer.Option(
    "--dir", help="Local store directory (default $GRAPHREC_HOME/store).")]


def read_store(store: str, directory: Path | None, read: Callable[[Any], T]) -> T:
    """``read(opened store)``; a failure to open or read exits with its message."""
    try:
        with open_store(store, directory) as st:
            return read(st)
    except GraphRecError as exc:
        fail(str(exc))


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
    namespace: Annotated[str | None, typer.Option(
        help="Prefix this data set's user and item ids with NAME: (keeps them apart from the "
             "data sets the store holds).")] = None,
    merge: Annotated[bool, typer.Option(
        help="Allow loading into a store that holds another data set with the same ids "
             "(equal ids become the same user or item).")] = False,
) -> None:
    """Load a data set into the store. Bad input writes nothing; re-running is idempotent.
    Privacy options apply before anything is written. A store holds one data set unless
    --namespace or --merge says how a second one relates to it (see `kg datasets`)."""
    if path == "-" and dataset != "synthetic":
        fail(f"loader {dataset!r} needs a PATH")
    try:
        if namespace is not None:
            check_namespace(namespace)
        t0 = time.perf_counter()
        ds = load_dataset(dataset, path, parse_pairs(option, "--option"))
        privacy = PrivacyConfig(pseudonymise=pseudonymise, key=pseudonym_key(),
                                user_attributes=user_attributes,
                                isolate=tuple(isolate or ()), min_support=min_support)
        tables = privacy.apply(ds.tables)
        if namespace is not None:
            tables = with_namespace(tables, namespace)
        parse_s = time.perf_counter() - t0
        record = DatasetRecord(source=ds.source, namespace=namespace)
        with open_store(store, directory) as st:
            report = st.load(tables, dataset=record, merge=merge, progress=not quiet)
    except GraphRecError as exc:
        fail(str(exc))
    counts = tables.counts()
    console.print(f"loaded {dataset} into {store}: {counts['users']:,} users, "
                  f"{counts['items']:,} items, {counts['interactions']:,} interactions "
                  f"(parse {parse_s:.1f}s, write {report.seconds['total']:.1f}s)")
    if set(tables.interactions["split"].unique()) == {"all"}:
        console.print("note: this data set has no train/valid/test split; training needs one: "
                      "add a [split] section to the run config (method = \"temporal\", "
                      "\"leave-one-out\" or \"cold-items\")", highlight=False, markup=False)
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
    result, held = read_store(store, directory, lambda st: (st.stats(), st.datasets()))
    problem = incomplete_message(held, store)
    if as_json:
        typer.echo(json.dumps({**result, "datasets": [r.to_dict() for r in held],
                               "problem": problem}, indent=2))
        return
    if problem:
        console.print(f"warning: {problem}", style="bold red", highlight=False)
    console.print(table([{"label": k, "nodes": f"{v:,}"} for k, v in result["nodes"].items()],
                        "nodes"))
    console.print(table([{"type": k, "relationships": f"{v:,}"}
                         for k, v in result["relationships"].items()], "relationships"))
    console.print(table([{"scenario": k, **{c: f"{n:,}" for c, n in v.items()}}
                         for k, v in result["scenarios"].items()], "scenarios"))


@app.command()
def datasets(
    store: StoreOpt = "local",
    directory: DirOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """The data sets the store holds: source, namespace, when loaded, whether complete."""
    held = read_store(store, directory, lambda st: st.datasets())
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in held], indent=2))
        return
    if not held:
        console.print(f"the {store} store holds no data set")
        return
    console.print(table([{"source": r.source, "namespace": r.namespace or "-",
                          "loaded": r.finished or f"INCOMPLETE (started {r.started})",
                          "users": f"{r.users:,}", "items": f"{r.items:,}",
                          "interactions": f"{r.interactions:,}"} for r in held],
                        f"data sets in the {store} store"))


@app.command()
def clear(
    store: StoreOpt = "local",
    directory: DirOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")
                   ] = False,
) -> None:
    """Delete the whole graph and its data-set records from the store."""
    try:
        with open_store(store, directory) as st:
            held = st.datasets()
            names = ", ".join(r.label for r in held) or "no recorded data set"
            if not yes and not typer.confirm(f"delete everything in the {store} store "
                                             f"({names})?"):
                fail("nothing deleted")
            st.clear()
    except GraphRecError as exc:
        fail(str(exc))
    console.print(f"cleared the {store} store ({names})", highlight=False)


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
        if show:  # the text needs no parameter values
            typer.echo(q.text)
            return
        params = q.bind(parse_pairs(param, "--param"))
        with open_neo4j() as st:
            rows = st.run_read(q.text, **params)
            problem = None if rows else unknown_references(st.run_read, params)
    except GraphRecError as exc:
        fail(str(exc))
    if problem:
        fail(problem)
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

    tables = read_store(store, directory, lambda st: st.read())
    try:
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
