"""Checkpoints and ``--resume``: an interrupted run ends where an uninterrupted one does."""

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from graphrec.cli.main import app
from graphrec.data.graph import build_graph
from graphrec.data.pairs import training_pairs
from graphrec.errors import ConfigError, RunError
from graphrec.models import build_model
from graphrec.serving import Recommender
from graphrec.strategies.base import StrategyRun
from graphrec.training import PairObjective, TrainConfig, Trainer
from graphrec.training.checkpoint import Checkpoints
from loaders import SyntheticConfig, generate_synthetic

runner = CliRunner()


class Interrupt:
    """A validator that raises KeyboardInterrupt at its ``at``-th call (never when None)."""

    def __init__(self, at: int | None = None):
        self.at, self.calls = at, 0

    def __call__(self, model) -> float:
        self.calls += 1
        if self.at is not None and self.calls >= self.at:
            raise KeyboardInterrupt
        return float(model(self.graph)["item"][:5].sum())  # moves with every step


@pytest.fixture(scope="module")
def setup():
    tables = generate_synthetic(SyntheticConfig(n_users=80, seed=3)).tables
    data, index = build_graph(tables, co_interactions=0)
    pairs = training_pairs(tables, index, ["cosmetics"])
    return data, pairs


def _fit(setup, checkpoint, validate, **config):
    data, pairs = setup
    config = TrainConfig(dim=8, epochs=5, patience=None, seed=0, id_dropout=0.2, **config)
    model = build_model("lightgcn", data, config.dim, config.num_layers, seed=0,
                        id_dropout=config.id_dropout, normalize=True)
    graph = model.prepare_graph(data)
    validate.graph = graph
    objective = PairObjective.from_config(pairs, config)
    return Trainer(model, graph, objective, validate, config, progress=False,
                   checkpoint=checkpoint).fit()


def _same(a, b) -> bool:
    return (a.best_epoch == b.best_epoch and a.history == b.history and a.stopped == b.stopped
            and all(torch.equal(a.state[k], b.state[k]) for k in a.state))


@pytest.mark.parametrize("lr_decay", [1.0, 0.5])  # 0.5: the decayed rate is resumed too
def test_a_stage_resumed_after_an_interruption_ends_as_an_uninterrupted_one(setup, tmp_path,
                                                                           lr_decay):
    whole = _fit(setup, None, Interrupt(), lr_decay=lr_decay)
    stage = Checkpoints(tmp_path / "c").next_stage("joint")
    with pytest.raises(KeyboardInterrupt):  # dies in epoch 4: epochs 1-3 are checkpointed
        _fit(setup, stage, Interrupt(at=4), lr_decay=lr_decay)
    saved = stage.load()
    assert saved["epoch"] == 3 and not saved["finished"]
    counting = Interrupt()
    resumed = _fit(setup, stage, counting, lr_decay=lr_decay)
    assert counting.calls == 2  # epochs 4 and 5 only: it continued, it did not start again
    assert _same(resumed, whole)
    # a finished stage returns its result without training (a validator that would fail)
    again = _fit(setup, stage, Interrupt(at=1), lr_decay=lr_decay)
    assert _same(again, whole)


def test_lr_decay_lowers_the_rate_after_each_evaluation_that_does_not_improve(setup):
    data, pairs = setup
    config = TrainConfig(dim=8, epochs=5, patience=None, seed=0, lr=0.01, lr_decay=0.5)
    model = build_model("lightgcn", data, config.dim, config.num_layers, seed=0,
                        normalize=True)
    graph = model.prepare_graph(data)
    made, rates, scores = [], [], iter([0.5, 0.4, 0.6, 0.3, 0.2])

    def optimizer(params):
        made.append(torch.optim.Adam(params, lr=config.lr))
        return made[-1]

    def validate(model) -> float:
        rates.append(made[0].param_groups[0]["lr"])
        return next(scores)

    fit = Trainer(model, graph, PairObjective.from_config(pairs, config), validate, config,
                  optimizer=optimizer, progress=False).fit()
    # epochs 2 and 4 do not improve: the rate halves after each, never after 1 and 3
    assert rates == [0.01, 0.01, 0.005, 0.005, 0.0025]
    assert fit.best_epoch == 3
    with pytest.raises(ConfigError, match=r"lr_decay must be in \(0, 1\]"):
        TrainConfig(lr_decay=0.0)
    with pytest.raises(ConfigError, match=r"lr_decay must be in \(0, 1\]"):
        TrainConfig(lr_decay=1.5)


class _NormRecordingSGD(torch.optim.SGD):
    """SGD that records the L2 norm of every gradient it steps with."""

    def __init__(self, params, lr):
        super().__init__(params, lr=lr)
        self.norms = []

    def step(self, closure=None):
        grads = [p.grad for group in self.param_groups for p in group["params"]
                 if p.grad is not None]
        self.norms.append(float(torch.linalg.vector_norm(
            torch.stack([torch.linalg.vector_norm(g) for g in grads]))))
        return super().step(closure)


def _norms_of_steps(setup, clip_norm):
    data, pairs = setup
    config = TrainConfig(dim=8, epochs=2, patience=None, seed=0, lr=0.01, clip_norm=clip_norm)
    model = build_model("lightgcn", data, config.dim, config.num_layers, seed=0,
                        normalize=True)
    made = []

    def optimizer(params):
        made.append(_NormRecordingSGD(params, config.lr))
        return made[-1]

    Trainer(model, model.prepare_graph(data), PairObjective.from_config(pairs, config),
            lambda m: 0.0, config, optimizer=optimizer, progress=False).fit()
    return made[0].norms


def test_clip_norm_caps_the_gradient_every_step_reads(setup):
    free = _norms_of_steps(setup, None)
    cap = min(free) / 2  # below every unclipped step's norm: each step is clipped
    clipped = _norms_of_steps(setup, cap)
    assert len(clipped) == len(free) > 0
    assert max(clipped) == pytest.approx(cap, rel=1e-4)
    assert min(clipped) == pytest.approx(cap, rel=1e-4)
    loose = _norms_of_steps(setup, max(free) * 2)  # above every step's: nothing changes
    assert loose == free
    for bad in (0, -1.0, float("inf"), float("nan"), True, "1"):
        with pytest.raises(ConfigError, match="clip_norm must be a positive number"):
            TrainConfig(clip_norm=bad)


def test_a_checkpoint_of_another_stage_or_layout_is_refused(setup, tmp_path):
    folder = Checkpoints(tmp_path / "c")
    stage = folder.next_stage("joint")
    torch.save({"version": 99}, stage.path)
    with pytest.raises(RunError, match="not a graphrec checkpoint of version 1"):
        stage.load()
    stage.path.write_bytes(b"not torch")
    with pytest.raises(RunError, match="not a readable checkpoint"):
        stage.load()
    stage.path.unlink()
    _fit(setup, stage, Interrupt())
    other = Checkpoints(tmp_path / "c")
    with pytest.raises(RunError, match="stage 1 of the interrupted run was 'joint', but the "
                                       "run reached 'finetune'"):
        other.next_stage("finetune")


CONFIG = """[data]
loader = "synthetic"
path = "-"
options = {{ n_users = 120, seed = 3 }}

[train]
target = "cosmetics"
strategy = "finetune"
dim = 8
epochs = {epochs}
patience = 100
seed = 0
"""


def _run_dir(output: str) -> Path:
    return Path(output.strip().splitlines()[-1])


def test_train_resumes_an_interrupted_run_from_its_run_directory(tmp_path, monkeypatch):
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(epochs=4))
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path / "home"))
    whole = runner.invoke(app, ["train", "-c", str(config), "--runs", str(tmp_path / "a"),
                                "--quiet"])
    assert whole.exit_code == 0, whole.output
    done = _run_dir(whole.output)
    assert not (done / "checkpoints").exists() and (done / "resume.json").is_file()
    # the same run, with Ctrl-C in the 2nd epoch of its 2nd stage (finetune: sources, target)
    validator = StrategyRun.validator

    def interrupted(run, graph, index):
        score = validator(run, graph, index)

        def call(model):
            interrupted.calls += 1
            if interrupted.calls == 6:
                raise KeyboardInterrupt
            return score(model)
        return call
    interrupted.calls = 0
    with monkeypatch.context() as patch:
        patch.setattr(StrategyRun, "validator", interrupted)
        cut_run = runner.invoke(app, ["train", "-c", str(config), "--runs",
                                      str(tmp_path / "b"), "--quiet"])
    assert cut_run.exit_code == 130, cut_run.output
    [cut] = list((tmp_path / "b").iterdir())
    assert f"resume with: graphrec train --resume {cut}" in cut_run.output.replace("\n", "")
    assert [p.name for p in sorted((cut / "checkpoints").iterdir())] == [
        "01-finetune_sources.pt", "02-finetune_target.pt"]
    with pytest.raises(RunError, match="did not finish: resume it with `graphrec train"):
        Recommender.load(cut)
    interrupted.calls = -100  # counts, never interrupts
    with monkeypatch.context() as patch:
        patch.setattr(StrategyRun, "validator", interrupted)
        resumed = runner.invoke(app, ["train", "--resume", str(cut), "--quiet"])
    assert resumed.exit_code == 0, resumed.output
    # stage 1 came from its file; stage 2 continued with epochs 2-4 (it died in epoch 2)
    assert interrupted.calls == -100 + 3
    assert _run_dir(resumed.output) == cut and not (cut / "checkpoints").exists()
    metrics = [json.loads((d / "metrics.json").read_text()) for d in (done, cut)]
    assert metrics[0]["test"] == metrics[1]["test"]
    assert metrics[0]["history"] == metrics[1]["history"]
    assert Recommender.load(cut).recommend(["u1"], k=5).equals(
        Recommender.load(done).recommend(["u1"], k=5))
    finished = runner.invoke(app, ["train", "--resume", str(cut)])
    assert finished.exit_code != 0 and "the run finished" in finished.output


@pytest.mark.parametrize("args, match", [
    (["train"], "train needs --config FILE"),
    (["transfer", "--resume", "{cut}", "-o", "dim=4"], "drop --config and the overrides"),
    (["transfer", "--resume", "{cut}"], "not a run of `graphrec transfer`"),
])
def test_resume_refusals(tmp_path, args, match):
    cut = tmp_path / "cut"
    cut.mkdir()
    (cut / "resume.json").write_text(json.dumps({"command": "train", "config": {}}))
    result = runner.invoke(app, [a.format(cut=cut) for a in args])
    assert result.exit_code != 0 and match in " ".join(result.output.split())


def test_a_refused_run_leaves_no_run_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHREC_HOME", str(tmp_path / "home"))
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(epochs=2).replace('"cosmetics"', '"cosmetix"'))
    result = runner.invoke(app, ["train", "-c", str(config), "--runs", str(tmp_path / "runs")])
    assert result.exit_code == 2 and "unknown scenario 'cosmetix'" in result.output
    assert list((tmp_path / "runs").iterdir()) == []
