"""XMarket (Bonab et al., CIKM 2021; github hamedrab/FOREC): one category in several markets.

Files ``<market>_5core.txt`` with a header ``userId itemId rate date``, space separated. Users are
per market; items are ASINs sold in several markets. Each market is a scenario with its own item
nodes; the same ASIN in two markets is joined by a ``SAME_PRODUCT`` link (the cross-platform
bridge) and shares an ``asin`` attribute node.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pandas as pd

from kg import schema
from kg.errors import ConfigError, DataError
from kg.tables import make_tables
from loaders.base import Dataset, check_token, check_unique, parse_float, read_records

SUFFIX = "_5core.txt"


def load_xmarket(path: str | Path, markets: str | list[str] | None = None,
                 repeats: str = "collapse") -> Dataset:
    """Load XMarket markets as scenarios.

    The files repeat some (user, item) pairs (813 in ca, exact duplicate lines among them).
    The graph holds one interaction per pair, so by default a repeated pair is collapsed into its
    latest line (rating and date); ``info['repeats_collapsed']`` counts them per market.

    Args:
        path: folder of ``<market>_5core.txt`` files.
        markets: markets to load (list or comma-separated); default all files found.
        repeats: ``collapse`` (keep the latest line of a repeated pair) or ``error``.
    """
    if repeats not in ("collapse", "error"):
        raise ConfigError(f"repeats must be 'collapse' or 'error', got {repeats!r}")
    root = Path(path)
    found = sorted(p.name[: -len(SUFFIX)] for p in root.glob(f"*{SUFFIX}"))
    if isinstance(markets, str):
        markets = [m.strip() for m in markets.split(",") if m.strip()]
    markets = markets or found
    unknown = sorted(set(markets) - set(found))
    if not found or unknown:
        raise DataError(f"markets {unknown or markets} have no {SUFFIX} file; found {found}",
                        source=str(root))
    frames = []
    collapsed: dict[str, int] = {}
    for market in markets:
        schema.check_scenario(market)
        f = root / f"{market}{SUFFIX}"
        rows = []
        for line, (u, i, r, d) in read_records(f, None, 4, header=True):
            try:
                ts = int(pd.Timestamp(date.fromisoformat(d)).timestamp())
            except ValueError:
                raise DataError(f"date must be YYYY-MM-DD, got {d!r}", source=str(f),
                                line=line) from None
            check_token(u, f, line, "userId")
            check_token(i, f, line, "itemId")
            rows.append((f"{market}:{u}", f"{market}:{i}", i, parse_float(r, f, line, "rate"),
                         ts, line))
        if repeats == "error":
            check_unique([(r[0], r[1]) for r in rows], [r[5] for r in rows], f, "user-item pair")
        df = pd.DataFrame(rows, columns=["user_id", "item_id", "asin", "weight", "ts", "line"])
        df = df.sort_values(["ts", "line"], kind="stable")
        collapsed[market] = int(df.duplicated(["user_id", "item_id"]).sum())
        df = df.drop_duplicates(["user_id", "item_id"], keep="last").sort_values("line")
        frames.append(df.assign(scenario=market))
    inter = pd.concat(frames, ignore_index=True)
    items = inter[["item_id", "scenario", "asin"]].drop_duplicates("item_id")
    links = []
    for _, group in items.groupby("asin", sort=True):
        ids = sorted(group["item_id"])
        links.extend(itertools.combinations(ids, 2))
    tables = make_tables(
        scenarios=pd.DataFrame({"scenario": markets}),
        users=pd.DataFrame({"user_id": inter["user_id"].unique()}),
        items=items[["item_id", "scenario"]],
        interactions=inter.drop(columns=["asin", "line"]).assign(split="all"),
        item_attributes=items.assign(kind="asin").rename(columns={"asin": "value"})[
            ["item_id", "kind", "value"]],
        item_links=pd.DataFrame(links, columns=["item_id", "other_id"]).assign(
            relation=schema.SAME_PRODUCT),
    ).validate()
    return Dataset("xmarket", tables, {"markets": markets, "repeats_collapsed": collapsed})
