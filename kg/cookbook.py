"""The Cypher cookbook: parameterised queries kept as ``kg/cypher/<name>.cypher`` files.

A query file starts with ``//`` comment lines: the first is its description, and each
``// @param NAME TYPE [DEFAULT]`` line declares a parameter (TYPE ``str``, ``int`` or
``float``; DEFAULT ``null`` for an optional parameter, none for a required one). Parameters
always travel to Neo4j as query parameters, never inside the query text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from kg.errors import ConfigError

CYPHER_DIR = Path(__file__).parent / "cypher"
_TYPES = {"str": str, "int": int, "float": float}
_REQUIRED = object()


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: object  # _REQUIRED, None or a value of ``type``

    @property
    def required(self) -> bool:
        return self.default is _REQUIRED


@dataclass(frozen=True)
class CookbookQuery:
    """One query of the cookbook."""

    name: str
    description: str
    params: tuple[Param, ...]
    text: str

    def bind(self, given: dict[str, str | int | float | None]) -> dict:
        """Typed parameters from ``given`` (strings from the CLI are converted).

        Raises:
            ConfigError: an unknown or missing parameter, or a value of the wrong type.
        """
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ConfigError(f"query {self.name!r} has no parameter(s) {unknown}; its "
                              f"parameters are {sorted(known)}")
        out = {}
        for p in self.params:
            if p.name in given and given[p.name] is not None:
                value = given[p.name]
                try:
                    out[p.name] = _TYPES[p.type](value)
                except (TypeError, ValueError):
                    raise ConfigError(f"parameter {p.name!r} of query {self.name!r} must be "
                                      f"{p.type}, got {value!r}") from None
            elif p.required:
                raise ConfigError(f"query {self.name!r} needs parameter {p.name!r} "
                                  f"(--param {p.name}=...)")
            else:
                out[p.name] = p.default
        return out


def _parse(path: Path) -> CookbookQuery:
    lines = path.read_text("utf-8").splitlines()
    header = []
    for line in lines:
        if not line.startswith("//"):
            break
        header.append(line[2:].strip())
    description_lines, params = [], []
    for h in header:
        if h.startswith("@param"):
            parts = h.split()
            if len(parts) not in (3, 4) or parts[2] not in _TYPES:
                raise ConfigError(f"{path}: bad parameter line {h!r}")
            default: object = _REQUIRED
            if len(parts) == 4:
                default = None if parts[3] == "null" else _TYPES[parts[2]](parts[3])
            params.append(Param(parts[1], parts[2], default))
        else:
            description_lines.append(h)
    return CookbookQuery(path.stem, " ".join(description_lines), tuple(params),
                         "\n".join(lines))


def cookbook() -> dict[str, CookbookQuery]:
    """Every cookbook query by name."""
    return {p.stem: _parse(p) for p in sorted(CYPHER_DIR.glob("*.cypher"))}


def get_query(name: str) -> CookbookQuery:
    """The cookbook query ``name``; :class:`ConfigError` listing the others if unknown."""
    queries = cookbook()
    if name not in queries:
        raise ConfigError(f"no cookbook query {name!r}; queries are {sorted(queries)}")
    return queries[name]
