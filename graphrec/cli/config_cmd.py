"""``graphrec config show``: the defaults, or the effective configuration of a file."""

from __future__ import annotations

import json
from dataclasses import fields
from pathlib import Path
from typing import Annotated

import typer

from graphrec.cli.output import fail
from kg.errors import GraphRecError

app = typer.Typer(help="Show configuration: graphrec's defaults or a file's effective "
                       "settings.", no_args_is_help=True, rich_markup_mode=None)


def toml_value(value: object) -> str:
    """``value`` written as TOML (None has no TOML form: the caller leaves the key out)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {toml_value(v)}" for k, v in value.items()
                                if v is not None) + " }"
    raise TypeError(f"no TOML form for {value!r}")


def to_toml(sections: dict, prefix: str = "", unset: dict | None = None) -> str:
    """Sections of plain values as TOML text; ``None`` values become comments that say what
    leaving them out means: ``unset`` maps a section's dotted name (``train``,
    ``strategy.path-gnn``) to its fields' meanings (:attr:`kg.registry.Settings.unset`);
    a field without one is shown as left out."""
    unset = unset or {}
    lines: list[str] = []
    for name, body in sections.items():
        if not isinstance(body, dict):
            continue
        plain = {k: v for k, v in body.items() if not isinstance(v, dict) or name == "data"}
        nested = {k: v for k, v in body.items() if isinstance(v, dict) and name != "data"}
        if plain:
            lines.append(f"[{prefix}{name}]")
            meaning = unset.get(f"{prefix}{name}", {})
            for key, value in plain.items():
                lines.append(f"# {key} = ({meaning.get(key, 'left out')})" if value is None
                             else f"{key} = {toml_value(value)}")
            lines.append("")
        if nested:
            lines.append(to_toml(nested, f"{prefix}{name}.", unset))
    return "\n".join(lines).rstrip() + "\n"


@app.command()
def show(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="A run config; omit it to see the defaults.")] = None,
    settings: Annotated[list[str] | None, typer.Option(
        "--set", "-o", help="Override as train/transfer do: key=value or section.key=value "
                            "(repeatable).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    command: Annotated[str, typer.Option(
        "--for", help="The command the file is read for, train or transfer: they differ only "
                      "in the strategies a file that names none gets.")] = "train",
) -> None:
    """Print graphrec's default [train] settings and every strategy's defaults, or, with
    --config, the effective configuration of that file (defaults filled in, -o applied),
    exactly as train (or, with --for transfer, transfer) would use it."""
    from graphrec.config import (
        COMMANDS,
        RunConfig,
        apply_overrides,
        default_strategies,
        read_toml,
        strategy_keys,
    )
    from graphrec.evaluation import Protocol
    from graphrec.strategies import CONFIGURABLE, strategy_settings
    from graphrec.training import TrainConfig

    try:
        if command not in COMMANDS:
            raise GraphRecError(f"--for must be one of {list(COMMANDS)}, not {command!r}")
        if config is None:
            train = TrainConfig()
            options = strategy_settings({n: {} for n in CONFIGURABLE})
            sections = {"train": {**strategy_keys(default_strategies(command)),
                                  **{f.name: getattr(train, f.name) for f in fields(train)}},
                        "eval": Protocol().to_dict(),
                        "strategy": {name: dict(vars(s)) for name, s in options.items()}}
            if settings:
                raise GraphRecError("-o needs --config (the defaults have nothing to override)")
        else:
            raw = apply_overrides(read_toml(config), settings or [])
            run = RunConfig.from_dict(raw, str(config), command)
            sections, options = run.to_dict(), run.options
    except GraphRecError as exc:
        fail(str(exc))
    unset = {"train": TrainConfig.unset,
             **{f"strategy.{name}": type(s).unset for name, s in options.items()}}
    if as_json:
        typer.echo(json.dumps(sections, indent=2, default=list))
    else:
        typer.echo(to_toml(sections, unset=unset), nl=False)
