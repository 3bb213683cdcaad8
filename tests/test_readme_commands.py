"""Every command the README shows exists, and was run.

Each ``graphrec`` line parses against the CLI as written (a renamed option or command fails
here), and ``python -m benchmarks.readme_walkthrough`` ran every current README command as a
new user would: its recorded results must list each of them, with the expected outcome. What
each command does is tested where it is built (tests/graphrec/test_cli.py and the notebooks).
"""

import json
from pathlib import Path

import pytest
import typer

from benchmarks.readme_walkthrough import RUN_BY_CI, as_written, readme_commands
from graphrec.cli.main import app

WALKTHROUGH = Path(__file__).parents[1] / "benchmarks" / "results" / "readme_walkthrough.json"
GRAPHREC_LINES = [(n, c) for n, c in readme_commands() if c.startswith("graphrec ")]


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
    commands = {" ".join(as_written(c)[1:3]) for _, c in GRAPHREC_LINES}
    assert len(GRAPHREC_LINES) >= 30
    assert {"train --config", "transfer --config", "train --resume", "kg load",
            "recommend RUN_DIR", "neo4j start"} <= commands


@pytest.mark.parametrize(("line", "command"), GRAPHREC_LINES,
                         ids=[f"README:{n}" for n, _ in GRAPHREC_LINES])
def test_readme_command_parses(line, command, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # placeholders that name files are created here
    args = as_written(command)[1:]
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


def test_the_walkthrough_ran_every_readme_command_as_expected():
    rows = json.loads(WALKTHROUGH.read_text("utf-8"))["rows"]
    ran = {row["readme"]: row for row in rows}
    current = {command for _, command in readme_commands()}
    assert current - set(ran) == set(), (
        "README commands the walkthrough has not run: run "
        "`.venv/bin/python -m benchmarks.readme_walkthrough` and commit its results")
    assert set(ran) - current == set(), "results list commands the README no longer shows"
    failed = [f"README:{r['line']} {r['readme']}: {r['output_tail']}" for r in rows
              if not r["ok"]]
    assert failed == []
    assert ran[RUN_BY_CI]["expect"] == "CI"
    assert all(isinstance(r["rc"], int) for r in rows if r["readme"] != RUN_BY_CI)
