"""Run every command the README shows, as a new user would, and record what each one did.

Each line of a ``bash`` block of README.md that starts with ``graphrec`` or ``bash scripts/``
runs here once, in README order, as a fresh process, in a scratch folder with its own
``GRAPHREC_HOME`` (its local store, runs and Neo4j server). What the README leaves to the
reader is filled in:

- ``[a | b]`` runs as ``a``, ``[a]`` as ``a``;
- the files the commands name (``my.toml``, ``my_mapping.toml``, ``second_export.toml``,
  ``users.txt``, ``new_items.csv``) are written first; ``../shared/data`` is the shared data;
- ``RUN_DIR`` is the run ``graphrec train --config my.toml`` made; for ``train --resume
  RUN_DIR`` it is a run of the same config interrupted with Ctrl-C (SIGINT) after its first
  checkpoint;
- the alternative loads of the "Data sets" block each start from an empty store
  (``graphrec kg clear --yes``), since a store holds one data set;
- ``graphrec neo4j start --auth`` gets a fresh ``NEO4J_PASSWORD`` from the environment, as the
  README says, and ``graphrec neo4j stop`` runs last; ``graphrec neo4j shell`` reads one
  statement from standard input;
- ``--device cuda:0`` must run where torch sees a GPU and be refused with a clear message
  where it does not;
- ``bash scripts/test.sh`` is not run from here: it is exactly what CI runs (``.ci/run``) on
  every change, and the suite checks this walkthrough's results.

The rows (README line, the command as written and as run, expected outcome, exit status,
seconds, the last lines of output) go to ``benchmarks/results/readme_walkthrough.json`` and
``.md``; ``tests/test_readme_commands.py`` fails when a README command is missing from them
or did not do what was expected, so the README cannot change without this being run again.

Usage::

    .venv/bin/python -m benchmarks.readme_walkthrough [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
#: run by CI on every change, not from here (the suite checks these results)
RUN_BY_CI = "bash scripts/test.sh"
NEO4J_PORT = 7687
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
#: the installed CLI, beside this interpreter
GRAPHREC = str(Path(sys.executable).with_name("graphrec"))


def readme_commands() -> list[tuple[int, str]]:
    """``(line, command)`` of every line of a ``bash`` block of the README that runs graphrec
    or one of its scripts, the trailing comment cut off."""
    found, in_bash = [], False
    for number, line in enumerate(README.read_text("utf-8").splitlines(), 1):
        if line.startswith("```"):
            in_bash = line.strip() == "```bash"
            continue
        if in_bash and line.startswith(("graphrec ", "bash scripts/")):
            found.append((number, line.split("  #")[0].split(" # ")[0].strip()))
    return found


def as_written(command: str) -> list[str]:
    """The arguments of a README line: ``[a | b]`` means a, ``[a]`` means a."""
    command = re.sub(r"\[([^\]|]*?)(?:\s*\|[^\]]*)?\]", r"\1", command)
    return command.split()


@dataclass
class Step:
    """One process run: its arguments, what it must do, and what it did."""

    args: list[str]
    expect: str = "exit 0"
    stdin: str | None = None
    rc: int | None = None
    seconds: float = 0.0
    output: str = ""

    @property
    def ok(self) -> bool:
        if self.expect == "exit 0":
            return self.rc == 0 and "Traceback" not in self.output
        if self.expect.startswith("refused: "):  # a clear message, no traceback
            return (self.rc not in (0, None) and self.expect[9:] in self.output
                    and "Traceback" not in self.output)
        return False

    def tail(self, lines: int = 3) -> str:
        kept = [line.strip() for line in self.output.splitlines() if line.strip()]
        return " / ".join(kept[-lines:])[-300:]


class Walkthrough:
    """The scratch folder, its environment, and the README commands run so far."""

    def __init__(self, work: Path):
        self.work = work
        self.home = work / "home"
        (work / "shared").symlink_to(ROOT.parent / "shared")  # ../shared/data from work/cwd
        self.cwd = work / "cwd"
        self.cwd.mkdir()
        (self.cwd / "examples").symlink_to(ROOT / "examples")
        bin_dir = Path(sys.executable).parent
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith("NEO4J_") and k != "GRAPHREC_STORE"}
        self.env.update(GRAPHREC_HOME=str(self.home), NEO4J_PASSWORD=secrets.token_urlsafe(16),
                        PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
                        COLUMNS="120")
        self.run_dir: Path | None = None
        self.rows: list[dict] = []
        self.setup: list[Step] = []

    # -- processes -----------------------------------------------------------------------
    def execute(self, step: Step, cwd: Path | None = None) -> Step:
        start = time.perf_counter()
        done = subprocess.run(step.args, cwd=cwd or self.cwd, env=self.env, input=step.stdin,
                              capture_output=True, text=True, timeout=1800, check=False)
        step.seconds = time.perf_counter() - start
        step.rc = done.returncode
        step.output = ANSI.sub("", done.stdout + done.stderr)
        return step

    def prepare(self, args: list[str]) -> None:
        """A set-up command that is not a README line; it must succeed."""
        step = self.execute(Step(args))
        self.setup.append(step)
        if not step.ok:
            raise SystemExit(f"set-up `{' '.join(args)}` failed ({step.rc}):\n{step.output}")

    def record(self, line: int, readme: str, step: Step, note: str = "") -> None:
        shown = " ".join(a.replace(str(self.work), "$WORK") for a in step.args)
        self.rows.append({"line": line, "readme": readme, "ran": shown, "expect": step.expect,
                          "rc": step.rc, "ok": step.ok, "seconds": round(step.seconds, 1),
                          "note": note, "output_tail": step.tail()})
        mark = "ok " if step.ok else "FAIL"
        print(f"{mark} {step.seconds:6.1f}s  README:{line}  {readme}", flush=True)
        if not step.ok:
            print("     " + step.output[-2000:].replace("\n", "\n     "), flush=True)

    # -- files the README names ----------------------------------------------------------
    def write_inputs(self) -> None:
        c = self.cwd
        ratings = ["user,item,rating,split"]
        for u in range(40):
            for j in range(6):
                split = "test" if j == 5 else "valid" if j == 4 else "train"
                ratings.append(f"p{u},b{(u * 7 + j * 3) % 30},{1 + (u + j) % 5},{split}")
        (c / "ratings.csv").write_text("\n".join(ratings) + "\n")
        (c / "books.csv").write_text("item,author\n" + "\n".join(
            f"b{i},author{i % 6}" for i in range(30)) + "\n")
        (c / "my_mapping.toml").write_text(
            'scenario = "books"\n\n[interactions]\npath = "ratings.csv"\nuser = "user"\n'
            'item = "item"\nweight = "rating"\nsplit = "split"\n\n[items]\npath = "books.csv"\n'
            'item = "item"\nattributes = { author = "author" }\n')
        (c / "more_ratings.csv").write_text("user,item,split\n" + "\n".join(
            f"p{u},b{(u * 5) % 30},train" for u in range(10)) + "\n")
        (c / "second_export.toml").write_text(
            'scenario = "books"\n\n[interactions]\npath = "more_ratings.csv"\nuser = "user"\n'
            'item = "item"\nsplit = "split"\n')
        (c / "my.toml").write_text(
            '# the demo\'s data set, one strategy\n[data]\nloader = "synthetic"\npath = "-"\n\n'
            '[train]\ntarget = "cosmetics"\nstrategy = "joint"\nseed = 0\n')
        (c / "users.txt").write_text("u1\nu2\nu3\n")
        (c / "new_items.csv").write_text("item_id,brand,category\nnew1,brand4,cat6\n"
                                         "new2,brand5|brand6,cat2\n")

    # -- special cases -------------------------------------------------------------------
    def runs(self) -> set[Path]:
        folder = self.home / "runs"
        return set(folder.iterdir()) if folder.is_dir() else set()

    def interrupted_run(self) -> Path:
        """A ``train --config my.toml`` run stopped by SIGINT after its first checkpoint."""
        before = self.runs()
        proc = subprocess.Popen([GRAPHREC, "train", "--config", "my.toml", "--quiet"],
                                cwd=self.cwd, env=self.env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True,
                                # a background shell starts us with SIGINT ignored, and an
                                # ignored signal stays ignored in children: undo that
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and proc.poll() is None:
            new = self.runs() - before
            if new and any(next(iter(new)).glob("checkpoints/*.pt")):
                proc.send_signal(signal.SIGINT)
                break
            time.sleep(0.02)
        output = proc.communicate(timeout=600)[0]
        new = self.runs() - before
        if proc.returncode != 130 or len(new) != 1:
            raise SystemExit(f"could not interrupt a run (exit {proc.returncode}):\n{output}")
        return next(iter(new))

    def fill(self, args: list[str]) -> list[str]:
        """README arguments with placeholders replaced and the executable resolved."""
        filled = [GRAPHREC if i == 0 and a == "graphrec" else a for i, a in enumerate(args)]
        if "RUN_DIR" in filled:
            if self.run_dir is None:
                raise SystemExit("RUN_DIR used before `graphrec train --config my.toml` ran")
            filled = [str(self.run_dir) if a == "RUN_DIR" else a for a in filled]
        return filled

    def walk(self) -> None:
        import torch  # only to know what --device cuda:0 must do here

        has_cuda = torch.cuda.is_available()
        self.write_inputs()
        seen: dict[str, int] = {}
        deferred: list[tuple[int, str]] = []
        for line, command in readme_commands():
            if command in seen:
                continue  # the same command twice in the README runs once
            seen[command] = line
            args = as_written(command)
            if command == RUN_BY_CI or args[:3] == ["graphrec", "neo4j", "stop"]:
                deferred.append((line, command))
                continue
            note, step = "", None
            if args[0] == "bash":
                step = self.execute(Step(args), cwd=ROOT)
                self.record(line, command, step, "run from the repository root")
                continue
            if args[1:3] == ["kg", "load"] and not {"--namespace", "--merge", "--store"} & set(
                    args):
                self.prepare([GRAPHREC, "kg", "clear", "--yes"])
                note = "alternative load: the store was emptied first"
            if args[1:3] == ["neo4j", "start"]:
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", NEO4J_PORT)) == 0:
                        raise SystemExit(f"port {NEO4J_PORT} is taken; stop that server first")
            step = Step(self.fill(args))
            if args[1:3] == ["neo4j", "shell"]:
                step.stdin, note = "RETURN 1 + 1 AS two;\n", "one statement on stdin"
            if "--device" in args and args[args.index("--device") + 1].startswith("cuda"):
                if not has_cuda:
                    step.expect = "refused: torch sees no CUDA GPU on this machine"
                    note = "no GPU here: must be refused before a run directory is made"
            if args[1:3] == ["train", "--resume"]:
                resumed = self.interrupted_run()
                step.args = [str(resumed) if a == str(self.run_dir) else a for a in step.args]
                note = "RUN_DIR: a run of my.toml interrupted by SIGINT after one checkpoint"
            for name in ("recs.csv", "new.parquet"):
                if name in args:
                    (self.cwd / name).unlink(missing_ok=True)
            before = self.runs()
            self.execute(step)
            if args[1:] == ["train", "--config", "my.toml"] and step.ok:
                made = self.runs() - before
                self.run_dir = next(iter(made)) if len(made) == 1 else None
                note = "its run directory is RUN_DIR below"
            self.record(line, command, step, note)
        for line, command in deferred:
            if command == RUN_BY_CI:
                self.rows.append({"line": line, "readme": command, "ran": "", "expect": "CI",
                                  "rc": None, "ok": True, "seconds": None,
                                  "note": "run by CI (.ci/run) on every change",
                                  "output_tail": ""})
                continue
            self.record(line, command, self.execute(Step(self.fill(as_written(command)))),
                        "run last, after every command that needs the server")
        self.rows.sort(key=lambda r: r["line"])

    def stop_server(self) -> None:
        subprocess.run([GRAPHREC, "neo4j", "stop"], cwd=self.cwd, env=self.env,
                       capture_output=True, check=False, timeout=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="Scratch folder to use and keep "
                                                  "(default: a temporary one, removed).")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="graphrec-readme-"))
    work.mkdir(parents=True, exist_ok=True)
    walk = Walkthrough(work)
    started = time.perf_counter()
    try:
        walk.walk()
    finally:
        walk.stop_server()
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    from benchmarks.report import write_results

    failed = [r for r in walk.rows if not r["ok"]]
    write_results("readme_walkthrough", walk.rows,
                  ["line", "readme", "expect", "rc", "ok", "seconds", "note"],
                  "python -m benchmarks.readme_walkthrough",
                  protocol="every graphrec and scripts/ line of the README's bash blocks, run "
                           "once in README order as a fresh process in a scratch "
                           "GRAPHREC_HOME (see the module docstring)",
                  total_seconds=round(time.perf_counter() - started, 1),
                  setup=[" ".join(s.args[1:]) for s in walk.setup])
    print(f"{len(walk.rows) - len(failed)} of {len(walk.rows)} README commands did what was "
          f"expected in {time.perf_counter() - started:.0f} s")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
