"""The suite's own schedule: under ``--dist loadgroup`` (scripts/test.sh) every ``heavy`` test
runs on one worker, so the other never waits on the heavy lock. A pytest or pytest-xdist
release that loses the groups (pytest 9.2 did, see pyproject.toml) fails here instead of
silently slowing the suite."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent

PROBES = '''
import os
import time
from pathlib import Path

import pytest


def _record(name):
    (Path(__file__).parent / name).write_text(os.environ["PYTEST_XDIST_WORKER"])


@pytest.mark.parametrize("k", range(6))
@pytest.mark.heavy
def test_heavy(k):
    time.sleep(0.1)
    _record(f"heavy{k}")


@pytest.mark.parametrize("k", range(6))
def test_light(k):  # work for the other worker
    time.sleep(0.1)
'''


@pytest.mark.heavy
def test_heavy_tests_share_one_worker_under_loadgroup(tmp_path):
    (tmp_path / "test_probes.py").write_text(PROBES)
    # the project's conftest as a plugin (its grouping hook), the probes' folder as rootdir
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "-n", "2", "--dist", "loadgroup", "--rootdir", str(tmp_path), "-c", "/dev/null",
         "-o", "markers=heavy: probe", str(tmp_path / "test_probes.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    heavy = {(tmp_path / f"heavy{k}").read_text() for k in range(6)}
    assert len(heavy) == 1, f"heavy tests ran on {sorted(heavy)}"
