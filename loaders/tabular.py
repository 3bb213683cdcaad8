"""A user's own CSV/TSV/Parquet files, mapped to the canonical tables by a TOML file.

Example mapping (paths are relative to the TOML file; only ``[interactions]`` is required)::

    scenario = "books"              # scenario of every row when no scenario column is mapped

    [interactions]
    path = "ratings.csv"
    user = "user"                   # column names in the file
    item = "item"
    scenario = "market"             # optional
    weight = "rating"               # optional (default 1.0)
    ts = "unix_time"                # optional, integer seconds
    split = "split"                 # optional: bring your own train/valid/test split

    [items]                         # optional: items and their attributes
    path = "items.csv"
    item = "item"
    scenario = "market"             # optional
    attributes = { brand = "brand", category = "categories" }   # kind = column
    separator = "|"                 # several values in one cell

    [user_attributes]               # optional
    path = "users.csv"
    user = "user"
    attributes = { age_band = "age" }

    [item_links]                    # optional
    path = "links.csv"
    item = "left"
    other = "right"
    relation = "SAME_PRODUCT"       # or ALSO_VIEWED

Ids are opaque strings: any non-empty text without surrounding spaces or control characters
(``-5`` and ``007`` are ids like any other, and ``007`` is not ``7``). Errors name the file and
line (the header is line 1) and the rule broken.
"""

from __future__ import annotations

import io
import tomllib
from pathlib import Path

import pandas as pd

from kg import schema
from kg.errors import ConfigError, DataError
from kg.tables import make_tables
from loaders.base import Dataset, require_file

_SECTIONS = {
    "interactions": {"path", "user", "item", "scenario", "weight", "ts", "split"},
    "items": {"path", "item", "scenario", "attributes", "separator"},
    "user_attributes": {"path", "user", "attributes", "separator"},
    "item_links": {"path", "item", "other", "relation"},
}


def _utf8_text(path: Path) -> str:
    """The file as UTF-8 text (one read); a :class:`DataError` naming the line of the first NUL
    byte or invalid byte (pandas would drop a NUL silently)."""
    raw = path.read_bytes()
    nul = raw.find(b"\x00")
    if nul >= 0:
        raise DataError("binary data (a NUL byte); expected UTF-8 text", source=str(path),
                        line=raw.count(b"\n", 0, nul) + 1)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = raw.rfind(b"\n", 0, exc.start) + 1
        raise DataError(f"bytes are not valid UTF-8 ({exc.reason} at byte "
                        f"{exc.start - start} of the line); re-encode the file",
                        source=str(path), line=raw.count(b"\n", 0, exc.start) + 1) from None


def _read_frame(path: Path) -> pd.DataFrame:
    require_file(path)
    try:
        if path.suffix == ".parquet":
            return pd.read_parquet(path).astype(str)
        sep = "\t" if path.suffix in (".tsv", ".tab") else ","
        return pd.read_csv(io.StringIO(_utf8_text(path)), sep=sep, dtype=str,
                           keep_default_na=False)
    except (pd.errors.ParserError, ValueError, OSError) as exc:
        raise DataError(f"cannot be parsed: {exc}", source=str(path)) from None


ID_KEYS = ("user", "item", "other")


def _column(df: pd.DataFrame, section: dict, key: str, path: Path, required: bool = True):
    name = section.get(key)
    if name is None:
        if required:
            raise ConfigError(f"mapping for {path.name} must name the {key!r} column")
        return None
    if name not in df.columns:
        raise DataError(f"column {name!r} (mapped as {key!r}) not found; columns are "
                        f"{list(df.columns)}", source=str(path), line=1)
    col = df[name].astype(str)
    empty = col.str.strip() == ""
    if required and empty.any():
        raise DataError(f"column {name!r} is empty", source=str(path),
                        line=int(empty.to_numpy().nonzero()[0][0]) + 2)
    if key in ID_KEYS:
        bad = (col != col.str.strip()) | col.str.contains(r"[\x00-\x1f\x7f]", regex=True)
        if bad.any():
            pos = int(bad.to_numpy().nonzero()[0][0])
            raise DataError(f"id {col.iloc[pos]!r} in column {name!r} has surrounding spaces or "
                            "control characters; ids are opaque strings without them",
                            source=str(path), line=pos + 2)
    return col


def _numbers(col: pd.Series, path: Path, what: str, integer: bool) -> pd.Series:
    out = pd.to_numeric(col, errors="coerce")
    bad = out.isna() | ((out % 1 != 0) if integer else False)
    if bad.any():
        pos = int(bad.to_numpy().nonzero()[0][0])
        raise DataError(f"{what} must be {'an integer' if integer else 'a number'}, got "
                        f"{col.iloc[pos]!r}", source=str(path), line=pos + 2)
    return out.astype("int64") if integer else out.astype(float)


def _attributes(df: pd.DataFrame, section: dict, id_col: pd.Series, path: Path) -> pd.DataFrame:
    mapping = section.get("attributes", {})
    if not isinstance(mapping, dict):
        raise ConfigError(f"'attributes' for {path.name} must be a table kind = column")
    sep = section.get("separator")
    rows = []
    for kind, column in mapping.items():
        schema.check_kind(kind)
        values = _column(df, {"c": column}, "c", path, required=False)
        for ident, cell in zip(id_col, values, strict=True):
            for v in (cell.split(sep) if sep else [cell]):
                if v.strip():
                    rows.append((ident, kind, v.strip()))
    return pd.DataFrame(rows, columns=["x", "kind", "value"]).drop_duplicates()


def load_tabular(path: str | Path) -> Dataset:
    """Load user files as described by the TOML mapping at ``path``."""
    mapping_path = Path(path)
    require_file(mapping_path)
    try:
        mapping = tomllib.loads(mapping_path.read_text("utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{mapping_path}: not valid TOML: {exc}") from None
    unknown = sorted(set(mapping) - set(_SECTIONS) - {"scenario"})
    if unknown:
        raise ConfigError(f"{mapping_path}: unknown section(s) {unknown}; known: "
                          f"{sorted(_SECTIONS)} and 'scenario'")
    for name, section in mapping.items():
        if name in _SECTIONS:
            extra = sorted(set(section) - _SECTIONS[name])
            if extra:
                raise ConfigError(f"{mapping_path}: unknown key(s) {extra} in [{name}]; "
                                  f"known: {sorted(_SECTIONS[name])}")
            if "path" not in section:
                raise ConfigError(f"{mapping_path}: [{name}] needs a 'path'")
    if "interactions" not in mapping:
        raise ConfigError(f"{mapping_path}: an [interactions] section is required")
    default_scenario = mapping.get("scenario")
    base = mapping_path.parent

    sec = mapping["interactions"]
    f = base / sec["path"]
    df = _read_frame(f)
    inter = pd.DataFrame({"user_id": _column(df, sec, "user", f),
                          "item_id": _column(df, sec, "item", f)})
    sc = _column(df, sec, "scenario", f, required=False)
    if sc is None and default_scenario is None:
        raise ConfigError(f"{mapping_path}: map a scenario column or set scenario = \"...\"")
    inter["scenario"] = sc if sc is not None else default_scenario
    for key, integer in (("weight", False), ("ts", True)):
        col = _column(df, sec, key, f, required=False)
        if col is not None:
            inter[key] = _numbers(col, f, key, integer)
    split = _column(df, sec, "split", f, required=False)
    inter["split"] = split if split is not None else "all"
    dup = inter.duplicated(["user_id", "item_id"])
    if dup.any():
        pos = int(dup.to_numpy().nonzero()[0][0])
        raise DataError(f"duplicate user-item pair ({inter.user_id.iloc[pos]}, "
                        f"{inter.item_id.iloc[pos]})", source=str(f), line=pos + 2)
    for pos, name in enumerate(inter["scenario"]):
        try:
            schema.check_scenario(name)
        except DataError as exc:
            raise DataError(str(exc), source=str(f), line=pos + 2) from None

    items = inter[["item_id", "scenario"]].drop_duplicates("item_id")
    item_attrs = pd.DataFrame(columns=["item_id", "kind", "value"])
    if "items" in mapping:
        sec = mapping["items"]
        f = base / sec["path"]
        df = _read_frame(f)
        ids = _column(df, sec, "item", f)
        sc = _column(df, sec, "scenario", f, required=False)
        listed = pd.DataFrame({"item_id": ids,
                               "scenario": sc if sc is not None else default_scenario})
        known = dict(zip(items["item_id"], items["scenario"], strict=True))
        clash = listed["item_id"].map(known).notna() & (
            listed["item_id"].map(known) != listed["scenario"])
        if clash.any():
            pos = int(clash.to_numpy().nonzero()[0][0])
            raise DataError(f"item {ids.iloc[pos]!r} is in scenario {listed.scenario.iloc[pos]!r}"
                            f" here but in {known[ids.iloc[pos]]!r} in the interactions",
                            source=str(f), line=pos + 2)
        items = pd.concat([items, listed], ignore_index=True).drop_duplicates("item_id")
        item_attrs = _attributes(df, sec, ids, f).rename(columns={"x": "item_id"})
    user_attrs = pd.DataFrame(columns=["user_id", "kind", "value"])
    if "user_attributes" in mapping:
        sec = mapping["user_attributes"]
        f = base / sec["path"]
        df = _read_frame(f)
        ids = _column(df, sec, "user", f)
        user_attrs = _attributes(df, sec, ids, f).rename(columns={"x": "user_id"})
        user_attrs = user_attrs[user_attrs["user_id"].isin(set(inter["user_id"]))]
    links = pd.DataFrame(columns=["item_id", "other_id", "relation"])
    if "item_links" in mapping:
        sec = mapping["item_links"]
        f = base / sec["path"]
        df = _read_frame(f)
        links = pd.DataFrame({"item_id": _column(df, sec, "item", f),
                              "other_id": _column(df, sec, "other", f),
                              "relation": schema.check_item_link_type(
                                  sec.get("relation", schema.SAME_PRODUCT))})
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": sorted(items["scenario"].unique())}),
        users=pd.DataFrame({"user_id": inter["user_id"].unique()}),
        items=items, interactions=inter, item_attributes=item_attrs,
        user_attributes=user_attrs, item_links=links,
    ).validate()
    return Dataset("tabular", tables, {"mapping": str(mapping_path)})
