"""Every ``graphrec`` command the README shows parses against the CLI as written: the
commands, options and values exist (a renamed option or command fails here). What each command
does is tested where it is built (tests/graphrec/test_cli.py and the notebooks)."""

import re
from pathlib import Path

import pytest
import typer

from graphrec.cli.main import app

README = Path(__file__).parents[1] / "README.md"


def readme_commands() -> list[tuple[int, str]]:
    """``(line, command)`` of every line of a bash block of the README that runs graphrec."""
    found, in_bash = [], False
    for number, line in enumerate(README.read_text("utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        if in_bash and line.startswith("graphrec "):
            found.append((number, line.split("  #")[0].split(" # ")[0].strip()))
    return found


def as_written(command: str) -> list[str]:
    """The arguments of a README line: ``[a | b]`` means a, ``[a]`` means a."""
    command = re.sub(r"\[([^\]|]*?)(?:\s*\|[^\]]*)?\]", r"\1", command)
    return command.split()[1:]


def parse(args: list[str]):
    """Parse ``args`` down to the leaf command, as the CLI would before running it."""
    node = typer.main.get_command(app)
    ctx = node.make_context("graphrec", list(args))
    while hasattr(node, "resolve_command"):
        protected = getattr(ctx, "_protected_args", None)  # click >= 8.2; before: public
        if protected is None:
            protected = ctx.protected_args
        rest = list(protected) + list(ctx.args)
        if not rest:
            break
        name, node, rest = node.resolve_command(ctx, rest)
        ctx = node.make_context(name, rest, parent=ctx)
    return node, ctx


def test_the_readme_shows_the_cli():
    commands = {" ".join(as_written(c)[:2]) for _, c in readme_commands()}
    assert len(readme_commands()) >= 30
    assert {"train --config", "transfer --config", "train --resume", "kg load",
            "recommend RUN_DIR", "neo4j start"} <= commands


@pytest.mark.parametrize(("line", "command"), readme_commands(),
                         ids=[f"README:{n}" for n, _ in readme_commands()])
def test_readme_command_parses(line, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # placeholders that name files are created here
    args = as_written(command)
    for placeholder in ("RUN_DIR", "my.toml", "my_mapping.toml", "second_export.toml"):
        if placeholder in args:
            Path(placeholder).mkdir() if placeholder == "RUN_DIR" else Path(
                placeholder).write_text("")
    node, ctx = parse(args)
    assert not hasattr(node, "resolve_command") or ctx.invoked_subcommand is None
    assert node.callback is not None, f"README:{line}: {command!r} names no command"


@pytest.mark.parametrize("bad", [["train", "--resum", "x"], ["kg", "quer"],
                                 ["recommend", "r", "--format"]])
def test_a_stale_command_fails_to_parse(bad):
    with pytest.raises(Exception, match="No such|no such|requires an argument"):
        parse(bad)
