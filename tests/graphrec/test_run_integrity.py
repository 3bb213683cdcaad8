"""Tampered, corrupt and incomplete run directories are refused with a RunError naming the
file (a run trained once by the CLI, copied for each case)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.errors import RunError
from graphrec.serving import Recommender
from graphrec.serving.run_dir import MANIFEST, _run_files, _sha256

runner = CliRunner()


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("integrity")
    config = root / "c.toml"
    config.write_text('[data]\nloader = "synthetic"\noptions = { n_users = 120 }\n'
                      '[train]\ntarget = "cosmetics"\nstrategy = "joint"\nepochs = 2\nseed = 0\n'
                      'dim = 8\n')
    result = runner.invoke(app, ["train", "-c", str(config), "--runs", str(root / "runs"),
                                 "--quiet"])
    assert result.exit_code == 0, result.output
    return Path(result.output.strip().splitlines()[-1])


def reseal(run: Path) -> None:
    """Rewrite the manifest so that only the checks after it can catch the change."""
    (run / MANIFEST).write_text(json.dumps({"sha256": {
        rel: _sha256(run / rel) for rel in _run_files(run)}}))


def edit_json(name: str, change):
    def apply(run: Path) -> None:
        data = json.loads((run / name).read_text())
        (run / name).write_text(json.dumps(change(data)))
    return apply


def set_layers(spec: dict) -> dict:
    return {**spec, "kwargs": {**spec["kwargs"], "num_layers": 7}}


def nan_weights(run: Path) -> None:
    state = torch.load(run / "weights.pt", weights_only=True)
    first = next(k for k, v in state.items() if v.is_floating_point())
    state[first] = torch.full_like(state[first], float("nan"))
    torch.save(state, run / "weights.pt")


class Payload:
    """An object whose unpickling would run a command."""

    def __reduce__(self):
        return (os.system, ("touch /tmp/graphrec-pwned",))


def pickled_payload(run: Path) -> None:
    torch.save({"weight": Payload()}, run / "weights.pt")


def outside_graph(run: Path) -> None:
    (run / "graph" / "CURRENT").write_text("../../../elsewhere")


def symlinked_weights(run: Path) -> None:
    (run / "weights.pt").unlink()
    os.symlink("/etc/passwd", run / "weights.pt")


CASES = {
    # (change, reseal the manifest afterwards?, file named, words of the message)
    "num_layers changed": (edit_json("model.json", set_layers), False, "model.json",
                           "differs from what was written"),
    "model.json is a list": (lambda r: (r / "model.json").write_text("[1, 2]"), True,
                             "model.json", "expected a JSON object"),
    "model.json not JSON": (lambda r: (r / "model.json").write_text("{nope"), True,
                            "model.json", "not valid JSON"),
    "unknown constructor argument": (edit_json("model.json", lambda s: {
        **s, "kwargs": {**s["kwargs"], "colour": 1}}), True, "model.json", "cannot be built"),
    "empty weights": (lambda r: (r / "weights.pt").write_bytes(b""), True, "weights.pt",
                      "cannot be read as weights"),
    "truncated weights": (lambda r: (r / "weights.pt").write_bytes(
        (r / "weights.pt").read_bytes()[:100]), True, "weights.pt", "cannot be read"),
    "NaN weights": (nan_weights, True, "weights.pt", "non-finite value"),
    "pickle payload in weights.pt": (pickled_payload, True, "weights.pt",
                                     "cannot be read as weights"),
    "config without target": (edit_json("config.json", lambda c: {
        k: v for k, v in c.items() if k != "target"}), True, "config.json", "names no target"),
    "garbage decision.json": (lambda r: (r / "decision.json").write_text("\x00garbage"), True,
                              "decision.json", "not valid JSON"),
    "graph/CURRENT outside the run": (outside_graph, True, "graph", "not a version name"),
    "weights.pt symlinked to /etc/passwd": (symlinked_weights, False, "weights.pt",
                                            "outside the run directory"),
    "no manifest": (lambda r: (r / MANIFEST).unlink(), False, "manifest.json", "is missing"),
    "file deleted": (lambda r: (r / "metrics.json").unlink(), False, "metrics.json",
                     "missing (listed in manifest.json)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_altered_run_directories_are_refused(trained, tmp_path, case):
    change, reseal_after, file, words = CASES[case]
    run = tmp_path / "run"
    shutil.copytree(trained, run, symlinks=True)
    Recommender.load(run)  # the copy itself is accepted
    change(run)
    if reseal_after:
        reseal(run)
    result = runner.invoke(app, ["evaluate", str(run), "--bootstrap", "0"])
    assert result.exit_code == 2 and file in result.output and words in " ".join(
        result.output.split())
    if case != "config without target":  # the library serves it; only evaluate needs one
        with pytest.raises(RunError) as info:
            Recommender.load(run)
        assert file in str(info.value) and words in str(info.value)
