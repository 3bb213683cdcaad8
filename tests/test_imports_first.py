"""Every module of graphrec, kg and loaders imports as the first one of the project that a
process imports: an import cycle between the layers (graphrec.data -> graphrec.training ->
graphrec.models -> graphrec.data) only shows when a cycle's module is imported first, which
the suite, importing many modules in one process, would otherwise never do."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

CHECK = textwrap.dedent("""
    import importlib, pkgutil, sys
    import torch, torch_geometric  # imported once: what each fresh import below reuses
    names = []
    for package in ("kg", "loaders", "graphrec"):
        module = importlib.import_module(package)
        names += [package] + [m.name for m in pkgutil.walk_packages(module.__path__,
                                                                      package + ".")
                              if not m.name.endswith("__main__")]
    failed = []
    for name in names:
        for key in [k for k in sys.modules if k.split(".")[0] in ("kg", "loaders", "graphrec")]:
            del sys.modules[key]
        try:
            importlib.import_module(name)
        except Exception as exc:
            failed.append(f"{name}: {type(exc).__name__}: {exc}")
    print(len(names))
    print("\\n".join(failed))
""")


@pytest.mark.heavy
def test_every_module_imports_first():
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", CHECK], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    count, *failed = done.stdout.strip().splitlines()
    assert int(count) > 80  # the walk found the packages' modules
    assert failed == [], "\n".join(failed)
