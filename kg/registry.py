"""Name -> object registries, so config and the CLI can say ``loader = "cdrib"``."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar, TypeVar

from kg.errors import ConfigError

T = TypeVar("T")


def resolve(name: str, choices: Mapping[str, T], what: str = "name") -> T:
    """Look ``name`` up in ``choices`` (case-insensitive, ``-`` and ``_`` alike).

    Raises:
        ConfigError: ``Could not resolve 'hgtt' among choices ['hgt', 'lightgcn']``.
    """
    wanted = str(name).lower().replace("_", "-")
    for key, value in choices.items():
        if key.lower().replace("_", "-") == wanted:
            return value
    raise ConfigError(f"Could not resolve {what} {name!r} among choices {sorted(choices)}")


def check_fields(cls: type, data: Mapping, what: str) -> dict:
    """Defaults of the dataclass ``cls`` by field name, after checking that ``data`` names only
    fields of it.

    Raises:
        ConfigError: ``unknown training option(s) ['epoch']; known: [...]``.
    """
    defaults = {f.name: f.default for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(defaults))
    if unknown:
        raise ConfigError(f"unknown {what} option(s) {unknown}; known: {sorted(defaults)}")
    return defaults


class Settings:
    """Mixin of option dataclasses: ``from_dict`` that rejects unknown keys.

    Subclasses set ``what`` (used in the error: ``unknown training option(s) [...]``).
    """

    what: ClassVar[str] = "settings"
    #: field -> what leaving it out (None) means, for ``graphrec config show`` (a field not
    #: named here is shown as left out)
    unset: ClassVar[Mapping[str, str]] = {}

    @classmethod
    def from_dict(cls, data: Mapping | None):
        """Build from a mapping (None: defaults); unknown keys are a :class:`ConfigError`."""
        check_fields(cls, data or {}, cls.what)
        return cls(**(data or {}))
