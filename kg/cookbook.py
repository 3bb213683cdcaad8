"""The Cypher cookbook: parameterised queries kept as ``kg/cypher/<name>.cypher`` files.

A query file starts with ``//`` comment lines: the first is its description, and each
``// @param NAME TYPE [DEFAULT] [MIN..MAX]`` line declares a parameter (TYPE ``str``, ``int`` or
``float``; DEFAULT ``null`` for an optional parameter, none for a required one; an int range
such as ``1..1000``, checked when the query is bound). Parameters always travel to Neo4j as
query parameters, never inside the query text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from kg.errors import ConfigError

CYPHER_DIR = Path(__file__).parent / "cypher"
_TYPES = {"str": str, "int": int, "float": float}
_REQUIRED = object()
INT64 = (-(2**63), 2**63 - 1)  # what a Neo4j integer holds


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: object  # _REQUIRED, None or a value of ``type``
    low: int | None = None
    high: int | None = None

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
                except (TypeError, ValueError, OverflowError):
                    raise ConfigError(f"parameter {p.name!r} of query {self.name!r} must be "
                                      f"{p.type}, got {value!r}") from None
                typed = out[p.name]
                if p.type == "float" and not math.isfinite(typed):
                    raise ConfigError(f"parameter {p.name!r} of query {self.name!r} must be a "
                                      f"finite number, got {value!r}")
                if p.type == "int":
                    low = INT64[0] if p.low is None else p.low
                    high = INT64[1] if p.high is None else p.high
                    if not low <= typed <= high:
                        raise ConfigError(f"parameter {p.name!r} of query {self.name!r} must "
                                          f"be between {low} and {high}, got {value!r}")
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
            low = high = None
            if len(parts) >= 4 and re.fullmatch(r"-?\d+\.\.-?\d+", parts[-1]):
                low, high = (int(x) for x in parts.pop().split(".."))
            if len(parts) not in (3, 4) or parts[2] not in _TYPES:
                raise ConfigError(f"{path}: bad parameter line {h!r}")
            default: object = _REQUIRED
            if len(parts) == 4:
                default = None if parts[3] == "null" else _TYPES[parts[2]](parts[3])
            params.append(Param(parts[1], parts[2], default, low, high))
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


# parameters that name a node, and how to look it up (fixed text, values as parameters)
_REFERENCES = {
    "scenario": ("scenario", "MATCH (n:Scenario {name: $v}) RETURN count(n) AS n"),
    "item": ("item", "MATCH (n:Item {item_id: $v}) RETURN count(n) AS n"),
    "user": ("user", "MATCH (n:User {user_id: $v}) RETURN count(n) AS n"),
}


def unknown_references(run_read, params: dict) -> str | None:
    """Why a query returned nothing, when it is because a parameter names a node that does
    not exist: ``"unknown scenario 'garden'; scenarios are [...]"`` (None when every scenario,
    item and user parameter names a node).

    Args:
        run_read: ``(query, **params) -> rows``, e.g. :meth:`kg.store.Neo4jStore.run_read`.
        params: the bound parameters of the query.
    """
    for name, value in params.items():
        kind = next((k for k in _REFERENCES if name == k or name.startswith(k + "_")), None)
        if kind is None or value is None:
            continue
        what, query = _REFERENCES[kind]
        if run_read(query, v=value)[0]["n"]:
            continue
        if kind == "scenario":
            names = [r["s"] for r in run_read("MATCH (s:Scenario) RETURN s.name AS s "
                                               "ORDER BY s")]
            return f"unknown scenario {value!r} ({name}); scenarios are {names}"
        return f"unknown {what} id {value!r} ({name}); no such node in the graph"
    return None
