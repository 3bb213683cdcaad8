"""MovieLens-1M cold-start splits with attributes (Lu et al., KDD 2020; rootlu/MetaHIN).

Files: ``<split>.json`` (``{user: [movie, ...]}``) with ``<split>_y.json``
(``{user: [rating, ...]}`` in the same order), ``movies_extrainfos.dat``
(``id::title::year::rated::released::genres::director::writers::actors::plot[::poster]``) and
``users.dat`` (``user::gender::age::occupation::zip``; the zip code is not loaded).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd

from kg.errors import DataError
from kg.tables import make_tables
from loaders.base import (
    Dataset,
    check_unique,
    parse_float,
    parse_id,
    read_records,
    require_file,
)

SPLITS = ("meta_training", "warm_up", "user_cold_testing", "item_cold_testing",
          "user_and_item_cold_testing")
SCENARIO = "movies"
_PAREN = re.compile(r"\s*\([^)]*\)")
_MISSING = {"", "N/A"}


def _names(field: str, limit: int | None = None) -> list[str]:
    out = []
    for part in field.split(","):
        name = _PAREN.sub("", part).strip()
        if name not in _MISSING and name not in out:
            out.append(name)
    return out[:limit]


def _read_movies(path: Path, max_actors: int) -> tuple[list[str], list[tuple[str, str, str]]]:
    ids, attrs, lines = [], [], []
    for line, f in read_records(path, "::", 10, max_fields=11, encoding="utf-8"):
        mid = str(parse_id(f[0], path, line, "movie id"))
        ids.append(mid)
        lines.append(line)
        year = f[2].strip()
        if year.isdigit():
            attrs.append((mid, "year", year))
            attrs.append((mid, "decade", f"{year[:3]}0s"))
        if f[3].strip() not in _MISSING:
            attrs.append((mid, "rated", f[3].strip()))
        for kind, field, limit in (("genre", f[5], None), ("director", f[6], None),
                                   ("writer", f[7], None), ("actor", f[8], max_actors)):
            attrs.extend((mid, kind, v) for v in _names(field, limit))
    check_unique(ids, lines, path, "movie id")
    return ids, attrs


def _read_users(path: Path) -> tuple[list[str], list[tuple[str, str, str]]]:
    ids, attrs, lines = [], [], []
    for line, f in read_records(path, "::", 5):
        uid = str(parse_id(f[0], path, line, "user id"))
        ids.append(uid)
        lines.append(line)
        for kind, value in (("gender", f[1]), ("age", f[2]), ("occupation", f[3])):
            if not value.strip():
                raise DataError(f"{kind} of user {uid} is empty", source=str(path), line=line)
            attrs.append((uid, kind, value))
    check_unique(ids, lines, path, "user id")
    return ids, attrs


def _read_split(root: Path, split: str) -> pd.DataFrame:
    fx, fy = require_file(root / f"{split}.json"), require_file(root / f"{split}_y.json")
    try:
        xs, ys = json.loads(fx.read_text("utf-8")), json.loads(fy.read_text("utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"not valid UTF-8 JSON: {exc}", source=f"{fx} / {fy}") from None
    if set(xs) != set(ys):
        raise DataError(f"users differ between {fx.name} and {fy.name}", source=str(fy))
    rows = []
    for user, movies in xs.items():
        ratings = ys[user]
        if len(movies) != len(ratings):
            raise DataError(f"user {user}: {len(movies)} movies but {len(ratings)} ratings",
                            source=str(fy))
        for m, r in zip(movies, ratings, strict=True):
            rows.append((str(user), str(m), parse_float(str(r), fy, 1, f"rating of user {user}")))
    return pd.DataFrame(rows, columns=["user_id", "item_id", "weight"]).assign(split=split)


def load_ml1m(path: str | Path, max_actors: int = 5, user_attributes: bool = True) -> Dataset:
    """Load the MetaHIN MovieLens-1M cold-start splits.

    Args:
        path: folder of the MetaHIN files.
        max_actors: actors kept per movie (the billing order of the file).
        user_attributes: load gender, age and occupation as user attribute nodes.

    Returns:
        :class:`Dataset` with one scenario ``movies``, item attributes genre, director, writer,
        actor, rated, year and decade, and the five MetaHIN splits. Ids are ``m<id>``/``u<id>``.
        A (user, movie) pair listed twice in one split (4 pairs in the MetaHIN files) is kept
        once, its last rating winning; a pair in two different splits is an error.
    """
    root = Path(path)
    movie_ids, movie_attrs = _read_movies(root / "movies_extrainfos.dat", max_actors)
    user_ids, user_attrs = _read_users(root / "users.dat")
    inter = pd.concat([_read_split(root, s) for s in SPLITS], ignore_index=True)
    inter["user_id"] = "u" + inter["user_id"]
    inter["item_id"] = "m" + inter["item_id"]
    dup = inter.duplicated(["user_id", "item_id"], keep="last")
    within = dup & inter.duplicated(["user_id", "item_id", "split"], keep="last")
    inter = inter[~within].reset_index(drop=True)
    dup = inter.duplicated(["user_id", "item_id"])
    if dup.any():
        row = inter[dup].iloc[0]
        raise DataError(f"rating ({row.user_id}, {row.item_id}) appears twice (second in split "
                        f"{row.split})", source=str(root / f"{row.split}.json"))
    for column, known, file, what in (("user_id", {"u" + u for u in user_ids}, "users.dat",
                                       "user"),
                                      ("item_id", {"m" + m for m in movie_ids},
                                       "movies_extrainfos.dat", "movie")):
        unknown = ~inter[column].isin(known)
        if unknown.any():
            row = inter[unknown].iloc[0]
            raise DataError(f"{what} {row[column][1:]} (rated in split {row.split}) is not in "
                            f"{file} ({int(unknown.sum())} ratings in all)",
                            source=str(root / f"{row.split}.json"))
    items = pd.DataFrame({"item_id": ["m" + m for m in movie_ids], "scenario": SCENARIO})
    attrs = pd.DataFrame(movie_attrs, columns=["item_id", "kind", "value"])
    attrs["item_id"] = "m" + attrs["item_id"]
    uattrs = pd.DataFrame(user_attrs if user_attributes else [],
                          columns=["user_id", "kind", "value"])
    uattrs["user_id"] = "u" + uattrs["user_id"]
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": [SCENARIO]}),
        users=pd.DataFrame({"user_id": ["u" + u for u in user_ids]}),
        items=items,
        interactions=inter.assign(scenario=SCENARIO),
        item_attributes=attrs.drop_duplicates(),
        user_attributes=uattrs,
    ).validate()
    return Dataset("ml1m", tables, {"splits": list(SPLITS),
                                    "repeats_collapsed": int(within.sum())})
