"""What every loader returns, and line-level readers that report file and line on bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from kg.errors import DataError
from kg.tables import KGTables


@dataclass(frozen=True)
class Dataset:
    """A loaded data set: the knowledge graph and the data set's own splits.

    Attributes:
        name: data set name, e.g. ``cdrib``.
        tables: the validated canonical tables; ``tables.interactions['split']`` says which of the
            data set's splits each interaction belongs to.
        info: facts worth reporting (e.g. CDRIB's common-user count C), JSON-serialisable.
        source: what was read, as :func:`loaders.load_dataset` names it (loader, absolute path,
            options), e.g. ``cdrib /data/cdrib_amazon pair=game_video``; a store tells data
            sets apart by it (:mod:`kg.store.datasets`).
    """

    name: str
    tables: KGTables
    info: dict = field(default_factory=dict)
    source: str = ""

    @property
    def split_names(self) -> list[str]:
        """Names of the splits present, in order of first appearance."""
        return list(dict.fromkeys(self.tables.interactions["split"]))

    def split(self, name: str) -> pd.DataFrame:
        """Interactions of split ``name`` (canonical interaction columns)."""
        if name not in self.split_names:
            raise DataError(f"split {name!r} does not exist; splits are {self.split_names}",
                            source=self.name)
        inter = self.tables.interactions
        return inter[inter["split"] == name].reset_index(drop=True)


def require_file(path: Path) -> Path:
    """``path`` if it is a readable, non-empty file; else a :class:`DataError` naming it."""
    if not path.is_file():
        raise DataError("file not found (check the data set path)", source=str(path))
    if path.stat().st_size == 0:
        raise DataError("file is empty", source=str(path))
    return path


def read_records(path: Path, sep: str | None, n_fields: int, *, header: bool = False,
                 max_fields: int | None = None, encoding: str = "utf-8",
                 skip_blank: bool = True) -> Iterator[tuple[int, list[str]]]:
    """Yield ``(line_number, fields)`` for each record of a delimited text file.

    Args:
        path: the file.
        sep: field separator (``None``: any whitespace).
        n_fields: the least number of fields a record must have.
        header: skip the first line.
        max_fields: the most fields allowed (default ``n_fields``); when larger than
            ``n_fields``, a line is split at most ``max_fields - 1`` times (free text last).
        encoding: the file's encoding; a byte sequence that does not decode raises
            :class:`DataError` with the line.

    Raises:
        DataError: empty file, undecodable bytes or a wrong number of fields, with file and line.
    """
    require_file(path)
    max_fields = max_fields or n_fields
    with path.open("rb") as fh:
        seen = 0
        for lineno, raw in enumerate(fh, start=1):
            try:
                line = raw.decode(encoding).rstrip("\r\n")
            except UnicodeDecodeError as exc:
                raise DataError(f"bytes are not valid {encoding} ({exc.reason} at byte "
                                f"{exc.start}); re-encode the file as {encoding}",
                                source=str(path), line=lineno) from None
            if lineno == 1 and header:
                continue
            if skip_blank and not line.strip():
                continue
            limit = max_fields - 1 if max_fields > n_fields else -1
            fields = line.split(sep, limit)
            if not (n_fields <= len(fields) <= max_fields):
                raise DataError(f"expected {n_fields} fields separated by {sep or 'whitespace'!r}"
                                f", found {len(fields)}: {line[:80]!r}",
                                source=str(path), line=lineno)
            seen += 1
            yield lineno, fields
        if seen == 0:
            raise DataError("file holds no records", source=str(path))


def parse_id(value: str, path: Path, line: int, what: str) -> int:
    """A numeric id: a non-negative integer (the rule of the cdrib, amazon-hin and ml1m
    formats), or a :class:`DataError` naming file, line and field."""
    number = parse_int(value, path, line, what)
    if number < 0:
        raise DataError(f"{what} must be a non-negative integer, got {value!r}",
                        source=str(path), line=line)
    return number


TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9]+$")


def check_token(value: str, path: Path, line: int, what: str) -> str:
    """A token id (letters and digits only, e.g. an ASIN), or a :class:`DataError`."""
    if not TOKEN_PATTERN.match(value):
        raise DataError(f"{what} must be letters and digits only, got {value!r}",
                        source=str(path), line=line)
    return value


def parse_int(value: str, path: Path, line: int, what: str) -> int:
    """``int(value)`` or a :class:`DataError` naming file, line and field."""
    try:
        return int(value)
    except ValueError:
        raise DataError(f"{what} must be an integer, got {value!r}", source=str(path),
                        line=line) from None


def parse_float(value: str, path: Path, line: int, what: str) -> float:
    """``float(value)`` (finite) or a :class:`DataError` naming file, line and field."""
    try:
        out = float(value)
    except ValueError:
        out = float("nan")
    if out != out or out in (float("inf"), float("-inf")):
        raise DataError(f"{what} must be a finite number, got {value!r}", source=str(path),
                        line=line)
    return out


def check_unique(keys: list, lines: list[int], path: Path, what: str) -> None:
    """Raise :class:`DataError` at the first line whose key was seen before."""
    seen: dict = {}
    for key, line in zip(keys, lines, strict=True):
        if key in seen:
            raise DataError(f"duplicate {what} {key!r} (first seen on line {seen[key]})",
                            source=str(path), line=line)
        seen[key] = line
