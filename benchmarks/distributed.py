"""Data-parallel training: 1 process against N ``torchrun`` processes (gloo on CPU).

Runs ``graphrec train`` on the same config with 1 and with ``--processes`` processes and
prints seconds per epoch and the test metrics of both (they should agree: the gradient of
each batch is the same, split across processes). Every process propagates the whole graph,
so only the loss and backward over pairs are divided: expect a modest speed-up, and none on a
machine with as many cores as processes' threads. Usage::

    .venv/bin/python -m benchmarks.distributed [--xmarket ../shared/data/xmarket_electronics]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.report import print_table

SYNTHETIC = """[data]
loader = "synthetic"
options = { n_users = 3000 }
[train]
target = "cosmetics"
strategy = "joint"
epochs = 10
patience = 100
seed = 0
"""

XMARKET = """[data]
loader = "xmarket"
path = "{path}"
options = {{ markets = ["de", "uk", "ca"] }}
[split]
method = "leave-one-out"
[train]
target = "de"
strategy = "joint"
epochs = 5
patience = 100
seed = 0
"""


def train(config: Path, processes: int, runs: Path) -> dict:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone",
                 "--nproc_per_node", str(processes)] if processes > 1 else [sys.executable])
    done = subprocess.run([*launcher, "-m", "graphrec", "train", "-c", str(config), "--runs",
                           str(runs), "--quiet"], capture_output=True, text=True,
                          env={**os.environ})
    if done.returncode:
        raise SystemExit(done.stdout + done.stderr)
    (run_dir,) = list(runs.iterdir())
    return json.loads((run_dir / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xmarket", default=None)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores\n")
    configs = {"synthetic (3,000 users)": SYNTHETIC}
    if args.xmarket:
        configs["XMarket de <- uk, ca"] = XMARKET.format(path=Path(args.xmarket).resolve())
    lines = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in configs.items():
            config = Path(tmp) / f"{len(lines)}.toml"
            config.write_text(text)
            for processes in (1, args.processes):
                m = train(config, processes, Path(tmp) / f"runs-{len(lines)}-{processes}")
                per_epoch = m["seconds"] / max(len(m["history"]), 1)
                lines.append(f"| {name} | {processes} | {per_epoch:.2f} | "
                             f"{m['test']['all']['ndcg@20']:.4f} | {m['best_epoch']} |")
                print(lines[-1], flush=True)
    print()
    print_table(["data", "processes", "s/epoch (incl. validation)", "test NDCG@20", "epoch"],
                lines)


if __name__ == "__main__":
    main()
