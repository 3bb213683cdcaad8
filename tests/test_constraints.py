"""``constraints.txt``, the exact versions ``scripts/install.sh`` installs: it must pin every
dependency ``pyproject.toml`` names (a new one left out would be resolved afresh on every
machine, and the recorded figures would stop repeating), each pin must satisfy the bounds
``pyproject.toml`` sets, and the environment under test must be the pinned one."""

import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).parent.parent


def _pins(text: str) -> dict[str, str]:
    """Package (canonical name) -> pinned version, from a constraints file's ``name==version``
    lines; any other line but comments and blanks is an error."""
    pins = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, version = line.partition("==")
        assert sep and name and version, f"constraints.txt line {number}: not name==version"
        assert canonicalize_name(name) not in pins, f"constraints.txt line {number}: twice"
        pins[canonicalize_name(name)] = version
    return pins


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    named = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        named += extra
    return [Requirement(r) for r in named]


def test_every_dependency_is_pinned_within_its_bounds():
    pins = _pins((ROOT / "constraints.txt").read_text())
    requirements = _requirements()
    assert len(requirements) > 10
    for requirement in requirements:
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{requirement.name} is not pinned in constraints.txt"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {requirement.name}=={pins[name]}, outside pyproject.toml's "
            f"{requirement.specifier}")


def test_the_environment_is_the_pinned_one():
    pins = _pins((ROOT / "constraints.txt").read_text())
    for name in ("numpy", "scipy", "torch", "torch-geometric", "scikit-learn", "pandas"):
        assert metadata.version(name) == pins[name], (
            f"{name} {metadata.version(name)} is installed, constraints.txt pins {pins[name]}: "
            f"run scripts/install.sh")


def test_pins_reject_malformed_lines():
    assert _pins("# header\n\nnumpy==2.0\nTorch_Geometric==2.5\n") == {
        "numpy": "2.0", "torch-geometric": "2.5"}
    for bad in ("numpy>=2.0\n", "numpy==2.0\nnumpy==2.1\n"):
        with pytest.raises(AssertionError, match="constraints.txt line"):
            _pins(bad)
