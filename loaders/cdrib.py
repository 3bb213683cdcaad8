"""CDRIB two-domain cold-start format (Cao et al., ICDE 2022; github cjx96/CDRIB).

A pair is two folders ``X_Y`` (domain X) and ``Y_X`` (domain Y), each with ``train.txt``,
``valid.txt`` and ``test.txt`` of ``user<TAB>item`` lines. Item ids are per domain. User ids
below ``C`` (the number of common users, 1 + the largest user id in any valid/test file of the
pair) are the same person in both domains; ids ``>= C`` are different people per domain. So the
loader names users ``u<id>`` below C and ``<domain>:u<id>`` from C on; merging by raw id would
invent about 17,000 false bridges between the domains on the Amazon game/video pair.

Ids are non-negative integers, and every valid/test user must have training interactions in the
other domain (the definition of a common user); lines that break either rule are refused with
their file and line.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from kg.errors import DataError
from kg.tables import make_tables
from loaders.base import Dataset, check_unique, parse_id, read_records

logger = logging.getLogger(__name__)

SPLIT_FILES = ("train", "valid", "test")


def find_pair(path: Path, pair: str | None = None) -> tuple[Path, Path]:
    """The two domain folders of a CDRIB pair under ``path``.

    Args:
        path: a folder holding the two domain folders (``game_video`` and ``video_game``).
        pair: which pair, e.g. ``game_video``, when the folder holds several.
    """
    if not path.is_dir():
        raise DataError("not a folder; give the folder that holds X_Y and Y_X", source=str(path))
    folders = sorted(p for p in path.iterdir() if (p / "train.txt").is_file() and "_" in p.name)
    pairs = []
    for p in folders:
        a, _, b = p.name.partition("_")
        other = path / f"{b}_{a}"
        if a < b and other in folders:
            pairs.append((p, other))
    if pair is not None:
        pairs = [pr for pr in pairs if pair in (pr[0].name, pr[1].name)]
    if len(pairs) != 1:
        names = [f"{a.name}+{b.name}" for a, b in pairs]
        raise DataError(f"expected exactly one CDRIB pair of folders X_Y and Y_X, found {names}; "
                        "pass pair=X_Y to choose", source=str(path))
    return pairs[0]


def _read_pairs(path: Path) -> tuple[list[int], list[int], list[int]]:
    users, items, lines = [], [], []
    for line, (u, i) in read_records(path, "\t", 2):
        users.append(parse_id(u, path, line, "user id"))
        items.append(parse_id(i, path, line, "item id"))
        lines.append(line)
    return users, items, lines


def _check_held_out_users(raw: dict) -> None:
    """Every valid/test user of a domain is a common user: one with training interactions in
    the *other* domain (that is what CDRIB evaluates, and what C is computed from). A line that
    breaks it (a typo, an id of another data set) would silently move C and make thousands of
    users "shared", so it is refused with its file and line."""
    domains = sorted({d for d, _ in raw})
    train_users = {d: set(raw[(d, "train")][0]) for d in domains}
    for (domain, split), (users, _, lines, f) in raw.items():
        if split == "train":
            continue
        other = next(d for d in domains if d != domain)
        for user, line in zip(users, lines, strict=True):
            if user not in train_users[other]:
                raise DataError(f"user {user} of {split}.txt has no training interaction in "
                                f"{other}; CDRIB held-out users are common users, known from "
                                "the other domain", source=str(f), line=line)


def load_cdrib(path: str | Path, pair: str | None = None) -> Dataset:
    """Load a CDRIB pair as a two-scenario knowledge graph.

    Args:
        path: folder holding the pair's two domain folders.
        pair: one folder name of the pair when ``path`` holds several pairs.

    Returns:
        :class:`Dataset` with scenarios named after the domains (``game``, ``video``), splits
        ``train``/``valid``/``test`` and ``info['common_users']`` = C.
    """
    dirs = find_pair(Path(path), pair)
    raw: dict[tuple[str, str], tuple[list[int], list[int], list[int], Path]] = {}
    for d in dirs:
        domain = d.name.split("_")[0]
        for split in SPLIT_FILES:
            f = d / f"{split}.txt"
            raw[(domain, split)] = (*_read_pairs(f), f)

    common = 1 + max(max(raw[k][0]) for k in raw if k[1] != "train")
    frames = []
    for (domain, split), (users, items, lines, f) in raw.items():
        check_unique(list(zip(users, items, strict=True)), lines, f, "user-item pair")
        frames.append(pd.DataFrame({
            "user_id": [f"u{u}" if u < common else f"{domain}:u{u}" for u in users],
            "item_id": [f"{domain}:{i}" for i in items],
            "scenario": domain, "split": split, "line": lines, "file": str(f),
        }))
    inter = pd.concat(frames, ignore_index=True)
    dup = inter.duplicated(["user_id", "item_id"], keep="first")
    if dup.any():
        row = inter[dup].iloc[0]
        raise DataError(f"user-item pair ({row.user_id}, {row.item_id}) appears in two split "
                        "files", source=row.file, line=int(row.line))
    for domain in {k[0] for k in raw}:
        part = inter[inter["scenario"] == domain]
        train_users = set(part.loc[part["split"] == "train", "user_id"])
        held = part[(part["split"] != "train") & part["user_id"].isin(train_users)]
        if len(held):
            row = held.iloc[0]
            raise DataError(f"user {row.user_id} of {row.split}.txt also has training "
                            "interactions in this domain; CDRIB held-out users must be cold-start",
                            source=row.file, line=int(row.line))
    _check_held_out_users(raw)
    inter = inter.drop(columns=["line", "file"])
    items = inter[["item_id", "scenario"]].drop_duplicates("item_id")
    scenarios = sorted(inter["scenario"].unique())
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": scenarios}),
        users=pd.DataFrame({"user_id": inter["user_id"].unique()}),
        items=items,
        interactions=inter,
    ).validate()
    logger.info("cdrib %s: C=%d common users, %d interactions", dirs[0].name, common, len(inter))
    return Dataset("cdrib", tables, {"common_users": common,
                                     "domains": {d.name.split("_")[0]: d.name for d in dirs}})
